"""Voice test on loopback: STUN binding, a media-like UDP stream, and relays behind a UDP-dropping censor."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os

from ayiq.net.control.relay import start_relay
from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.loopback import LOOPBACK, start_tcp, start_udp_dropper, web_handler
from ayiq.net.probe.stun import binding_request, binding_response, parse_binding_success, stun_binding
from ayiq.net.probe.udp import relay_tag, stream_stats, udp_stream
from ayiq.net.tests.config import ProbeConfig
from ayiq.net.tests.voice import voice

TAG = relay_tag("relay-secret-0123456789")


def test_stun_messages_round_trip() -> None:
    txid = os.urandom(12)
    req = binding_request(txid)
    assert len(req) == 20 and req[4:8] == bytes.fromhex("2112a442")
    for addr in (("198.51.100.7", 40000), ("2001:db8::7", 40000)):
        resp = binding_response(req, addr)
        assert resp is not None and parse_binding_success(resp, txid) is True
        assert ipaddress.ip_address(addr[0]).packed not in resp  # XOR'd, as RFC 5389 wants
    assert parse_binding_success(binding_response(req, ("198.51.100.7", 1)) or b"", os.urandom(12)) is None
    assert binding_response(b"GET / HTTP/1.1\r\n\r\n", ("198.51.100.7", 1)) is None


def test_stream_stats() -> None:
    rtts = {i: 10.0 + (i % 2) for i in range(100) if i not in (10, 11, 12, 50)}
    s = stream_stats(rtts, sorted(rtts), 100)
    assert s["loss"] == 0.04 and s["max_loss_burst"] == 3 and s["packets_received"] == 96
    assert s["rtt_ms"]["min"] == 10.0 and s["rtt_ms"]["max"] == 11.0 and 0.5 < s["jitter_ms"] <= 1.0


def test_stun_and_stream_against_a_relay_and_a_blackhole() -> None:
    async def go():  # type: ignore[no-untyped-def]
        tr, relay, port = await start_relay(LOOPBACK, 0, TAG)
        hole, hole_port = await start_udp_dropper((LOOPBACK, port), lambda d, n: True)
        clock = Clock()
        try:
            return await asyncio.gather(
                stun_binding(LOOPBACK, port, clock),
                udp_stream(LOOPBACK, port, clock, tag=TAG, count=50, interval=0.005),
                stun_binding(LOOPBACK, hole_port, clock, timeout=1.0),
                udp_stream(LOOPBACK, hole_port, clock, tag=TAG, count=20, interval=0.005, drain=0.3),
                udp_stream(LOOPBACK, port, clock, tag=relay_tag("another secret"), count=10, interval=0.005,
                           drain=0.3),
            ), relay
        finally:
            hole.close()
            tr.close()

    (stun, stream, stun_hole, stream_hole, wrong_tag), relay = asyncio.run(go())
    assert stun["failure"] is None and stun["x_mapped_address_present"] is True and stun["x_rtt"] < 1
    assert set(stun) == {"endpoint", "failure", "t0", "t", "tags", "x_rtt", "x_requests_sent",
                         "x_mapped_address_present"}  # the mapped (public) address is never kept
    assert stream["failure"] is None and stream["loss"] == 0 and stream["packets_received"] == 50
    assert stream["packet_size"] == 172 and stream["rtt_ms"]["median"] < 50
    assert stun_hole["failure"] == F.GENERIC_TIMEOUT and stun_hole["x_requests_sent"] >= 2
    assert stream_hole["failure"] == F.GENERIC_TIMEOUT and stream_hole["loss"] == 1.0
    assert wrong_tag["failure"] == F.GENERIC_TIMEOUT  # the relay echoes only packets with its tag
    assert relay.echoed == 50 and relay.stun_answers >= 1


def test_voice_text_works_international_calls_blocked() -> None:
    async def go():  # type: ignore[no-untyped-def]
        web, web_port = await start_tcp(web_handler())
        tr, _relay, port = await start_relay(LOOPBACK, 0, TAG)
        blocked, blocked_port = await start_udp_dropper((LOOPBACK, port), lambda d, n: True)
        # a lossy path: every 4th stream packet lost (STUN passes)
        lossy, lossy_port = await start_udp_dropper((LOOPBACK, port), lambda d, n: d[:4] == b"AYQ1" and n % 4 == 0)
        cfg = ProbeConfig(connect_timeout=1.0)
        sig = [(LOOPBACK, web_port, None)]
        try:
            return await asyncio.gather(
                voice("whatsapp", cfg, signalling=sig, tag=TAG, interval=0.01,
                      relays={"domestic": (LOOPBACK, port), "international": (LOOPBACK, blocked_port)}),
                voice("whatsapp", cfg, signalling=sig, tag=TAG, interval=0.01,
                      relays={"domestic": (LOOPBACK, port), "international": (LOOPBACK, lossy_port)}),
                voice("whatsapp", cfg, signalling=sig, tag=TAG, interval=0.01,
                      relays={"domestic": (LOOPBACK, port), "international": (LOOPBACK, port)}),
            )
        finally:
            blocked.close()
            lossy.close()
            tr.close()
            web.close()

    blocked, lossy, fine = asyncio.run(asyncio.wait_for(go(), 60))
    tk = blocked["test_keys"]
    assert blocked["test_name"] == "ayiq_voice" and tk["signalling_ok"] is True
    assert tk["voice_state"] == {"domestic": "ok", "international": "blocked"}
    assert tk["result"] == "international_voice_blocked"
    assert tk["summary"] == "text works, international voice calls blocked, domestic calls work"
    assert tk["relays"]["international"]["stream"]["loss"] == 1.0
    assert tk["relays"]["domestic"]["stream"]["packets_sent"] == 100
    lk = lossy["test_keys"]
    assert lk["result"] == "international_voice_degraded"
    assert 0.2 <= lk["relays"]["international"]["stream"]["loss"] <= 0.3
    assert fine["test_keys"]["result"] == "voice_ok"
    json.dumps(blocked)
