"""Loopback servers for tests, demos and benchmarks: a DNS server, web servers and hostile behaviours.

Everything here binds 127.0.0.1 on ephemeral ports and talks only to what connects to it. The hostile
servers (junk TLS, never closing, endless redirects, endless body, garbage DNS) are what the probe must
survive; the SNI filter is a tiny stand-in for a censor that drops ClientHellos naming a blocked host.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from ayiq.core.streams import send_repeated

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


# --- certificates -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertFiles:
    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


def make_certs(folder: Path, names: list[str], *, ca_name: str = "Ayiq Loopback Test CA") -> CertFiles:
    """A throwaway CA and one leaf certificate for ``names`` (DNS names or IPs), written under ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    stem = names[0].replace("*", "star")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / f"{stem}.pem", folder / f"{stem}.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return CertFiles(str(ca_file), str(cert_file), str(key_file))


# --- DNS ------------------------------------------------------------------------------------------------


@dataclass
class DNSZone:
    """Answers for the loopback resolver. Names are lower-case without the trailing dot."""

    a: dict[str, list[str]] = field(default_factory=dict)
    aaaa: dict[str, list[str]] = field(default_factory=dict)
    nxdomain: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)  # never answered (a resolver-side drop)
    garbage: set[str] = field(default_factory=set)  # answered with random bytes
    wrong_id: set[str] = field(default_factory=set)  # answered with a different transaction id
    # name -> (forged A answers, IP TTL of the forged packet): sent at once, the real answer follows later
    inject: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    real_delay: float = 0.05  # how long the "real" resolver takes when an injector races it
    ttl: int = 300


class _DNSProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: DNSZone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def _answer(self, q: dns.message.Message, addrs: list[str] | None, rcode: dns.rcode.Rcode = dns.rcode.NOERROR) -> bytes:
        r = dns.message.make_response(q)
        r.set_rcode(rcode)
        question = q.question[0]
        if addrs:
            r.answer.append(dns.rrset.from_text_list(question.name, self.zone.ttl, "IN",
                                                     dns.rdatatype.to_text(question.rdtype), addrs))
        return r.to_wire()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.queries += 1
        try:
            q = dns.message.from_wire(data)
            question = q.question[0]
        except Exception:  # noqa: BLE001 - a loopback test server ignores junk
            return
        name = question.name.to_text().rstrip(".").lower()
        z = self.zone
        if name in z.silent:
            return
        if name in z.garbage:
            self.transport.sendto(os.urandom(48), addr)
            return
        if name in z.wrong_id:
            r = dns.message.make_response(q)
            r.id = (q.id + 1) % 65536
            self.transport.sendto(r.to_wire(), addr)
            return
        if name in z.nxdomain:
            self.transport.sendto(self._answer(q, None, dns.rcode.NXDOMAIN), addr)
            return
        if name in z.servfail:
            self.transport.sendto(self._answer(q, None, dns.rcode.SERVFAIL), addr)
            return
        table = z.a if question.rdtype == dns.rdatatype.A else z.aaaa if question.rdtype == dns.rdatatype.AAAA else {}
        real = self._answer(q, table.get(name))
        if name in z.inject and question.rdtype == dns.rdatatype.A:
            forged, ip_ttl = z.inject[name]
            sock = self.transport.get_extra_info("socket")
            old = sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ip_ttl)
            try:
                self.transport.sendto(self._answer(q, forged), addr)
            finally:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, old)
            asyncio.get_running_loop().call_later(z.real_delay, self.transport.sendto, real, addr)
            return
        self.transport.sendto(real, addr)


async def start_dns(zone: DNSZone) -> tuple[asyncio.DatagramTransport, _DNSProtocol, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _DNSProtocol(zone), local_addr=(LOOPBACK, 0))
    port = transport.get_extra_info("sockname")[1]
    return transport, proto, port


# --- web servers and hostile behaviours -----------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def page(title: str, body: str = "") -> bytes:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body or title}</body></html>".encode()


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    _method, target, _ver = (lines[0].split(" ") + ["", "", ""])[:3]
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return target, hdrs


def _response(code: int, body: bytes, extra: str = "", reason: str = "OK") -> bytes:
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"Server: ayiq-loopback\r\nConnection: close\r\n{extra}\r\n").encode() + body


