"""Hostile networks never hang or crash the probe: each becomes a failure string (or a truncated body)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from scenario import lab

from ayiq.net.probe import failures as F
from ayiq.net.probe.loopback import junk_handler, silent_handler
from ayiq.net.tests.web import web_connectivity


def test_hostile_targets_become_failures(tmp_path: Path) -> None:
    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, ["site.test", "junkdns.test", "spoof.test", "quiet.test"]) as lb:
            lb.probe_zone.garbage.add("junkdns.test")
            lb.probe_zone.wrong_id.add("spoof.test")
            lb.probe_zone.silent.add("quiet.test")
            junk = await lb.add_server(junk_handler)
            silent = await lb.add_server(silent_handler)
            cfg = lb.config(http_timeout=2.0, connect_timeout=1.0, max_body=256 * 1024)
            p, h = lb.port, lb.http_port
            urls = {
                "garbage_dns": f"https://junkdns.test:{p}/",
                "wrong_id_dns": f"https://spoof.test:{p}/",
                "silent_dns": f"https://quiet.test:{p}/",
                "never_closes": f"https://site.test:{p}/hang",
                "endless_redirects": f"https://site.test:{p}/redirect-loop",
                "ten_gb_body": f"http://site.test:{h}/big/10000000000",
                "endless_chunked": f"https://site.test:{p}/endless",
                "junk_tls": f"https://site.test:{junk}/",
                "silent_tls": f"https://site.test:{silent}/",
                "reset": f"http://site.test:{h}/reset",
            }
            t = time.monotonic()
            ms = await asyncio.gather(*(web_connectivity(u, cfg) for u in urls.values()))
            return dict(zip(urls, (m["test_keys"] for m in ms), strict=True)), time.monotonic() - t

    tk, elapsed = asyncio.run(asyncio.wait_for(go(), 60))
    assert tk["garbage_dns"]["dns_experiment_failure"] == F.DNS_MISBEHAVING
    assert tk["wrong_id_dns"]["dns_experiment_failure"] == F.DNS_WRONG_QUERY_ID
    assert tk["silent_dns"]["dns_experiment_failure"] == F.GENERIC_TIMEOUT
    assert tk["never_closes"]["http_experiment_failure"] == F.GENERIC_TIMEOUT
    assert tk["endless_redirects"]["http_experiment_failure"] == "unknown_failure: stopped after 10 redirects"
    assert len(tk["endless_redirects"]["requests"]) == 11
    for big in ("ten_gb_body", "endless_chunked"):
        final = tk[big]["requests"][0]
        assert final["response"]["body_is_truncated"] is True and final["x_body_length"] == 256 * 1024
    assert tk["junk_tls"]["http_experiment_failure"] == F.SSL_FAILED_HANDSHAKE
    assert tk["silent_tls"]["http_experiment_failure"] == F.GENERIC_TIMEOUT
    assert tk["silent_tls"]["tls_handshakes"][0]["x_bytes_read"] == 0
    assert tk["reset"]["http_experiment_failure"] in (F.CONNECTION_RESET, F.EOF_ERROR)
    traits = tk["reset"]["x_packet_traits"]
    if traits["error"] is None:  # root: the server's own RST has the server's TTL, so never an injection sign
        # (None, not False, when the packet socket missed the SYN-ACK while the 10 GB body floods loopback)
        assert any(p["kind"] == "rst" for p in traits["packets"]) and traits["rst_ttl_mismatch"] is not True
    # the control saw the same hostile servers and was bounded too
    assert {k: t["control_failure"] for k, t in tk.items() if t["control_failure"]} == {}
    assert elapsed < 45  # bounded by the timeouts (the control's 5 s steps dominate), far from a hang


@pytest.mark.slow
def test_hundred_web_targets_in_under_a_minute(tmp_path: Path) -> None:
    """100 targets (a quarter of them blocked by DNS injection or timing out) with concurrency 32."""
    names = [f"site{i}.test" for i in range(100)]

    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, names) as lb:
            silent = await lb.add_server(silent_handler)
            for n in names[:15]:
                lb.probe_zone.inject[n] = (["127.0.0.66"], 40)
            cfg = lb.config(connect_timeout=3.0, http_timeout=5.0)
            urls = [f"https://{n}.test:{silent if i >= 90 else lb.port}/".replace(".test.test", ".test")
                    for i, n in enumerate(names)]
            slots = asyncio.Semaphore(32)

            async def one(u: str):  # type: ignore[no-untyped-def]
                async with slots:
                    return await web_connectivity(u, cfg)

            t = time.monotonic()
            ms = await asyncio.gather(*(one(u) for u in urls))
            return ms, time.monotonic() - t

    ms, elapsed = asyncio.run(asyncio.wait_for(go(), 120))
    blocking = [m["test_keys"]["blocking"] for m in ms]
    assert blocking[:15] == ["dns"] * 15
    assert blocking[15:90] == [False] * 75
    assert all(m["test_keys"]["http_experiment_failure"] == F.GENERIC_TIMEOUT for m in ms[90:])
    print(f"\n100 web targets: {elapsed:.1f} s")
    assert elapsed < 60
