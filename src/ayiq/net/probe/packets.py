"""Injected-packet traits: the IP TTL and IP-ID of the server's SYN-ACK vs the RSTs that end a connection.

A censor that injects a RST sits fewer hops away than the server and has its own IP-ID counter, so its
packets arrive with a different TTL (and IP-ID pattern) than the server's. Seeing IP headers needs a packet
socket, hence root (or CAP_NET_RAW); without it ``PacketWatch`` records why it saw nothing.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from types import TracebackType
from typing import Any

ETH_P_IP = 0x0800
MAX_PACKETS = 64
SYN, RST, ACK = 0x02, 0x04, 0x10


def parse_ipv4_tcp(pkt: bytes) -> dict[str, Any] | None:
    """Fields of an IPv4/TCP packet that tell who sent it; None for anything else."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    if pkt[9] != socket.IPPROTO_TCP or len(pkt) < ihl + 14:
        return None
    ip_id = struct.unpack_from("!H", pkt, 4)[0]
    sport, dport = struct.unpack_from("!HH", pkt, ihl)
    flags = pkt[ihl + 13]
    return {"src": socket.inet_ntoa(pkt[12:16]), "dst": socket.inet_ntoa(pkt[16:20]), "sport": sport,
            "dport": dport, "ttl": pkt[8], "ip_id": ip_id, "flags": flags,
            "df": bool(struct.unpack_from("!H", pkt, 6)[0] & 0x4000)}


class _Tap:
    """One packet socket per event loop, shared by every watch running on it (100 concurrent measurements
    must not mean 100 sockets each copying every packet)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self.loop, self.sock = loop, sock
        self.watches: set[PacketWatch] = set()
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(addr) >= 3 and addr[2] == socket.PACKET_OUTGOING:
                continue
            p = parse_ipv4_tcp(data)
            if p is None or not p["flags"] & (RST | SYN) or (p["flags"] & SYN and not p["flags"] & ACK):
                continue
            for w in self.watches:
                if p["src"] in w.servers and len(w.packets) < MAX_PACKETS:
                    w.packets.append(dict(p, kind="rst" if p["flags"] & RST else "syn_ack",
                                          t=round(time.monotonic() - w.start, 6)))

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


_taps: dict[int, _Tap] = {}


class PacketWatch:
    """Records SYN-ACKs and RSTs arriving from ``servers`` while the ``async with`` block runs."""

    def __init__(self, servers: set[str]) -> None:
        self.servers = servers
        self.packets: list[dict[str, Any]] = []
        self.error: str | None = None
        self.start = 0.0
        self._tap: _Tap | None = None

    async def __aenter__(self) -> PacketWatch:
        self.start = time.monotonic()
        loop = asyncio.get_running_loop()
        tap = _taps.get(id(loop))
        if tap is None:
            try:
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
            except (OSError, AttributeError) as exc:  # not root, or not Linux
                self.error = f"no packet capture ({exc.__class__.__name__}: {exc}); run as root to see IP TTL/IP-ID"
                return self
            sock.setblocking(False)
            tap = _taps[id(loop)] = _Tap(loop, sock)
        tap.watches.add(self)
        self._tap = tap
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._tap is None:
            return
        await asyncio.sleep(0.05)  # let the last packets in
        self._tap.watches.discard(self)
        if not self._tap.watches:
            self._tap.close()
            _taps.pop(id(self._tap.loop), None)
        self._tap = None

    def traits(self) -> dict[str, Any]:
        """``{packets, rst_ttl_mismatch, error}``: a RST whose TTL differs from the same server's SYN-ACK."""
        syn_ttls = {(p["src"], p["sport"]): p["ttl"] for p in self.packets if p["kind"] == "syn_ack"}
        mismatch: bool | None = None
        for p in self.packets:
            if p["kind"] == "rst":
                ref = next((ttl for (src, port), ttl in syn_ttls.items() if src == p["src"] and port == p["sport"]),
                           None)
                if ref is not None:
                    mismatch = bool(mismatch) or ref != p["ttl"]
        return {"packets": [{k: v for k, v in p.items() if k != "dst"} for p in self.packets],
                "rst_ttl_mismatch": mismatch, "error": self.error}
