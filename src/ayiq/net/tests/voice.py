"""Voice test: is the voice-call path blocked while text works, and only towards other countries?

Signalling over TCP (the messenger's own endpoints), then for each relay (a domestic and an international
one, both running ``ayiq control serve --udp-port``): a STUN binding and a short media-like stream (about 100
packets of 172 bytes every 20 ms) with loss, RTT and jitter. Ours; no OONI equivalent (docs/formats/probe-voice.md).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ayiq.net.probe.clock import Clock
from ayiq.net.probe.stun import stun_binding
from ayiq.net.probe.tcp import tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake
from ayiq.net.probe.udp import udp_stream
from ayiq.net.tests.config import ProbeConfig, envelope, new_report_id

TEST_NAME = "ayiq_voice"
TEST_VERSION = "0.1.0"
LOSS_OK = 0.05  # below: a call sounds fine
LOSS_BLOCKED = 0.5  # at or above (or no echo at all): no call is possible


def media_state(stun: dict[str, Any], stream: dict[str, Any]) -> str:
    """ok, degraded or blocked, for one relay."""
    loss = stream.get("loss")
    if stream.get("failure") or loss is None or loss >= LOSS_BLOCKED:
        return "blocked"
    if stun.get("failure") or loss > LOSS_OK:
        return "degraded"
    return "ok"


def classify(signalling_ok: bool | None, relays: dict[str, str]) -> tuple[str, str]:
    """(code, plain sentence) from the signalling result and each relay's media state."""
    dom, intl = relays.get("domestic"), relays.get("international")
    text = "text works" if signalling_ok else "text (signalling) blocked" if signalling_ok is False else ""
    if dom == "ok" and intl == "blocked":
        code, voice = "international_voice_blocked", "international voice calls blocked, domestic calls work"
    elif dom == "ok" and intl == "degraded":
        code, voice = "international_voice_degraded", "international voice calls degraded"
    elif intl is not None and all(v == "blocked" for v in relays.values()):
        code, voice = "voice_blocked", "voice calls blocked"
    elif all(v == "ok" for v in relays.values()):
        code, voice = "voice_ok", "voice calls work"
    else:
        code, voice = "inconclusive", "voice path unclear"
    if signalling_ok is False:
        code = "signalling_blocked"
    return code, ", ".join(x for x in (text, voice) if x)


async def voice(target: str, cfg: ProbeConfig, *, signalling: list[tuple[str, int, str | None]],
                relays: dict[str, tuple[str, int] | tuple[str, int, int]], tag: bytes, packets: int = 100,
                size: int = 172,
                interval: float = 0.02, report_id: str | None = None,
                test_start_time: datetime | None = None) -> dict[str, Any]:
    """``signalling``: (ip, port, sni or None) TCP endpoints; ``relays``: name -> (ip, port[, stream port])
    UDP relays (STUN on ``port``, the stream to ``stream port``, by default the same)."""
    clock = Clock()
    start = test_start_time or clock.started_at
    rid = report_id or new_report_id(TEST_NAME, cfg, start)
    tk: dict[str, Any] = {"signalling": {"tcp_connect": [], "tls_handshakes": [], "failure": None},
                          "relays": {}, "voice_state": {}, "result": None, "summary": None}

    async def signal(ip: str, port: int, sni: str | None) -> None:
        tcp, stream = await tcp_connect(ip, port, clock, timeout=cfg.connect_timeout)
        tk["signalling"]["tcp_connect"].append(tcp)
        if stream is None:
            return
        try:
            if sni:
                tk["signalling"]["tls_handshakes"].append(await tls_handshake(
                    stream, sni, clock, ctx=client_context(ca_file=cfg.ca_file), timeout=cfg.connect_timeout))
        finally:
            await stream.close()

    async def relay(name: str, ip: str, port: int, stream_port: int | None = None) -> None:
        stun = await stun_binding(ip, port, clock, timeout=min(3.0, cfg.connect_timeout), tags=[name])
        stream = await udp_stream(ip, stream_port or port, clock, tag=tag, count=packets, size=size,
                                  interval=interval, tags=[name])
        tk["relays"][name] = {"stun": stun, "stream": stream}
        tk["voice_state"][name] = media_state(stun, stream)

    await asyncio.gather(*(signal(*s) for s in signalling), *(relay(n, *a) for n, a in relays.items()))
    sig_ok: bool | None = None
    if signalling:
        tcp_ok = [t for t in tk["signalling"]["tcp_connect"] if t["status"]["success"]]
        tls_bad = [h for h in tk["signalling"]["tls_handshakes"] if h["failure"]]
        sig_ok = bool(tcp_ok) and len(tls_bad) < len(tcp_ok)
        if not sig_ok:
            fails = [t["status"]["failure"] for t in tk["signalling"]["tcp_connect"] if t["status"]["failure"]]
            fails += [h["failure"] for h in tls_bad]
            tk["signalling"]["failure"] = fails[0] if fails else None
    tk["signalling_ok"] = sig_ok
    tk["result"], tk["summary"] = classify(sig_ok, tk["voice_state"])
    return envelope(TEST_NAME, TEST_VERSION, target, tk, clock, cfg, rid, start)
