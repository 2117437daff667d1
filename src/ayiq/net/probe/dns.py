"""DNS steps: a DNS-over-UDP query that keeps listening for injected extra answers, and the system resolver.

An on-path censor answers faster than the real resolver; a stub resolver takes the first answer and drops
the rest. We take the first answer too (that is what the user's browser sees) but keep listening for
``late_window`` seconds and record every extra answer with the IP TTL it arrived with: two answers to one
query, with different TTLs, are the signature of injection.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)  # Linux value; Python does not export it
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IP_TTL_CMSG = getattr(socket, "IP_TTL", 2)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
MAX_RESPONSES = 16  # a flood of garbage answers must not grow memory


@dataclass(slots=True)
class DNSResult:
    """The query as OONI records it, the extra (late or duplicate) answers, and the addresses found."""

    query: dict[str, Any]
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        return self.query["failure"]  # type: ignore[no-any-return]


def _answers(msg: dns.message.Message, qtype: int) -> tuple[list[dict[str, Any]], list[str]]:
    out: list[dict[str, Any]] = []
    addrs: list[str] = []
    for rrset in msg.answer:
        for rd in rrset:
            if rrset.rdtype == dns.rdatatype.A:
                out.append({"answer_type": "A", "ipv4": rd.address, "ttl": rrset.ttl})
                if qtype == dns.rdatatype.A:
                    addrs.append(rd.address)
            elif rrset.rdtype == dns.rdatatype.AAAA:
                out.append({"answer_type": "AAAA", "ipv6": rd.address, "ttl": rrset.ttl})
                if qtype == dns.rdatatype.AAAA:
                    addrs.append(rd.address)
            elif rrset.rdtype == dns.rdatatype.CNAME:
                out.append({"answer_type": "CNAME", "hostname": rd.target.to_text(), "ttl": rrset.ttl})
    return out, addrs


def _rcode_failure(msg: dns.message.Message) -> str | None:
    rc = msg.rcode()
    if rc == dns.rcode.NOERROR:
        return None
    return {
        dns.rcode.NXDOMAIN: F.DNS_NXDOMAIN,
        dns.rcode.SERVFAIL: F.DNS_SERVFAIL,
        dns.rcode.REFUSED: F.DNS_REFUSED,
    }.get(rc, F.DNS_MISBEHAVING)


def _ip_ttl(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if (level, kind) in ((socket.IPPROTO_IP, IP_TTL_CMSG), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)) and data:
            return int(struct.unpack("i", data[:4].ljust(4, b"\0"))[0]) if len(data) >= 4 else data[0]
    return None


class _Receiver:
    """Reads datagrams with their ancillary data (the IP TTL) from a non-blocking UDP socket."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.sock = sock
        self.queue: asyncio.Queue[tuple[bytes, int | None, float]] = asyncio.Queue(maxsize=MAX_RESPONSES * 4)
        self.loop = loop

    def on_readable(self) -> None:
        while True:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(4) * 2)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP port unreachable and friends: the query just gets no answer
                return
            if self.queue.full():
                continue
            self.queue.put_nowait((data, _ip_ttl(anc), self.loop.time()))


