"""TTL-limited trigger: which hop reacts to a forbidden request?

Connect normally, then send the trigger (an HTTP request naming the target, or a ClientHello with its SNI)
with the IP TTL set to ``ttl``. A censor at or before that hop sees it and resets, answers or drops; beyond
it the packet dies at a router, which says so with ICMP time-exceeded (read from the socket's error queue,
no raw sockets needed). The smallest TTL at which the reaction appears is where interference starts.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import endpoint

IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
ICMP_TIME_EXCEEDED = 11
_EE = struct.Struct("=IBBBBII")  # struct sock_extended_err


def parse_icmp_error(ancdata: list[tuple[int, int, bytes]]) -> dict[str, Any] | None:
    """The ICMP error in an IP_RECVERR control message: type, code and the router that sent it."""
    for level, kind, data in ancdata:
        if level != socket.IPPROTO_IP or kind != IP_RECVERR or len(data) < _EE.size:
            continue
        _errno, origin, itype, code, _pad, _info, _data = _EE.unpack_from(data)
        if origin != SO_EE_ORIGIN_ICMP:
            continue
        offender = None
        if len(data) >= _EE.size + 8 and struct.unpack_from("=H", data, _EE.size)[0] == socket.AF_INET:
            offender = socket.inet_ntoa(data[_EE.size + 4:_EE.size + 8])
        return {"icmp_type": itype, "icmp_code": code, "router": offender}
    return None


def http_trigger(host: str, path: str = "/") -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n"
            f"Connection: close\r\n\r\n").encode()


def client_hello_trigger(sni: str) -> bytes:
    """A real ClientHello for ``sni``, as the first flight of a TLS connection."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


async def ttl_probe(ip: str, port: int, payload: bytes, ttl: int, clock: Clock, *, timeout: float = 2.0,
                    connect_timeout: float = 5.0, tags: Sequence[str] = ()) -> dict[str, Any]:
    """One connection; the trigger sent with IP TTL ``ttl``. ``outcome``: response, reset, closed, expired
    (ICMP time-exceeded came back), unreachable, timeout, or connect_failed."""
    entry: dict[str, Any] = {"address": endpoint(ip, port), "ttl": ttl, "outcome": None, "failure": None,
                             "icmp": None, "bytes_received": 0, "t0": clock.now(), "t": None, "tags": list(tags)}
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (ip, port)), connect_timeout)
        except (OSError, TimeoutError) as exc:
            entry.update(outcome="connect_failed", failure=F.classify(exc))
            return entry
        entry["x_local_port"] = sock.getsockname()[1]  # to find this flow's packets in a capture
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        try:
            sock.send(payload)
        except OSError as exc:
            entry.update(outcome="reset", failure=F.classify(exc))
            return entry
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:  # the error queue first: an ICMP error also sets the socket error
                _d, anc, _f, _a = sock.recvmsg(512, 512, MSG_ERRQUEUE)
                icmp = parse_icmp_error(anc)
                if icmp is not None:
                    entry["icmp"] = icmp
                    expired = icmp["icmp_type"] == ICMP_TIME_EXCEEDED
                    entry.update(outcome="expired" if expired else "unreachable",
                                 failure=F.GENERIC_TIMEOUT if expired else F.HOST_UNREACHABLE)
                    return entry
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(0.02)
                continue
            except OSError as exc:
                if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                    # TCP reports ICMP time-exceeded as EHOSTUNREACH (without queueing the router's address:
                    # ``udp_hop`` finds that); with a TTL below the path length, it is an expiry
                    entry.update(outcome="expired", failure=F.GENERIC_TIMEOUT, x_errno=errno.errorcode[exc.errno])
                    return entry
                entry.update(outcome="reset" if exc.errno == errno.ECONNRESET else "error", failure=F.classify(exc))
                return entry
            if not data:
                entry.update(outcome="closed", failure=F.EOF_ERROR if not entry["bytes_received"] else None)
                return entry
            entry["bytes_received"] += len(data)
            entry["outcome"] = "response"
            entry["x_first_bytes"] = data[:64].decode("latin-1")
            return entry
        entry.update(outcome="timeout", failure=F.GENERIC_TIMEOUT)
        return entry
    finally:
        try:  # the closing FIN must not expire too: routers rate-limit ICMP, keep it for the probes
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
        except OSError:
            pass
        sock.close()
        entry["t"] = clock.now()


async def udp_hop(ip: str, ttl: int, *, port: int = 33434, timeout: float = 1.0) -> str | None:
    """The router at ``ttl`` hops towards ``ip`` (tracepath's way: a UDP datagram and the error queue)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.connect((ip, port + ttl))
        sock.send(b"ayiq-ttl-probe")
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                _d, anc, _f, _a = sock.recvmsg(512, 512, MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                await asyncio.sleep(0.01)
                continue
            except OSError:
                return None
            icmp = parse_icmp_error(anc)
            if icmp is not None:
                return icmp["router"] if icmp["icmp_type"] == ICMP_TIME_EXCEEDED else None
        return None
    finally:
        sock.close()
