"""Weekly schedules: found within one hour in the network's local time, with multiple-testing control."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ayiq.store import open_store
from ayiq.trends.accuracy import score_schedules
from ayiq.trends.bins import Hourly, hourly_counts
from ayiq.trends.changes import find_changes
from ayiq.trends.schedule import benjamini_hochberg, find_schedules
from ayiq.trends.synth import Truth


def test_every_window_found_within_one_hour(history: tuple[Path, Truth], history_hourly: Hourly) -> None:
    _, truth = history
    results = find_schedules(history_hourly, find_changes(history_hourly))
    score = score_schedules(results, truth)
    print("\n", score.as_json())
    assert score.true_windows >= 15
    assert score.found == score.true_windows, score.as_json()
    assert score.false_series == 0
    # Series with a block episode but no schedule are not called scheduled (the test is stratified).
    blocked = {(c.target, c.probe_asn) for c in truth.changes}
    assert not any(r.significant for r in results if (r.key.target, r.key.probe_asn) in blocked)


def test_words_name_days_hours_zone_and_p(history: tuple[Path, Truth], history_hourly: Hourly) -> None:
    _, truth = history
    results = {(r.key.target, r.key.probe_asn): r for r in find_schedules(history_hourly)}
    weekday = next(w for w in truth.windows if w.days == (0, 1, 2, 3, 4))
    words = results[(weekday.target, weekday.probe_asn)].words()
    assert words == (f"throttled on weekdays {weekday.start_hour:02d}:00-{weekday.end_hour:02d}:00 Asia/Baku, "
                     "p < 0.001")


def test_local_time_zone_matters(history: tuple[Path, Truth]) -> None:
    """Read in UTC, the same window sits four hours earlier (Asia/Baku is UTC+4)."""
    path, truth = history
    w = truth.windows[0]
    with open_store(path, read_only=True) as st:
        utc = hourly_counts(st, tz="UTC")
    res = next(r for r in find_schedules(utc) if r.key.target == w.target and r.key.probe_asn == w.probe_asn)
    assert res.zone == "UTC" and res.significant
    assert any(x.start_hour == (w.start_hour - 4) % 24 for x in res.windows)


def test_benjamini_hochberg() -> None:
    # sorted: 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.04, 0.0533.. -> monotone from the top: 0.04, 0.0533, 0.0533, 0.5
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert np.allclose(q, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_woodbury_cmh_equals_dense_form(history_hourly: Hourly) -> None:
    from ayiq.trends.schedule import _cmh_dense, cmh_test

    h = history_hourly
    for i in range(0, len(h), 10):
        rows = h.rows(i)
        cell = (h.local_dow[rows] * 24 + h.local_hour[rows]).astype(np.int64)
        stratum = (h.hour[rows] > np.median(h.hour[rows])).astype(np.int64)  # two strata
        fast, df_fast = cmh_test(cell, h.n[rows], h.k[rows], stratum)
        dense, df_dense = _cmh_dense(cell, h.n[rows], h.k[rows], stratum)
        assert df_fast == df_dense
        assert np.isclose(fast, dense, rtol=1e-6, atol=1e-6)
