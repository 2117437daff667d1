"""Throttle test: the same large object from the same server, with the target SNI and with a control SNI.

Rate plateau, ratio to the control, a two-sample Kolmogorov-Smirnov test over the per-interval rates (as
Wehe does), and the shape of the throttled transfer: a policer cuts bursts (stalls, a jagged rate), a shaper
smooths (a flat rate). Never two throttle tests at once: they would throttle each other.
(docs/formats/probe-throttle.md)
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import datetime
from typing import Any

from ayiq.net.probe.clock import Clock
from ayiq.net.probe.throughput import timed_download
from ayiq.net.tests.config import ProbeConfig, envelope, new_report_id

TEST_NAME = "ayiq_throttle"
TEST_VERSION = "0.1.0"
MIN_DIFFERENCE = 0.10  # Wehe: throughput must differ by more than 10%
P_VALUE = 0.05
_locks: dict[int, asyncio.Lock] = {}


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    return _locks.setdefault(id(loop), asyncio.Lock())


BIN = 0.25  # s: long enough to hold a couple of 16 KiB TLS records even at 1 Mbit/s


def interval_rates(samples: list[list[float]], skip: float = 0.5, width: float = BIN) -> list[float]:
    """Bytes per second in consecutive ``width``-second bins, after ``skip`` s of slow start.

    Samples are re-binned because a short interval at a low rate holds zero or one TLS record, and that
    quantization would look like a jagged (policed) rate.
    """
    rates: list[float] = []
    anchor: tuple[float, float] | None = None
    for t, b in samples:
        if anchor is None or t <= skip:
            anchor = (t, b)  # the last sample at or before the skip, or the first one after it
            continue
        if t - anchor[0] >= width - 1e-9:
            rates.append((b - anchor[1]) / (t - anchor[0]))
            anchor = (t, b)
    return rates


def summarize(entry: dict[str, Any]) -> dict[str, Any]:
    rates = interval_rates(entry.get("samples") or [])
    dur = entry.get("duration") or 0
    out: dict[str, Any] = {"goodput_bps": round(entry["bytes"] * 8 / dur) if dur else None,
                           "plateau_bps": None, "rate_cv": None, "stall_fraction": None, "intervals": len(rates)}
    if len(rates) >= 3:
        half = rates[len(rates) // 2:]
        out["plateau_bps"] = round(statistics.median(half) * 8)
        mean = statistics.fmean(rates)
        out["rate_cv"] = round(statistics.pstdev(rates) / mean, 3) if mean else None
        out["stall_fraction"] = round(sum(1 for r in rates if r == 0) / len(rates), 3)
    return out


def compare(target: dict[str, Any], control: dict[str, Any]) -> dict[str, Any]:
    """ratio, KS p-value, throttled (bool or None), pattern (policer-like, shaper-like, None)."""
    ts, cs = summarize(target), summarize(control)
    out: dict[str, Any] = {"target_stats": ts, "control_stats": cs, "ratio": None, "ks_pvalue": None,
                           "throttled": None, "pattern": None, "rtt_inflation_ms": None}
    trtt, crtt = target.get("rcv_rtt_ms") or [], control.get("rcv_rtt_ms") or []
    if trtt and crtt:  # a queue in front of the target's flow adds delay (a shaper's sign; a pure policer adds none)
        out["rtt_inflation_ms"] = round(statistics.median(trtt) - statistics.median(crtt), 3)
    if target.get("failure") or control.get("failure") or not ts["goodput_bps"] or not cs["goodput_bps"]:
        return out
    out["ratio"] = round(ts["goodput_bps"] / cs["goodput_bps"], 3)
    tr, cr = interval_rates(target["samples"]), interval_rates(control["samples"])
    if len(tr) < 5 or len(cr) < 5:  # a short transfer (a fast control finishing its object): finer bins
        tr = interval_rates(target["samples"], skip=0.2, width=0.1)
        cr = interval_rates(control["samples"], skip=0.2, width=0.1)
    if len(tr) >= 5 and len(cr) >= 5:
        from scipy.stats import ks_2samp

        out["ks_pvalue"] = float(ks_2samp(tr, cr).pvalue)
        out["throttled"] = bool(out["ks_pvalue"] < P_VALUE and out["ratio"] < 1 - MIN_DIFFERENCE)
    if out["throttled"]:
        cv, stalls = ts["rate_cv"] or 0, ts["stall_fraction"] or 0
        out["pattern"] = "policer-like" if stalls > 0.1 or cv > 0.5 else "shaper-like" if cv < 0.3 else None
    return out


async def throttle(target: str, cfg: ProbeConfig, *, server: tuple[str, int], path: str, target_sni: str,
                   control_sni: str = "example.org", headers: list[tuple[str, str]] | None = None,
                   duration: float = 10.0, max_bytes: int = 200 << 20, sample_interval: float = 0.1,
                   max_rate_bps: float | None = None, confirm: bool = True, report_id: str | None = None,
                   test_start_time: datetime | None = None) -> dict[str, Any]:
    """Target-SNI transfer, then control-SNI transfer (sequential, never overlapping any other throttle test).

    A round that finds throttling is confirmed by a second one in the other order (control first), as Wehe
    re-runs a test that found differentiation: a busy CPU or a burst of other traffic can slow one transfer
    by more than 10 %, but rarely the same name twice in both orders. The top-level keys are those of the
    round that says least (one that found no throttling, else the one with the higher ratio)."""
    clock = Clock()
    start = test_start_time or clock.started_at
    rid = report_id or new_report_id(TEST_NAME, cfg, start)
    kw: dict[str, Any] = dict(headers=headers or [], duration=duration, max_bytes=max_bytes,
                              sample_interval=sample_interval, connect_timeout=cfg.connect_timeout,
                              max_rate_bps=max_rate_bps)

    async def fetch(sni: str, role: str, n: int) -> dict[str, Any]:
        return await timed_download(server[0], server[1], sni, path, clock, tags=[role, f"round={n}"], **kw)

    rounds: list[dict[str, Any]] = []
    async with _lock():
        tgt = await fetch(target_sni, "target", 1)
        ctl = await fetch(control_sni, "control", 1)
        rounds.append({"order": "target_first", "target": tgt, "control": ctl, **compare(tgt, ctl)})
        if confirm and rounds[0]["throttled"]:
            ctl = await fetch(control_sni, "control", 2)
            tgt = await fetch(target_sni, "target", 2)
            rounds.append({"order": "control_first", "target": tgt, "control": ctl, **compare(tgt, ctl)})
    deciding = next((r for r in rounds if not r["throttled"]), None) or max(rounds, key=lambda r: r["ratio"])
    tk: dict[str, Any] = {k: v for k, v in deciding.items() if k != "order"}
    tk.update(server=f"{server[0]}:{server[1]}", path=path, x_deciding_round=rounds.index(deciding) + 1,
              x_rounds=[{k: r[k] for k in ("order", "ratio", "ks_pvalue", "throttled", "pattern",
                                           "rtt_inflation_ms", "target_stats", "control_stats")}
                        for r in rounds])
    if len(rounds) > 1:  # the other round's raw transfers too: nothing measured is thrown away
        other = rounds[1] if deciding is rounds[0] else rounds[0]
        tk["x_other_round"] = {"target": other["target"], "control": other["control"]}
    return envelope(TEST_NAME, TEST_VERSION, target, tk, clock, cfg, rid, start)
