"""What the control does for one request: resolve, connect, handshake and fetch, as OONI's test helper.

The answer has the shape of OONI's web_connectivity control (``dns``, ``tcp_connect``, ``tls_handshake``,
``http_request``, ``ip_info``) so a judge compares it with the probe's test_keys exactly as OONI's does.
Bodies are not returned (only length and title): the control must not become a content proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.dns import system_resolve, udp_query
from ayiq.net.probe.http import DEFAULT_HEADERS, fetch, title_of
from ayiq.net.probe.tcp import endpoint, tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake

MAX_ENDPOINTS = 16
NOT_ALLOWED = "unknown_failure: address not allowed by the control server"
IP_FLAG_PROBE = 1  # the probe resolved this address
IP_FLAG_CONTROL = 2  # the control resolved this address


@dataclass(frozen=True, slots=True)
class ControlConfig:
    resolver: tuple[str, int] | None = None  # DNS-over-UDP resolver; None: the system resolver
    allow_private: bool = False  # measure loopback/private addresses (tests and labs only)
    ca_file: str | None = None  # extra trusted CA (tests and labs)
    timeout: float = 10.0  # per step
    max_body: int = 1 << 20


class RequestError(ValueError):
    """The request is not a valid control request (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class ControlRequest:
    url: str
    endpoints: tuple[str, ...]  # "ip:port" the probe wants checked
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, obj: Any) -> ControlRequest:
        """Validate the JSON body (OONI's TH request shape); raises RequestError with a readable reason."""
        if not isinstance(obj, dict):
            raise RequestError("body must be a JSON object")
        url = obj.get("http_request")
        if not isinstance(url, str) or len(url) > 2048:
            raise RequestError("http_request must be a URL string (at most 2048 characters)")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RequestError("http_request must be an http:// or https:// URL with a host")
        try:
            _ = parts.port
        except ValueError as exc:
            raise RequestError(f"bad port in http_request: {exc}") from None
        eps = obj.get("tcp_connect", [])
        if not isinstance(eps, list) or not all(isinstance(e, str) for e in eps):
            raise RequestError("tcp_connect must be a list of \"ip:port\" strings")
        checked: list[str] = []
        for e in eps[:MAX_ENDPOINTS]:
            ip, port = split_endpoint(e)
            checked.append(endpoint(ip, port))
        hdrs = obj.get("http_request_headers", {})
        headers: list[tuple[str, str]] = []
        if isinstance(hdrs, dict):
            for k, v in list(hdrs.items())[:16]:
                vals = v if isinstance(v, list) else [v]
                if k.lower() in ("user-agent", "accept", "accept-language") and vals and isinstance(vals[0], str):
                    headers.append((k, vals[0][:512]))
        return cls(url=url, endpoints=tuple(dict.fromkeys(checked)), headers=tuple(headers))


def split_endpoint(ep: str) -> tuple[str, int]:
    host, sep, port = ep.rpartition(":")
    if not sep:
        raise RequestError(f"endpoint {ep!r} has no port")
    host = host.strip("[]")
    try:
        ip = str(ipaddress.ip_address(host))
        p = int(port)
    except ValueError:
        raise RequestError(f"endpoint {ep!r} is not ip:port") from None
    if not 0 < p < 65536:
        raise RequestError(f"endpoint {ep!r}: port out of range")
    return ip, p


def allowed(ip: str, cfg: ControlConfig) -> bool:
    """Public unicast addresses only, unless the operator allows private ones (never an open SSRF hop)."""
    if cfg.allow_private:
        return True
    a = ipaddress.ip_address(ip)
    return a.is_global and not a.is_multicast


