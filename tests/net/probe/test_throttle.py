"""Throttle test on loopback: an SNI-aware relay shapes or polices one name; the control SNI runs free."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ayiq.net.probe.loopback import LOOPBACK, make_certs, sni_throttle, start_tcp, web_handler
from ayiq.net.tests.config import ProbeConfig
from ayiq.net.tests.throttle import compare, interval_rates, summarize, throttle


def test_summaries_and_comparison_are_pure() -> None:
    flat = {"samples": [[i / 10, i * 10_000] for i in range(31)], "bytes": 300_000, "duration": 3.0, "failure": None}
    fast = {"samples": [[i / 10, i * 100_000] for i in range(31)], "bytes": 3_000_000, "duration": 3.0,
            "failure": None}
    assert interval_rates(flat["samples"])[0] == pytest.approx(100_000)
    assert 8 <= len(interval_rates(flat["samples"])) <= 9  # 0.5 s skipped, then ~0.3 s bins over 2.5 s
    s = summarize(flat)
    assert s["plateau_bps"] == 800_000 and s["rate_cv"] == 0 and s["stall_fraction"] == 0
    c = compare(flat, fast)
    assert c["ratio"] == 0.1 and c["throttled"] is True and c["pattern"] == "shaper-like" and c["ks_pvalue"] < 0.05
    assert compare(fast, fast)["throttled"] is False
    assert compare({**flat, "failure": "generic_timeout_error"}, fast)["throttled"] is None


@pytest.mark.slow
def test_throttle_detects_shaper_and_policer(tmp_path: Path) -> None:
    certs = make_certs(tmp_path, ["server.test"])

    async def go():  # type: ignore[no-untyped-def]
        web, web_port = await start_tcp(web_handler(), certs.server_context())
        kw = dict(link_bps=40e6, throttle_bps=4e6)
        shaper, sport = await start_tcp(sni_throttle((LOOPBACK, web_port), {"blocked.test"}, **kw))
        policer, pport = await start_tcp(sni_throttle((LOOPBACK, web_port), {"blocked.test"}, mode="policer", **kw))
        cfg = ProbeConfig(connect_timeout=2.0)
        common = dict(path="/big/100000000", control_sni="example.org", duration=3.0, sample_interval=0.05)
        try:
            # gathered, yet run one after the other: the test holds a lock
            t = asyncio.get_running_loop().time()
            out = await asyncio.gather(
                throttle("blocked.test", cfg, server=(LOOPBACK, sport), target_sni="blocked.test", **common),
                throttle("blocked.test", cfg, server=(LOOPBACK, pport), target_sni="blocked.test", **common),
                throttle("free.test", cfg, server=(LOOPBACK, sport), target_sni="free.test", **common),
            )
            return (*out, asyncio.get_running_loop().time() - t)
        finally:
            for s in (web, shaper, policer):
                s.close()

    shaped, policed, free, elapsed = asyncio.run(asyncio.wait_for(go(), 90))
    st = shaped["test_keys"]
    assert shaped["test_name"] == "ayiq_throttle" and st["throttled"] is True
    assert 0.05 < st["ratio"] < 0.2 and st["pattern"] == "shaper-like"
    assert 3e6 < st["target_stats"]["plateau_bps"] < 5e6
    pt = policed["test_keys"]
    assert pt["throttled"] is True and pt["pattern"] == "policer-like" and pt["target_stats"]["stall_fraction"] > 0.1
    ft = free["test_keys"]
    assert ft["throttled"] is False and 0.8 < ft["ratio"] < 1.25
    # a round that finds throttling is confirmed by a second one, control first; a clean one needs none
    for tk in (st, pt):
        assert [r["order"] for r in tk["x_rounds"]] == ["target_first", "control_first"]
        assert all(r["throttled"] for r in tk["x_rounds"]) and tk["ratio"] == max(r["ratio"] for r in tk["x_rounds"])
        assert set(tk["x_other_round"]) == {"target", "control"}
    assert len(ft["x_rounds"]) == 1 and "x_other_round" not in ft
    # never two at once: the six transfers ran one after the other
    busy = sum(m["test_keys"][k]["duration"] for m in (shaped, policed, free) for k in ("target", "control"))
    assert elapsed >= busy
    print(f"\nshaper ratio {st['ratio']}, policer ratio {pt['ratio']}, free ratio {ft['ratio']}; "
          f"plateau {st['target_stats']['plateau_bps']/1e6:.2f} Mbit/s")
