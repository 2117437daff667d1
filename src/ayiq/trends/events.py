"""Interference around events (rallies, elections, trials) against the days before them.

For each event and series, the daily blocked share on the event's days (from `before` days before to `after`
days after the date) is compared with the baseline: the `baseline` days before that window, minus other events'
windows. Days are the unit (measurements on one day are not independent), the test is Mann-Whitney U, the
effect sizes are the difference in blocked share and Cliff's delta; p-values are adjusted across all
event x series pairs (Benjamini-Hochberg).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from ayiq.core.errors import InputError
from ayiq.trends.bins import Hourly, SeriesKey
from ayiq.trends.schedule import benjamini_hochberg


@dataclass(frozen=True, slots=True)
class Event:
    day: date
    name: str


def read_calendar(path: Path) -> list[Event]:
    """A CSV with a header holding `date` (YYYY-MM-DD) and `name`; other columns are ignored."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(path, f"cannot read the calendar: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, "the calendar is not UTF-8 text") from exc
    events = []
    for i, row in enumerate(rows, start=2):
        if "date" not in row or "name" not in row:
            raise InputError(path, "the calendar needs a header with the columns date,name")
        try:
            day = date.fromisoformat((row["date"] or "").strip())
        except ValueError as exc:
            raise InputError(path, f"line {i}: {row['date']!r} is not a date (YYYY-MM-DD)") from exc
        events.append(Event(day, (row["name"] or "").strip() or f"event on {day}"))
    if not events:
        raise InputError(path, "the calendar has no events")
    return events


@dataclass(slots=True)
class EventEffect:
    event: Event
    key: SeriesKey
    zone: str
    window_days: int
    baseline_days: int
    rate_event: float
    rate_baseline: float
    cliffs_delta: float
    p_value: float
    q_value: float = 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": "ayiq.trends.event", "version": 1, "event": self.event.name,
            "date": self.event.day.isoformat(), "target": self.key.target, "probe_cc": self.key.probe_cc,
            "probe_asn": self.key.probe_asn, "timezone": "UTC (days are UTC days)", "local_timezone": self.zone,
            "event_days": self.window_days, "baseline_days": self.baseline_days,
            "rate_event": round(self.rate_event, 4), "rate_baseline": round(self.rate_baseline, 4),
            "difference": round(self.rate_event - self.rate_baseline, 4),
            "cliffs_delta": round(self.cliffs_delta, 4), "test": "mann-whitney-u (days)",
            "p_value": self.p_value, "q_value": self.q_value,
        }


def event_effects(hourly: Hourly, events: list[Event], before: int = 1, after: int = 1,
                  baseline: int = 14) -> list[EventEffect]:
    windows = [(e, e.day - timedelta(days=before), e.day + timedelta(days=after)) for e in events]
    epoch = date(1970, 1, 1)

    def ix(d: date) -> int:
        return (d - epoch).days

    busy: set[int] = set()
    for _e, a, b in windows:
        busy.update(range(ix(a), ix(b) + 1))
    out: list[EventEffect] = []
    for i in range(len(hourly)):
        rows = hourly.rows(i)
        day = hourly.hour[rows] // 24
        uniq, first = np.unique(day, return_index=True)
        if uniq.size == 0:
            continue
        n = np.add.reduceat(hourly.n[rows], first)
        k = np.add.reduceat(hourly.k[rows], first)
        for e, a, b in windows:
            in_win = (uniq >= ix(a)) & (uniq <= ix(b))
            base_lo = ix(a) - baseline
            in_base = (uniq >= base_lo) & (uniq < ix(a)) & ~np.isin(uniq, list(busy))
            if in_win.sum() < 1 or in_base.sum() < 3:
                continue
            r_w, r_b = k[in_win] / n[in_win], k[in_base] / n[in_base]
            if np.ptp(np.concatenate([r_w, r_b])) == 0:
                p, u = 1.0, r_w.size * r_b.size / 2
            else:
                u, p = mannwhitneyu(r_w, r_b, alternative="two-sided")
            out.append(EventEffect(
                event=e, key=hourly.keys[i], zone=hourly.zones[i], window_days=int(in_win.sum()),
                baseline_days=int(in_base.sum()), rate_event=float(k[in_win].sum() / n[in_win].sum()),
                rate_baseline=float(k[in_base].sum() / n[in_base].sum()),
                cliffs_delta=float(2 * u / (r_w.size * r_b.size) - 1), p_value=float(p),
            ))
    for eff, q in zip(out, benjamini_hochberg([o.p_value for o in out]), strict=True):
        eff.q_value = q
    return out