async def measure(req: ControlRequest, cfg: ControlConfig) -> dict[str, Any]:
    """Observe ``req.url`` from here; returns the OONI-shaped control answer (never raises on network errors)."""
    clock = Clock()
    parts = urlsplit(req.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    out: dict[str, Any] = {"tcp_connect": {}, "tls_handshake": {}, "quic_handshake": {}, "http_request": {},
                           "http3_request": None, "dns": {"failure": None, "addrs": []}, "ip_info": {}}

    async def resolve(name: str) -> tuple[list[str], str | None]:
        try:
            ipaddress.ip_address(name)
            return ([name] if allowed(name, cfg) else []), (None if allowed(name, cfg) else NOT_ALLOWED)
        except ValueError:
            pass
        if cfg.resolver is None:
            r = await system_resolve(name, clock, timeout=cfg.timeout)
            found, failure = r.addresses, r.failure
        else:
            a4, a6 = await asyncio.gather(
                udp_query(name, "A", cfg.resolver, clock, timeout=cfg.timeout, late_window=0.0),
                udp_query(name, "AAAA", cfg.resolver, clock, timeout=cfg.timeout, late_window=0.0))
            found, failure = a4.addresses + a6.addresses, a4.failure
        ok = [a for a in found if allowed(a, cfg)]
        return ok, (failure if not found else None if ok else NOT_ALLOWED)

    # DNS, as the probe's engine would see it from here
    try:
        ipaddress.ip_address(host)
        addrs = [host]
    except ValueError:
        if cfg.resolver is None:
            r = await system_resolve(host, clock, timeout=cfg.timeout)
            addrs, failure = r.addresses, r.failure
        else:
            a4, a6 = await asyncio.gather(
                udp_query(host, "A", cfg.resolver, clock, timeout=cfg.timeout, late_window=0.0),
                udp_query(host, "AAAA", cfg.resolver, clock, timeout=cfg.timeout, late_window=0.0))
            addrs = a4.addresses + a6.addresses
            failure = None if addrs else (a4.failure if a4.failure != F.DNS_NO_ANSWER else a6.failure)
        out["dns"] = {"failure": failure, "addrs": addrs}
    for a in addrs:
        out["ip_info"][a] = {"asn": None, "flags": IP_FLAG_CONTROL}
    for ep in req.endpoints:
        ip, _p = split_endpoint(ep)
        info = out["ip_info"].setdefault(ip, {"asn": None, "flags": 0})
        info["flags"] |= IP_FLAG_PROBE

    # TCP (and TLS for https) to every endpoint: ours on the URL's port, plus the probe's
    eps = list(dict.fromkeys([endpoint(a, port) for a in addrs] + list(req.endpoints)))[:MAX_ENDPOINTS]
    tls_ctx = client_context(ca_file=cfg.ca_file)

    async def check(ep: str) -> None:
        ip, p = split_endpoint(ep)
        if not allowed(ip, cfg):
            out["tcp_connect"][ep] = {"status": False, "failure": NOT_ALLOWED}
            return
        tcp, stream = await tcp_connect(ip, p, clock, timeout=cfg.timeout)
        out["tcp_connect"][ep] = {"status": stream is not None, "failure": tcp["status"]["failure"]}
        if stream is None:
            return
        try:
            if parts.scheme == "https":
                tls = await tls_handshake(stream, host, clock, ctx=tls_ctx, timeout=cfg.timeout)
                out["tls_handshake"][ep] = {"server_name": host, "status": tls["failure"] is None,
                                            "failure": tls["failure"]}
        finally:
            await stream.close()

    async def get() -> None:
        first = [a for a in addrs if allowed(a, cfg)]
        if not addrs:
            out["http_request"] = {"body_length": -1, "failure": out["dns"]["failure"] or F.DNS_NO_ANSWER,
                                   "title": "", "headers": {}, "status_code": -1}
            return
        if not first:
            out["http_request"] = {"body_length": -1, "failure": NOT_ALLOWED, "title": "", "headers": {},
                                   "status_code": -1}
            return
        res = await fetch(req.url, clock, resolve=resolve, tls_context=tls_ctx, addresses=first,
                          timeout=cfg.timeout, connect_timeout=cfg.timeout, max_body=cfg.max_body,
                          headers=req.headers or DEFAULT_HEADERS,
                          refuse=lambda ip: None if allowed(ip, cfg) else NOT_ALLOWED)
        final = res.final
        if final is None:
            out["http_request"] = {"body_length": -1, "failure": res.failure or F.DNS_NO_ANSWER, "title": "",
                                   "headers": {}, "status_code": -1}
            return
        out["http_request"] = {
            "body_length": len(res.body) if final["response"]["code"] else -1,
            "failure": res.failure, "title": title_of(res.body), "headers": final["response"]["headers"],
            "status_code": final["response"]["code"] or -1,
            "x_body_is_truncated": final["response"]["body_is_truncated"],
        }

    await asyncio.gather(*(check(ep) for ep in eps), get())
    out["x_runtime"] = clock.now()
    return out

