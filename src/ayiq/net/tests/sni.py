"""SNI test: confirms SNI filtering and tells it from IP blocking.

Five TLS handshakes, all at once, none verifying certificates (a completed handshake is the fact measured):
on the target's own server with the target SNI, a control SNI and no SNI; and on a decoy server that does not
host the target with the target SNI and the control SNI. A censor that filters by name kills the target SNI
everywhere, the decoy included, and lets the control SNI through; IP blocking kills every handshake to the
target's server whatever the name. ``target``/``control``/``result`` follow OONI's sni_blocking (ts-024);
the rest is ours (docs/formats/probe-sni.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.packets import PacketWatch
from ayiq.net.probe.tcp import endpoint, tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake
from ayiq.net.tests.config import ProbeConfig, envelope, new_report_id
from ayiq.net.tests.web import resolve

TEST_NAME = "sni_blocking"
TEST_VERSION = "0.0.1-ayiq.1"
INTERFERENCE = {F.GENERIC_TIMEOUT, F.CONNECTION_RESET, F.EOF_ERROR, F.CONNECTION_ABORTED}


async def _attempt(ip: str, port: int, sni: str | None, clock: Clock, cfg: ProbeConfig) -> dict[str, Any]:
    """One TCP connect + handshake; the sub-record OONI's sni_blocking writes for target and control."""
    sub: dict[str, Any] = {"sni": sni or "", "th_address": endpoint(ip, port), "failure": None,
                           "tcp_connect": [], "tls_handshakes": [], "queries": None, "requests": None}
    tcp, stream = await tcp_connect(ip, port, clock, timeout=cfg.connect_timeout)
    sub["tcp_connect"].append(tcp)
    if stream is None:
        sub["failure"] = tcp["status"]["failure"]
        sub["x_failed_operation"] = "connect"
        return sub
    try:
        tls = await tls_handshake(stream, sni, clock, ctx=client_context(verify=False),
                                  timeout=cfg.connect_timeout, transaction_id=tcp["transaction_id"])
    finally:
        await stream.close()
    sub["tls_handshakes"].append(tls)
    sub["failure"] = tls["failure"]
    if tls["failure"]:
        sub["x_failed_operation"] = "tls_handshake"
    return sub


def ooni_result(target: dict[str, Any]) -> str:
    """OONI sni_blocking's ``result`` for the target-SNI-to-decoy handshake."""
    failure = target.get("failure")
    if failure is None:
        return "accessible"
    return {F.GENERIC_TIMEOUT: "anomaly.timeout", F.CONNECTION_RESET: "anomaly.connection_reset",
            F.CONNECTION_REFUSED: "anomaly.connection_refused", F.EOF_ERROR: "anomaly.eof_error"}.get(
        failure, "anomaly.ssl_error" if failure.startswith("ssl_") else "anomaly.unexpected_failure")


def classify(server: dict[str, dict[str, Any]], target: dict[str, Any], control: dict[str, Any]) -> str:
    """sni_filtering, ip_blocking, sni_filtering_at_server, accessible, tls_failure, or inconclusive."""
    def ok(sub: dict[str, Any] | None) -> bool:
        return sub is not None and sub["failure"] is None

    def hit(sub: dict[str, Any] | None) -> bool:
        return sub is not None and sub["failure"] in INTERFERENCE

    decoy_works = ok(control)
    if decoy_works and hit(target):
        return "sni_filtering"  # the decoy does not host the target: only the name can be the trigger
    s_target, s_control, s_none = server.get("target"), server.get("control"), server.get("no_sni")
    if s_target is None:
        return "accessible" if ok(target) else "inconclusive"
    if ok(s_target):
        return "accessible"
    if hit(s_target) and (ok(s_control) or ok(s_none)):
        # the name is the trigger on the path to this server (the decoy path did not show it)
        return "sni_filtering_at_server" if decoy_works or control is None else "inconclusive"
    if not any(ok(x) for x in (s_target, s_control, s_none)) and (decoy_works or control is None):
        return "ip_blocking"
    if s_target["failure"] and s_target["failure"].startswith("ssl_"):
        return "tls_failure"
    return "inconclusive"


async def sni_blocking(target: str, cfg: ProbeConfig, *, decoy: tuple[str, int] | None = None,
                       control_sni: str = "example.org", server: str | None = None,
                       report_id: str | None = None, test_start_time: datetime | None = None) -> dict[str, Any]:
    """Measure SNI filtering for ``target`` (a URL or host name).

    ``server`` is the target's IP (default: resolved); ``decoy`` an ``(ip, port)`` TLS server that does not host
    the target (the control server's address is a good one); without it only the server-side trio runs.
    """
    clock = Clock()
    start = test_start_time or clock.started_at
    rid = report_id or new_report_id(TEST_NAME, cfg, start)
    parts = urlsplit(target if "://" in target else f"https://{target}")
    host = parts.hostname or ""
    port = parts.port or 443
    tk: dict[str, Any] = {"control": None, "target": None, "result": None, "x_server": {},
                          "x_classification": None, "x_queries": [], "x_control_sni": control_sni,
                          "x_target_sni": host, "x_server_address": None}
    ip = server
    if ip is None:
        try:
            ipaddress.ip_address(host)
            ip = host
        except ValueError:
            queries, _dups, addrs, failure = await resolve(host, cfg, clock, ["depth=0"])
            tk["x_queries"] = queries
            ip = addrs[0] if addrs else None
            if ip is None:
                tk["x_dns_failure"] = failure
    jobs: dict[str, Any] = {}
    if ip is not None:
        tk["x_server_address"] = endpoint(ip, port)
        jobs["s.target"] = _attempt(ip, port, host, clock, cfg)
        jobs["s.control"] = _attempt(ip, port, control_sni, clock, cfg)
        jobs["s.no_sni"] = _attempt(ip, port, None, clock, cfg)
    if decoy is not None:
        jobs["d.target"] = _attempt(decoy[0], decoy[1], host, clock, cfg)
        jobs["d.control"] = _attempt(decoy[0], decoy[1], control_sni, clock, cfg)
    watched = {ip} if ip else set()
    if decoy is not None:
        watched.add(decoy[0])
    async with PacketWatch(watched) as watch:
        done = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    tk["x_packet_traits"] = watch.traits()
    tk["x_server"] = {k.removeprefix("s."): v for k, v in done.items() if k.startswith("s.")}
    tk["target"], tk["control"] = done.get("d.target"), done.get("d.control")
    if tk["target"] is not None:
        tk["result"] = ooni_result(tk["target"])
    tk["x_classification"] = classify(tk["x_server"], tk["target"], tk["control"]) if done else "inconclusive"
    return envelope(TEST_NAME, TEST_VERSION, target, tk, clock, cfg, rid, start)
