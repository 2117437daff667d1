"""Change points on a seeded history with known truth: ours (binomial PELT) against OONI's CUSUM."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from ayiq.store import Store, open_store
from ayiq.trends.accuracy import score_changes
from ayiq.trends.bins import Hourly, hourly_counts
from ayiq.trends.changes import (
    ChangeParams,
    attach_evidence,
    find_changes,
    find_cusum_changes,
    pelt_binomial,
    pelt_ruptures,
)
from ayiq.trends.synth import HistorySpec, Truth, generate_history


def test_every_onset_and_end_within_one_bin_and_few_false(history: tuple[Path, Truth],
                                                           history_hourly: Hourly) -> None:
    _, truth = history
    ours = find_changes(history_hourly, ChangeParams(bin_hours=24))
    score = score_changes(ours, truth, history_hourly, 24, "binomial-pelt")
    base = score_changes(find_cusum_changes(history_hourly), truth, history_hourly, 24, "ooni-cusum")
    print("\n", score.as_json(), "\n", base.as_json())  # the figures, side by side (pytest -s shows them)
    assert score.true_changes > 50
    assert score.found == score.true_changes, score.as_json()
    assert score.false_per_1000_series_days <= 1.0, score.as_json()
    assert np.median(np.abs(score.errors_hours)) < 2.0
    # The baseline does worse on the same data: it misses or misplaces changes and raises false ones.
    assert base.found < score.found and base.false > score.false


def test_vectorised_pelt_equals_ruptures(history_hourly: Hourly) -> None:
    checked = 0
    for i in range(0, len(history_hourly), 3):
        rows = history_hourly.rows(i)
        _, first = np.unique(history_hourly.hour[rows] // 24, return_index=True)
        N = np.add.reduceat(history_hourly.n[rows], first).astype(float)
        K = np.add.reduceat(history_hourly.k[rows], first).astype(float)
        pen = 3.0 * math.log(N.sum())
        assert pelt_binomial(N, K, pen) == pelt_ruptures(N, K, pen)
        checked += 1
    assert checked >= 30


def _store_from(spec: HistorySpec, tmp: Path, keep: object = None) -> tuple[Store, Truth]:
    m, v, truth = generate_history(spec)
    if keep is not None:
        mask = keep(m)  # type: ignore[operator]
        m, v = m.filter(mask), v.filter(mask)
    st = open_store(tmp / "s.duckdb")
    st.append(m, v, "t", "test")
    return st, truth


def test_a_week_without_measurements_is_not_a_change(tmp_path: Path) -> None:
    """Probe churn: every probe gone for a week. Nothing is measured, so nothing changed."""
    spec = HistorySpec(seed=3, targets=6, days=40, share_block=0.0, share_schedule=0.0)
    gap_from = spec.start + timedelta(days=15)
    gap_to = gap_from + timedelta(days=7)

    def keep(m: pa.Table) -> pa.Array:
        import pyarrow.compute as pc

        t = m.column("measurement_start_time")
        return pc.or_(pc.less(t, pa.scalar(gap_from, pa.timestamp("us", tz="UTC"))),
                      pc.greater_equal(t, pa.scalar(gap_to, pa.timestamp("us", tz="UTC"))))

    st, _ = _store_from(spec, tmp_path, keep)
    with st:
        hourly = hourly_counts(st)
    assert len(hourly) == 6 * len(spec.networks)
    assert find_changes(hourly) == []


def test_change_carries_method_time_zone_and_evidence(history_store: Store, history: tuple[Path, Truth],
                                                      history_hourly: Hourly) -> None:
    _, truth = history
    tc = next(c for c in truth.changes if c.kind == "onset")
    i = [k.target == tc.target and k.probe_asn == tc.probe_asn for k in history_hourly.keys].index(True)
    from ayiq.trends.changes import series_changes

    found = [c for c in series_changes(history_hourly, i) if c.kind == "onset"]
    best = min(found, key=lambda c: abs(c.time - tc.time))
    assert abs(best.time - tc.time) <= timedelta(hours=24)
    assert best.method_after == tc.method and best.rate_after > 0.8 and best.rate_before < 0.2
    attach_evidence(history_store, [best])
    sides = {e["side"] for e in best.evidence}
    assert sides == {"before", "after"}
    assert all(e["measurement_uid"].startswith("synth-7-") for e in best.evidence)
    after = [e for e in best.evidence if e["side"] == "after"]
    assert all(datetime.fromisoformat(e["time"]) >= best.time for e in after)
    j = best.as_json()
    assert j["schema"] == "ayiq.trends.change" and j["version"] == 1 and j["timezone"] == "Asia/Baku"
    assert datetime.fromisoformat(j["time"]).tzinfo == UTC or j["time"].endswith("+00:00")
    assert datetime.fromisoformat(j["time_local"]).utcoffset() == timedelta(hours=4)
