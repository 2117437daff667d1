"""web_connectivity, as OONI's: DNS (system + UDP with a late-answer window), TCP to every address, TLS with
the real SNI, an HTTP(S) fetch with bounded redirects and body, and the control's view of the same target.

test_keys follow ooni/spec ts-017 (classic keys, version 0.4.x) so OONI's tools and our judge read them alike;
our additions start with ``x_`` (docs/formats/probe-web.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.dns import DNSResult, system_resolve, udp_query
from ayiq.net.probe.http import DEFAULT_HEADERS, fetch, title_of
from ayiq.net.probe.packets import PacketWatch
from ayiq.net.probe.tcp import endpoint, tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake
from ayiq.net.tests.config import ProbeConfig, envelope, new_report_id
from ayiq.net.tests.web_compare import compare

TEST_NAME = "web_connectivity"
TEST_VERSION = "0.4.3"  # the classic test_keys layout this test writes


async def resolve(host: str, cfg: ProbeConfig, clock: Clock, tags: list[str]) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[str], str | None]:
    """(queries, late/duplicate answers, addresses in preference order, dns failure)."""
    jobs: list[asyncio.Task[DNSResult]] = []
    if cfg.system_resolver:
        jobs.append(asyncio.create_task(system_resolve(host, clock, timeout=cfg.dns_timeout, tags=tags)))
    if cfg.resolver:
        for qtype in ("A", "AAAA"):
            jobs.append(asyncio.create_task(udp_query(host, qtype, cfg.resolver, clock, timeout=cfg.dns_timeout,
                                                      late_window=cfg.late_window, tags=tags)))
    results = list(await asyncio.gather(*jobs))
    queries = [r.query for r in results]
    dups = [d for r in results for d in r.duplicates]
    addrs: list[str] = []
    for r in sorted(results, key=lambda r: r.query["query_type"] == "AAAA"):
        addrs.extend(a for a in r.addresses if a not in addrs)
    failure: str | None = None
    if not addrs and results:
        fails = [r.failure for r in results if r.failure]
        # NXDOMAIN from any resolver says most; then the system resolver's view; then whatever failed
        failure = F.DNS_NXDOMAIN if F.DNS_NXDOMAIN in fails else (fails[0] if fails else F.DNS_NO_ANSWER)
    return queries, dups, addrs, failure


async def web_connectivity(url: str, cfg: ProbeConfig, *, report_id: str | None = None,
                           test_start_time: datetime | None = None) -> dict[str, Any]:
    """Measure ``url``; returns one OONI-format measurement (never raises on network trouble)."""
    clock = Clock()
    start = test_start_time or clock.started_at
    rid = report_id or new_report_id(TEST_NAME, cfg, start)
    tk: dict[str, Any] = {
        "agent": "redirect", "client_resolver": cfg.resolver[0] if cfg.resolver else None, "retries": None,
        "socksproxy": None, "queries": [], "tcp_connect": [], "tls_handshakes": [], "requests": [],
        "x_dns_duplicate_responses": [], "control": {}, "control_failure": None,
        "dns_experiment_failure": None, "http_experiment_failure": None, "x_control_request": None,
    }
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or not port:
        tk["http_experiment_failure"] = F.unknown(f"not an http(s) URL: {url!r}")
        tk.update(compare(tk, url))
        return envelope(TEST_NAME, TEST_VERSION, url, tk, clock, cfg, rid, start)
    tags = ["depth=0"]
    try:
        ipaddress.ip_address(host)
        addrs = [host]
    except ValueError:
        tk["queries"], tk["x_dns_duplicate_responses"], addrs, tk["dns_experiment_failure"] = await resolve(
            host, cfg, clock, tags)
    addrs = addrs[: cfg.max_addresses]

    control_task: asyncio.Task[tuple[dict[str, Any] | None, str | None]] | None = None
    if cfg.control is not None:
        payload = {"http_request": url, "tcp_connect": [endpoint(a, port) for a in addrs],
                   "http_request_headers": {k: [v] for k, v in DEFAULT_HEADERS}}
        tk["x_control_request"] = payload
        control_task = asyncio.create_task(cfg.control.query(payload))

    tls_ctx = client_context(ca_file=cfg.ca_file)

    async def connect(ip: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        tcp, stream = await tcp_connect(ip, port, clock, timeout=cfg.connect_timeout, tags=tags)
        tls = None
        if stream is not None:
            try:
                if parts.scheme == "https":
                    tls = await tls_handshake(stream, host, clock, ctx=tls_ctx, timeout=cfg.connect_timeout,
                                              transaction_id=tcp["transaction_id"], tags=tags)
            finally:
                await stream.close()
        return tcp, tls

    # RSTs and SYN-ACKs from the target's addresses, for their IP TTL/IP-ID (root only; else a reason)
    async with PacketWatch(set(addrs)) as watch:
        await _connect_and_fetch(url, addrs, cfg, clock, tk, connect)
    tk["x_packet_traits"] = watch.traits()

    if control_task is not None:
        control, failure = await control_task
        tk["control"] = control or {}
        tk["control_failure"] = failure
        if control:
            for key in ("schema", "version", "software_name", "software_version"):
                tk["control"].pop(key, None)
    else:
        tk["control_failure"] = "unknown_failure: no control server configured"
    tk.update(compare(tk, url))
    return envelope(TEST_NAME, TEST_VERSION, url, tk, clock, cfg, rid, start)


async def _connect_and_fetch(url: str, addrs: list[str], cfg: ProbeConfig, clock: Clock, tk: dict[str, Any],
                             connect: Callable[[str], Awaitable[tuple[dict[str, Any], dict[str, Any] | None]]],
                             ) -> None:
    """TCP (+TLS) to every address, then the fetch over the ones that worked; fills ``tk``."""
    tls_ctx = client_context(ca_file=cfg.ca_file)
    conns = await asyncio.gather(*(connect(a) for a in addrs))
    tk["tcp_connect"] = [c[0] for c in conns]
    tk["tls_handshakes"] = [c[1] for c in conns if c[1] is not None]
    good = [c[0]["ip"] for c in conns if c[0]["status"]["success"] and (c[1] is None or c[1]["failure"] is None)]
    if good:

        async def again(name: str) -> tuple[list[str], str | None]:
            _q, _d, found, failure = await resolve(name, cfg, clock, ["depth=1"])
            return found, failure

        res = await fetch(url, clock, resolve=again, tls_context=tls_ctx, addresses=good,
                          timeout=cfg.http_timeout, connect_timeout=cfg.connect_timeout, max_body=cfg.max_body,
                          max_redirects=cfg.max_redirects)
        tk["requests"] = res.requests
        tk["http_experiment_failure"] = res.failure
        # later hops' connections are part of the classic chain (tagged with their depth)
        tk["tcp_connect"] += [t for t in res.tcp_connect if "depth=0" not in t["tags"]]
        tk["tls_handshakes"] += [t for t in res.tls_handshakes if "depth=0" not in t["tags"]]
        tk["x_title"] = title_of(res.body)
    elif addrs:
        first = conns[0]
        tk["http_experiment_failure"] = (first[0]["status"]["failure"] if first[1] is None
                                         else first[1]["failure"])
    else:
        tk["http_experiment_failure"] = tk["dns_experiment_failure"]