def web_handler(pages: dict[str, bytes] | None = None) -> Handler:
    """A small web server: ``pages`` by path, plus hostile paths.

    ``/redirect-loop`` redirects to itself forever; ``/endless`` sends a chunked body that never ends;
    ``/hang`` sends headers and then nothing, never closing; ``/reset`` resets the connection;
    ``/big/<n>`` sends n bytes; anything else in ``pages`` or a 404.
    """
    pages = pages or {"/": page("Loopback home")}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target, _hdrs = await _read_head(reader)
            path = target.split("?", 1)[0]
            if path == "/redirect-loop":
                writer.write(_response(302, b"", "Location: /redirect-loop\r\n", "Found"))
            elif path.startswith("/redirect-to/"):
                # /redirect-to/<path> or /redirect-to/http://host:port/...: an absolute URL elsewhere
                loc = path.removeprefix("/redirect-to")
                loc = loc[1:] if loc.startswith(("/http://", "/https://")) else loc
                writer.write(_response(302, b"", f"Location: {loc}\r\n", "Found"))
            elif path == "/endless":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"x" * 65536
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                await send_repeated(writer, frame, None)
            elif path == "/hang":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><title>hang</title>")
                await writer.drain()
                await asyncio.sleep(3600)
            elif path == "/reset":
                _reset(writer)
                return
            elif path.startswith("/big/"):
                n = int(path.removeprefix("/big/"))
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n".encode())
                await send_repeated(writer, b"y" * 65536, n)
            elif path in pages:
                writer.write(_response(200, pages[path]))
            else:
                writer.write(_response(404, page("Not found"), reason="Not Found"))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ssl.SSLError,
                asyncio.CancelledError):  # cancelled when the test's loop shuts down
            pass
        finally:
            writer.close()

    return handle


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def silent_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, reads whatever comes, answers nothing and never closes (a blackholing middlebox)."""
    try:
        while await reader.read(65536):
            pass
        await asyncio.sleep(3600)
    except (OSError, asyncio.CancelledError):  # cancelled when the test's loop shuts down
        pass
    finally:
        writer.close()


async def reset_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Resets the connection as soon as the first bytes arrive (RST injection after the ClientHello)."""
    try:
        await reader.read(1)
    except OSError:
        pass
    _reset(writer)


async def junk_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers any client bytes with random junk, like a broken or hostile TLS server."""
    try:
        await reader.read(65536)
        writer.write(os.urandom(4096))
        await writer.drain()
        await asyncio.sleep(0.2)
    except OSError:
        pass
    finally:
        writer.close()


def client_hello_sni(data: bytes) -> str | None:
    """The server_name in a TLS ClientHello record, or None (no SNI, not a ClientHello, or truncated)."""
    try:
        if len(data) < 5 or data[0] != 0x16:
            return None
        p = 5
        if data[p] != 0x01:
            return None
        p += 4 + 2 + 32  # handshake header, version, random
        p += 1 + data[p]  # session id
        p += 2 + int.from_bytes(data[p:p + 2], "big")  # cipher suites
        p += 1 + data[p]  # compression methods
        end = p + 2 + int.from_bytes(data[p:p + 2], "big")
        p += 2
        while p + 4 <= end:
            etype, elen = int.from_bytes(data[p:p + 2], "big"), int.from_bytes(data[p + 2:p + 4], "big")
            if etype == 0:
                q = p + 4 + 2
                if data[q] == 0:
                    n = int.from_bytes(data[q + 1:q + 3], "big")
                    return data[q + 3:q + 3 + n].decode("ascii", "replace").lower()
            p += 4 + elen
    except IndexError:
        return None
    return None


def sni_filter(upstream: tuple[str, int], blocked: set[str], action: str = "drop") -> Handler:
    """A TCP relay to ``upstream`` that drops (or resets) connections whose ClientHello names a blocked host."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.read(16384), 10)
            if client_hello_sni(first) in blocked:
                if action == "reset":
                    _reset(writer)
                    return
                await silent_handler(reader, writer)
                return
            ur, uw = await asyncio.open_connection(*upstream)
            uw.write(first)

            async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                try:
                    while data := await r.read(65536):
                        w.write(data)
                        await w.drain()
                except OSError:
                    pass
                finally:
                    w.close()

            await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        except (OSError, TimeoutError, asyncio.CancelledError):
            writer.close()

    return handle


