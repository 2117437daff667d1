"""STUN binding (RFC 5389) over UDP: is the path that voice and video calls use for NAT traversal open?

The answer's XOR-MAPPED-ADDRESS is the probe's public address: it is checked for presence and then
dropped, never recorded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import struct
from collections.abc import Sequence
from typing import Any

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import endpoint

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
XOR_MAPPED_ADDRESS = 0x0020
MAPPED_ADDRESS = 0x0001


def binding_request(txid: bytes) -> bytes:
    return struct.pack("!HHI", BINDING_REQUEST, 0, MAGIC_COOKIE) + txid


def binding_response(request: bytes, addr: tuple[str, int]) -> bytes | None:
    """A server's success answer to ``request`` from ``addr`` (with XOR-MAPPED-ADDRESS), or None if not STUN."""
    if len(request) < 20:
        return None
    mtype, _length, cookie = struct.unpack("!HHI", request[:8])
    if mtype != BINDING_REQUEST or cookie != MAGIC_COOKIE:
        return None
    txid = request[8:20]
    ip = ipaddress.ip_address(addr[0])
    xport = addr[1] ^ (MAGIC_COOKIE >> 16)
    if ip.version == 4:
        xaddr = int(ip) ^ MAGIC_COOKIE
        value = struct.pack("!BBHI", 0, 1, xport, xaddr)
    else:
        key = int.from_bytes(struct.pack("!I", MAGIC_COOKIE) + txid, "big")
        value = struct.pack("!BBH", 0, 2, xport) + (int(ip) ^ key).to_bytes(16, "big")
    attr = struct.pack("!HH", XOR_MAPPED_ADDRESS, len(value)) + value
    return struct.pack("!HHI", BINDING_SUCCESS, len(attr), MAGIC_COOKIE) + txid + attr


def parse_binding_success(data: bytes, txid: bytes) -> bool | None:
    """True: a success answer to our transaction carrying a mapped address; False: ours but no address;
    None: not an answer to our request (ignored)."""
    if len(data) < 20:
        return None
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE or data[8:20] != txid or mtype != BINDING_SUCCESS:
        return None
    p, end = 20, min(len(data), 20 + length)
    while p + 4 <= end:
        atype, alen = struct.unpack("!HH", data[p:p + 4])
        if atype in (XOR_MAPPED_ADDRESS, MAPPED_ADDRESS) and alen >= 8:
            return True
        p += 4 + alen + (-alen % 4)
    return False


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue(maxsize=256)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.queue.full():
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if not self.queue.full():
            self.queue.put_nowait(exc)


async def stun_binding(ip: str, port: int, clock: Clock, *, timeout: float = 3.0, rto: float = 0.5,
                       tags: Sequence[str] = ()) -> dict[str, Any]:
    """One binding transaction with RFC 5389 retransmissions (rto, 2rto, ...) until ``timeout``."""
    entry: dict[str, Any] = {"endpoint": endpoint(ip, port), "failure": None, "t0": clock.now(), "t": None,
                             "tags": list(tags), "x_rtt": None, "x_requests_sent": 0,
                             "x_mapped_address_present": None}
    txid = os.urandom(12)
    req = binding_request(txid)
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await loop.create_datagram_endpoint(_Collector, remote_addr=(ip, port))
    except OSError as exc:
        entry["failure"] = F.classify(exc)
        entry["t"] = clock.now()
        return entry
    try:
        deadline = loop.time() + timeout
        wait = rto
        sent_at = loop.time()
        while loop.time() < deadline:
            transport.sendto(req)
            entry["x_requests_sent"] += 1
            if entry["x_requests_sent"] == 1:
                sent_at = loop.time()
            until = min(deadline, loop.time() + wait)
            while (left := until - loop.time()) > 0:
                try:
                    got = await asyncio.wait_for(proto.queue.get(), left)
                except TimeoutError:
                    break
                if isinstance(got, Exception):
                    entry["failure"] = F.classify(got)
                    return entry
                ok = parse_binding_success(got, txid)
                if ok is not None:
                    entry["x_rtt"] = round(loop.time() - sent_at, 6)
                    entry["x_mapped_address_present"] = ok
                    return entry
            wait *= 2
        entry["failure"] = F.GENERIC_TIMEOUT
        return entry
    finally:
        transport.close()
        if entry["t"] is None:
            entry["t"] = clock.now()
