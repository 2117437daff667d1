"""Score detected change points and schedule windows against a synthetic history's known truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ayiq.trends.bins import Hourly
from ayiq.trends.changes import ChangePoint
from ayiq.trends.synth import Truth


@dataclass(slots=True)
class ChangeScore:
    detector: str
    true_changes: int
    found: int  # true changes matched within one bin (plus any stretch with no measurement around them)
    false: int  # detected changes matching no true change
    series_days: int
    errors_hours: list[float]

    @property
    def false_per_1000_series_days(self) -> float:
        return 1000.0 * self.false / max(1, self.series_days)

    def as_json(self) -> dict[str, Any]:
        err = np.abs(np.array(self.errors_hours)) if self.errors_hours else np.array([np.nan])
        return {
            "schema": "ayiq.trends.accuracy", "version": 1, "detector": self.detector,
            "true_changes": self.true_changes, "found": self.found, "missed": self.true_changes - self.found,
            "false": self.false, "series_days": self.series_days,
            "false_per_1000_series_days": round(self.false_per_1000_series_days, 3),
            "median_abs_error_hours": round(float(np.median(err)), 2),
            "max_abs_error_hours": round(float(np.max(err)), 2),
        }


def score_changes(found: list[ChangePoint], truth: Truth, hourly: Hourly, bin_hours: int,
                  detector: str) -> ChangeScore:
    """A true change counts as found when a detected change of the same kind on the same series lies within
    `bin_hours` of the stretch between the last measurement before it and the first after it."""
    index = {(k.target, k.probe_cc, k.probe_asn): i for i, k in enumerate(hourly.keys)}
    by_series: dict[tuple[str, str, str], list[ChangePoint]] = {}
    for c in found:
        by_series.setdefault((c.key.target, c.key.probe_cc, c.key.probe_asn), []).append(c)
    used: set[int] = set()
    matched, errors = 0, []
    for tc in truth.changes:
        key = (tc.target, tc.probe_cc, tc.probe_asn)
        lo, hi = _observed_gap(hourly, index.get(key), tc.time)
        best: ChangePoint | None = None
        for c in by_series.get(key, []):
            if id(c) in used or c.kind != tc.kind:
                continue
            t = c.time.timestamp()
            if lo - bin_hours * 3600 <= t <= hi + bin_hours * 3600 and (
                best is None or abs(t - tc.time.timestamp()) < abs(best.time.timestamp() - tc.time.timestamp())
            ):
                best = c
        if best is not None:
            used.add(id(best))
            matched += 1
            errors.append((best.time.timestamp() - tc.time.timestamp()) / 3600)
    false = sum(1 for c in found if id(c) not in used)
    return ChangeScore(detector, len(truth.changes), matched, false, truth.series_days, errors)


def _observed_gap(hourly: Hourly, i: int | None, when: datetime) -> tuple[float, float]:
    t = when.timestamp()
    if i is None:
        return t, t
    h = hourly.hour[hourly.rows(i)]
    hour = int(t // 3600)
    pos = int(np.searchsorted(h, hour))
    lo = float(h[pos - 1] * 3600) if pos > 0 and h[min(pos, h.size - 1)] != hour else t
    hi = float(h[pos] * 3600) if pos < h.size and h[pos] != hour else t
    return min(lo, t), max(hi, t)


@dataclass(slots=True)
class ScheduleScore:
    true_windows: int
    found: int
    false_series: int  # series called scheduled that have no true window

    def as_json(self) -> dict[str, Any]:
        return {"schema": "ayiq.trends.schedule_accuracy", "version": 1, "true_windows": self.true_windows,
                "found": self.found, "missed": self.true_windows - self.found, "false_series": self.false_series}


def score_schedules(results: list[Any], truth: Truth, tolerance_hours: int = 1) -> ScheduleScore:
    """A true window is found when its series is significant and has a window on the same days whose start
    and end are each within `tolerance_hours`."""
    by_key = {(r.key.target, r.key.probe_cc, r.key.probe_asn): r for r in results}
    found = 0
    truth_keys = set()
    for tw in truth.windows:
        key = (tw.target, tw.probe_cc, tw.probe_asn)
        truth_keys.add(key)
        r = by_key.get(key)
        if r is None or not r.significant:
            continue
        if any(w.days == tw.days and abs(w.start_hour - tw.start_hour) <= tolerance_hours
               and abs(w.end_hour - tw.end_hour) <= tolerance_hours for w in r.windows):
            found += 1
    false = sum(1 for key, r in by_key.items() if r.significant and key not in truth_keys)
    return ScheduleScore(len(truth.windows), found, false)
