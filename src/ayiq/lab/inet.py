"""The lab's "internet": web servers, a DNS resolver, messaging endpoints and voice relays, in one process.

Runs inside the lab's inet namespace (`python -m ayiq.lab.inet CONFIG`); prints "ready" once every socket
is bound. Port 80 speaks HTTP, 443 HTTPS (lab CA), 3478/udp STUN; other ports echo. The resolver answers on
UDP and TCP 53.
"""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import socket
import ssl
import struct
import sys
from pathlib import Path
from typing import Any, cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ayiq.core.streams import send_repeated

STUN_COOKIE = 0x2112A442
MAX_BYTES = 200_000_000
_CHUNK = b"\0" * 65536


def stun_reply(data: bytes, addr: tuple[str, int]) -> bytes | None:
    """An RFC 5389 Binding success response with XOR-MAPPED-ADDRESS, or None if not a Binding request."""
    if len(data) < 20:
        return None
    mtype, length, cookie = struct.unpack_from("!HHI", data)
    if mtype != 0x0001 or cookie != STUN_COOKIE or len(data) < 20 + length:
        return None
    txid = data[8:20]
    ip = struct.unpack("!I", socket.inet_aton(addr[0]))[0] ^ STUN_COOKIE
    port = addr[1] ^ (STUN_COOKIE >> 16)
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, port, ip)
    return struct.pack("!HHI", 0x0101, len(attr), STUN_COOKIE) + txid + attr


def page(host: str) -> bytes:
    return (f"<!doctype html><html><head><title>{host}</title></head>"
            f"<body><h1>{host}</h1><p>Served by the Ayiq lab.</p></body></html>").encode()


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        path = line[1] if len(line) >= 2 else "/"
        host = "lab"
        for h in head.split(b"\r\n")[1:]:
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"host":
                host = v.strip().decode("latin-1").split(":")[0]
        if path.startswith("/bytes/") and path[7:].isdigit() and int(path[7:]) <= MAX_BYTES:
            n = int(path[7:])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % n)
            await send_repeated(writer, _CHUNK, n)
        else:
            body = page(host)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: ayiq-lab\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await asyncio.wait_for(reader.read(65536), 30):
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, stun: bool) -> None:
        self.stun = stun
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = stun_reply(data, addr) if self.stun else None
        if self.transport is not None:
            self.transport.sendto(reply if reply is not None else data, addr)


class Resolver:
    """Authoritative answers for the lab's names (A records); NXDOMAIN for anything else."""

    def __init__(self, zone: dict[str, str]) -> None:
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}

    def answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # malformed input from the network: ignore it, as resolvers do
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        q = query.question[0]
        name = q.name.to_text().lower().rstrip(".")
        if name not in self.zone:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif q.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(q.name, 60, dns.rdataclass.IN, dns.rdatatype.A,
                                                       self.zone[name]))
        return response.to_wire()


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.resolver.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def _dns_tcp(resolver: Resolver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """DNS over TCP (RFC 1035 4.2.2): two-byte length, then the message; several per connection."""
    try:
        while True:
            size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 10))[0]
            reply = resolver.answer(await asyncio.wait_for(reader.readexactly(size), 10))
            if reply is None:
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


async def serve(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(config["cert"], config["key"])
    servers: list[Any] = []
    for t in config["targets"]:
        for port in t["tcp_ports"]:
            if port == 80:
                servers.append(await asyncio.start_server(_http, t["address"], port))
            elif port == 443 and t["kind"] != "relay":
                servers.append(await asyncio.start_server(_http, t["address"], port, ssl=tls))
            else:
                servers.append(await asyncio.start_server(_echo, t["address"], port))
        for port in t["udp_ports"]:
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_Udp, stun=port == 3478), local_addr=(t["address"], port))
            servers.append(transport)
    resolver = Resolver(config["zone"])
    transport, _ = await loop.create_datagram_endpoint(lambda: _DnsUdp(resolver),
                                                       local_addr=(config["resolver"], 53))
    servers.append(transport)
    servers.append(await asyncio.start_server(functools.partial(_dns_tcp, resolver), config["resolver"], 53))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for s in servers:
        s.close()


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
