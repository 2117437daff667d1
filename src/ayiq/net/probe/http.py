"""HTTP(S) GET step (h11 framing over our own stream) and a bounded redirect-following fetch.

Every limit is explicit: header size (h11), body bytes kept, time per hop, number of hops. A server that
never closes, drips bytes, sends 10 GB or redirects forever ends as a failure string or a truncated body,
never a hang.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import h11

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import Stream, tcp_connect
from ayiq.net.probe.tls import tls_handshake

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("User-Agent", USER_AGENT),
)
MAX_BODY = 1 << 20
MAX_REDIRECTS = 10
MAX_HEADER_BYTES = 64 * 1024
REDIRECT_CODES = {301, 302, 303, 307, 308}
TITLE_RE = re.compile(rb"(?is)<title[^>]*>([^<]{1,512})</title>")


def body_field(data: bytes) -> str | dict[str, str]:
    """OONI's MaybeBinaryValue: text as a string, anything else as base64."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"format": "base64", "data": base64.b64encode(data).decode()}


def title_of(body: bytes) -> str:
    m = TITLE_RE.search(body)
    return " ".join(m.group(1).decode("utf-8", "replace").split()) if m else ""


def host_header(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _empty_response() -> dict[str, Any]:
    return {"body": None, "body_is_truncated": False, "code": 0, "headers_list": [], "headers": {}}


async def http_get(
    stream: Stream, url: str, clock: Clock, *, timeout: float = 10.0, max_body: int = MAX_BODY,
    headers: Sequence[tuple[str, str]] = DEFAULT_HEADERS, alpn: str = "", transaction_id: int | None = None,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """One GET over an open stream; OONI's ``requests`` entry (response body bounded by ``max_body``)."""
    tid = transaction_id if transaction_id is not None else clock.transaction_id()
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req_headers = [("Host", host_header(url)), *headers]
    entry: dict[str, Any] = {
        "network": "tcp", "address": stream.address, "alpn": alpn, "failure": None,
        "request": {"body": "", "body_is_truncated": False, "headers_list": [list(h) for h in req_headers],
                    "headers": dict(req_headers), "method": "GET",
                    "tor": {"exit_ip": None, "exit_name": None, "is_tor": False},
                    "x_transport": "tcp", "url": url},
        "response": _empty_response(), "t0": clock.now(), "t": None, "tags": list(tags),
        "transaction_id": tid, "x_body_length": 0,
    }
    body = bytearray()

    async def transact() -> None:
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        await stream.write(conn.send(h11.Request(method="GET", target=target, headers=req_headers)))
        await stream.write(conn.send(h11.EndOfMessage()))
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.read()
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                hl = [[k.decode("latin-1").title(), v.decode("latin-1")] for k, v in event.headers]
                entry["response"].update(code=event.status_code, headers_list=hl, headers={k: v for k, v in hl})
            elif isinstance(event, h11.Data):
                room = max_body - len(body)
                body.extend(event.data[:room])
                if len(event.data) > room:
                    entry["response"]["body_is_truncated"] = True
                    return
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return
            elif isinstance(event, h11.InformationalResponse):
                continue

    try:
        await asyncio.wait_for(transact(), timeout)
    except h11.RemoteProtocolError as exc:
        # a peer that closes before the response or mid-body is an unexpected EOF; the rest is malformed
        closed = "ConnectionClosed" in str(exc) or "peer closed" in str(exc)
        entry["failure"] = F.EOF_ERROR if closed else F.unknown(f"malformed HTTP response: {exc}")
    except (OSError, TimeoutError, EOFError, ssl.SSLError) as exc:
        entry["failure"] = F.classify(exc)
    if entry["response"]["code"] or body:
        entry["response"]["body"] = body_field(bytes(body))
    entry["x_body_length"] = len(body)
    entry["t"] = clock.now()
    return entry


Resolve = Callable[[str], Awaitable[tuple[list[str], str | None]]]  # name -> (addresses, DNS failure)


@dataclass(slots=True)
class FetchResult:
    """A fetch with its redirects: requests newest first (as OONI), plus the connects/handshakes it made."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    tcp_connect: list[dict[str, Any]] = field(default_factory=list)
    tls_handshakes: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    body: bytes = b""

    @property
    def final(self) -> dict[str, Any] | None:
        return self.requests[0] if self.requests else None


async def fetch(
    url: str, clock: Clock, *, resolve: Resolve, tls_context: ssl.SSLContext, addresses: Sequence[str] = (),
    timeout: float = 10.0, connect_timeout: float = 10.0, max_body: int = MAX_BODY,
    max_redirects: int = MAX_REDIRECTS, headers: Sequence[tuple[str, str]] = DEFAULT_HEADERS,
    refuse: Callable[[str], str | None] | None = None,
) -> FetchResult:
    """GET ``url`` following at most ``max_redirects`` redirects, each hop on a fresh connection.

    ``addresses`` are tried for the first hop (the ones the DNS step found); later hops are resolved with
    ``resolve``. Each hop tries its addresses in order until one connects (and handshakes). ``refuse(ip)``
    returns a failure string for addresses that must not be contacted (the control's SSRF guard: a redirect
    to an IP literal must not reach a private network).
    """
    res = FetchResult()
    hops: list[dict[str, Any]] = []
    current = url
    for depth in range(max_redirects + 1):
        tags = [f"depth={depth}", "fetch"]
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            res.failure = F.unknown(f"unsupported URL {current!r}")
            break
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        dns_failure: str | None = None
        try:
            ipaddress.ip_address(host)
            addrs: list[str] = [host]
        except ValueError:
            if depth == 0 and addresses:
                addrs = list(addresses)
            else:
                addrs, dns_failure = await resolve(host)
        if refuse is not None:
            refusals = [r for r in map(refuse, addrs) if r]
            addrs = [a for a in addrs if not refuse(a)]
            dns_failure = dns_failure or (refusals[0] if refusals else None)
        if not addrs:
            res.failure = dns_failure or F.DNS_NO_ANSWER
            break
        stream: Stream | None = None
        failure: str | None = None
        alpn = ""
        for ip in addrs[:4]:
            tcp, stream = await tcp_connect(ip, port, clock, timeout=connect_timeout, tags=tags)
            res.tcp_connect.append(tcp)
            if stream is None:
                failure = tcp["status"]["failure"]
                continue
            if parts.scheme == "https":
                tls = await tls_handshake(stream, host, clock, ctx=tls_context, timeout=connect_timeout,
                                          transaction_id=tcp["transaction_id"], tags=tags)
                res.tls_handshakes.append(tls)
                if tls["failure"]:
                    failure = tls["failure"]
                    await stream.close()
                    stream = None
                    continue
                alpn = tls["negotiated_protocol"]
            break
        if stream is None:
            res.failure = failure
            break
        try:
            entry = await http_get(stream, current, clock, timeout=timeout, max_body=max_body, headers=headers,
                                   alpn=alpn, tags=tags)
        finally:
            await stream.close()
        hops.append(entry)
        res.failure = entry["failure"]
        code = entry["response"]["code"]
        location = entry["response"]["headers"].get("Location")
        if entry["failure"] or code not in REDIRECT_CODES or not location:
            break
        current = urljoin(current, location)
    else:
        res.failure = F.unknown(f"stopped after {max_redirects} redirects")
    res.requests = list(reversed(hops))
    if hops and hops[-1]["response"]["body"] is not None:
        b = hops[-1]["response"]["body"]
        res.body = b.encode() if isinstance(b, str) else base64.b64decode(b["data"])
    return res