async def udp_query(
    hostname: str,
    qtype: str,
    resolver: tuple[str, int],
    clock: Clock,
    *,
    timeout: float = 4.0,
    late_window: float = 0.5,
    transaction_id: int | None = None,
    tags: Sequence[str] = (),
) -> DNSResult:
    """Ask ``resolver`` over UDP for ``qtype`` records of ``hostname``; listen ``late_window`` s more."""
    rdtype = dns.rdatatype.from_text(qtype)
    tid = transaction_id if transaction_id is not None else clock.transaction_id()
    query = dns.message.make_query(hostname, rdtype, use_edns=False)
    query.flags |= dns.flags.RD
    host, port = resolver
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    entry: dict[str, Any] = {
        "answers": None, "engine": "udp", "failure": None, "hostname": hostname, "query_type": qtype,
        "raw_response": None, "resolver_hostname": None, "resolver_port": None,
        "resolver_address": f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}",
        "t0": clock.now(), "t": None, "tags": list(tags), "transaction_id": tid,
        "x_ip_ttl": None, "x_responses": 0,
    }
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    except OSError:
        pass  # TTLs are a bonus; the query works without them
    rx = _Receiver(sock, loop)
    result = DNSResult(query=entry)
    try:
        sock.connect((host, port))  # the kernel drops datagrams from any other source
        loop.add_reader(sock.fileno(), rx.on_readable)
        try:
            sock.send(query.to_wire())
        except OSError as exc:
            entry["failure"] = F.classify(exc)
            entry["t"] = clock.now()
            return result
        deadline = loop.time() + timeout
        first_at: float | None = None
        wrong_id = malformed = False
        while True:
            until = first_at + late_window if first_at is not None else deadline
            remaining = until - loop.time()
            if remaining <= 0:
                break
            try:
                data, ttl, when = await asyncio.wait_for(rx.queue.get(), remaining)
            except TimeoutError:
                break
            entry["x_responses"] += 1
            try:
                msg = dns.message.from_wire(data, ignore_trailing=True)
            except dns.exception.DNSException:
                malformed = True
                continue
            if msg.id != query.id:
                wrong_id = True
                continue
            if not query.is_response(msg):  # the question does not match ours
                malformed = True
                continue
            answers, addrs = _answers(msg, rdtype)
            failure = _rcode_failure(msg) or (None if addrs else F.DNS_NO_ANSWER)
            t = round(clock.now() - (loop.time() - when), 6)
            if first_at is None:
                first_at = when
                entry.update(answers=answers or None, failure=failure, t=t, x_ip_ttl=ttl,
                             raw_response=base64.b64encode(data).decode())
                result.addresses = addrs
            elif len(result.duplicates) < MAX_RESPONSES:
                dup = dict(entry, answers=answers or None, failure=failure, t=t, x_ip_ttl=ttl,
                           raw_response=base64.b64encode(data).decode())
                dup.pop("x_responses", None)
                result.duplicates.append(dup)
        if first_at is None:
            entry["t"] = clock.now()
            entry["failure"] = (F.DNS_WRONG_QUERY_ID if wrong_id else
                                F.DNS_MISBEHAVING if malformed else F.GENERIC_TIMEOUT)
        return result
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()


_GAI_FAILURES = {
    socket.EAI_NONAME: F.DNS_NXDOMAIN,
    socket.EAI_AGAIN: F.DNS_TEMPORARY,
    socket.EAI_FAIL: F.DNS_NON_RECOVERABLE,
}
if hasattr(socket, "EAI_NODATA"):
    _GAI_FAILURES[socket.EAI_NODATA] = F.DNS_NO_ANSWER


async def system_resolve(
    hostname: str, clock: Clock, *, timeout: float = 5.0, transaction_id: int | None = None,
    tags: Sequence[str] = (),
) -> DNSResult:
    """Resolve with the system resolver (getaddrinfo), recorded as OONI's engine ``getaddrinfo``."""
    tid = transaction_id if transaction_id is not None else clock.transaction_id()
    entry: dict[str, Any] = {
        "answers": None, "engine": "getaddrinfo", "failure": None, "hostname": hostname, "query_type": "ANY",
        "resolver_hostname": None, "resolver_port": None, "resolver_address": "",
        "t0": clock.now(), "t": None, "tags": list(tags), "transaction_id": tid,
    }
    result = DNSResult(query=entry)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(hostname, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout)
    except socket.gaierror as exc:
        entry["failure"] = _GAI_FAILURES.get(exc.errno or 0, F.unknown(str(exc)))
    except (TimeoutError, OSError) as exc:
        entry["failure"] = F.classify(exc)
    else:
        addrs: list[str] = []
        answers: list[dict[str, Any]] = []
        for fam, _t, _p, _c, sa in infos:
            ip = str(sa[0])
            if ip in addrs:
                continue
            addrs.append(ip)
            if fam == socket.AF_INET6:
                answers.append({"answer_type": "AAAA", "ipv6": ip, "ttl": None})
            else:
                answers.append({"answer_type": "A", "ipv4": ip, "ttl": None})
        entry["answers"] = answers or None
        entry["failure"] = None if addrs else F.DNS_NO_ANSWER
        result.addresses = addrs
    entry["t"] = clock.now()
    return result
