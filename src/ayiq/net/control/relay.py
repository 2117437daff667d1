"""The UDP relay a control (or a domestic helper) offers for the voice test: STUN binding answers and an echo
of tagged stream packets. Bounded: at most ``rate`` packets per second per source address, no state kept
beyond the rate limiter's LRU, replies never larger than the request (no amplification).
"""

from __future__ import annotations

import asyncio

from ayiq.net.control.server import RateLimiter
from ayiq.net.probe.stun import binding_response
from ayiq.net.probe.udp import HEADER, STREAM_MAGIC


class RelayProtocol(asyncio.DatagramProtocol):
    def __init__(self, tag: bytes, rate: float = 200.0, burst: float = 400.0) -> None:
        self.tag = tag
        self.limiter = RateLimiter(rate, burst, 10_000)
        self.transport: asyncio.DatagramTransport | None = None
        self.echoed = self.stun_answers = self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or not self.limiter.allow(addr[0]):
            self.dropped += 1
            return
        if data[:4] == STREAM_MAGIC and len(data) >= HEADER.size and data[4:12] == self.tag:
            self.transport.sendto(data, addr)
            self.echoed += 1
            return
        answer = binding_response(data, (addr[0], addr[1]))
        if answer is not None and len(answer) <= max(len(data), 44):
            self.transport.sendto(answer, addr)
            self.stun_answers += 1
        else:
            self.dropped += 1


async def start_relay(host: str, port: int, tag: bytes, rate: float = 200.0) -> tuple[
        asyncio.DatagramTransport, RelayProtocol, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: RelayProtocol(tag, rate, rate * 2),
                                                           local_addr=(host, port))
    return transport, proto, int(transport.get_extra_info("sockname")[1])