async def start_tcp(handler: Handler, ssl_ctx: ssl.SSLContext | None = None, host: str = LOOPBACK,
                    port: int = 0) -> tuple[asyncio.Server, int]:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"loopback servers bind loopback addresses only, not {host}")
    server = await asyncio.start_server(handler, host, port, ssl=ssl_ctx,
                                        ssl_handshake_timeout=5 if ssl_ctx else None)
    return server, server.sockets[0].getsockname()[1]


# --- a background loop, for tests that drive a synchronous CLI --------------------------------------------


class LoopThread:
    """An event loop in a daemon thread; ``run(coro)`` executes a coroutine on it and returns its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ayiq-loopback", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def close(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(_cancel_all(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- UDP: a lossy or blackholing middlebox in front of a relay ------------------------------------------


class UDPDropper(asyncio.DatagramProtocol):
    """Forwards datagrams to ``upstream`` and the answers back, dropping those ``drop(data, n)`` selects."""

    def __init__(self, upstream: tuple[str, int], drop: Callable[[bytes, int], bool]) -> None:
        self.upstream, self.drop = upstream, drop
        self.transport: asyncio.DatagramTransport | None = None
        self.seen = 0
        self.links: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen += 1
        if self.drop(data, self.seen):
            return
        link = self.links.get(addr)
        if link is not None:
            link.sendto(data)
            return
        asyncio.get_running_loop().create_task(self._open(addr, data))

    async def _open(self, addr: tuple[str, int], first: bytes) -> None:
        outer = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _a: tuple[str, int]) -> None:
                if outer.transport is not None:
                    outer.transport.sendto(data, addr)

        link, _ = await asyncio.get_running_loop().create_datagram_endpoint(Back, remote_addr=self.upstream)
        self.links[addr] = link
        link.sendto(first)

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        if self.transport is not None:
            self.transport.close()


async def start_udp_dropper(upstream: tuple[str, int], drop: Callable[[bytes, int], bool]) -> tuple[UDPDropper, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: UDPDropper(upstream, drop),
                                                           local_addr=(LOOPBACK, 0))
    return proto, int(transport.get_extra_info("sockname")[1])


def sni_throttle(upstream: tuple[str, int], throttled: set[str], *, link_bps: float, throttle_bps: float,
                 mode: str = "shaper") -> Handler:
    """A relay whose downstream is a ``link_bps`` link; flows whose ClientHello names a throttled host get
    ``throttle_bps``, smoothly (``shaper``) or as bursts and stalls (``policer``: a token bucket of 1 s, emptied in bursts)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.read(16384), 10)
            hit = client_hello_sni(first) in throttled
            rate = throttle_bps / 8 if hit else link_bps / 8
            ur, uw = await asyncio.open_connection(*upstream)
            uw.write(first)

            async def up() -> None:
                try:
                    while data := await reader.read(65536):
                        uw.write(data)
                        await uw.drain()
                except OSError:
                    pass

            async def down() -> None:
                loop = asyncio.get_running_loop()
                policer = hit and mode == "policer"
                # token bucket: a shaper's is shallow (50 ms), a policer's deep (1 s) and emptied at once
                depth = rate * (1.0 if policer else 0.05)
                budget, last = depth, loop.time()
                try:
                    while True:
                        now = loop.time()
                        budget = min(depth, budget + (now - last) * rate)
                        last = now
                        if budget < 16384:
                            # a shaper waits for just enough tokens; a policer for a full bucket (a stall)
                            await asyncio.sleep(((depth if policer else 16384) - budget) / rate)
                            continue
                        data = await ur.read(int(min(65536, budget)))
                        if not data:
                            break
                        budget -= len(data)
                        writer.write(data)
                        await writer.drain()
                except OSError:
                    pass
                finally:
                    writer.close()

            await asyncio.gather(up(), down())
        except (OSError, TimeoutError, asyncio.CancelledError):
            writer.close()

    return handle
