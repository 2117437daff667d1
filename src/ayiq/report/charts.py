"""Vega-Lite charts (built with Altair) over trend results; rendered in the page by the embedded Vega bundle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt
import numpy as np

from ayiq.trends.bins import Hourly
from ayiq.trends.changes import ChangePoint
from ayiq.trends.schedule import DAY_NAMES, ScheduleResult


def _data(values: list[dict[str, Any]]) -> Any:
    data: Any = alt.Data
    return data(values=values)


def _day(ix: int) -> str:
    return datetime.fromtimestamp(int(ix) * 86400, UTC).strftime("%Y-%m-%d")


def day_grid(hourly: Hourly, max_series: int = 60) -> dict[str, Any]:
    """Target x day grid: blocked share per day (colour), measurements per day (tooltip)."""
    values = []
    for i in range(min(len(hourly), max_series)):
        rows = hourly.rows(i)
        day = hourly.hour[rows] // 24
        uniq, first = np.unique(day, return_index=True)
        n = np.add.reduceat(hourly.n[rows], first)
        k = np.add.reduceat(hourly.k[rows], first)
        label = hourly.keys[i].label()
        values += [{"series": label, "day": _day(d), "blocked": round(float(kk / nn), 3), "n": int(nn)}
                   for d, nn, kk in zip(uniq, n, k, strict=True)]
    chart = alt.Chart(_data(values)).mark_rect().encode(
        x=alt.X("day:O", title="day (UTC)"), y=alt.Y("series:N", title=None),
        color=alt.Color("blocked:Q", scale=alt.Scale(domain=[0, 1], scheme="orangered"), title="blocked share"),
        tooltip=["series:N", "day:O", "blocked:Q", "n:Q"],
    ).properties(width="container", height=alt.Step(14))
    spec: dict[str, Any] = chart.to_dict()
    return spec


def week_heatmap(res: ScheduleResult) -> dict[str, Any]:
    """Hour x weekday heatmap of the blocked share, in the series' local time zone."""
    values = []
    for c in range(7 * 24):
        n = int(res.cell_n[c])
        if n:
            values.append({"weekday": DAY_NAMES[c // 24], "hour": c % 24, "blocked": round(res.cell_k[c] / n, 3),
                           "n": n})
    chart = alt.Chart(_data(values)).mark_rect().encode(
        x=alt.X("hour:O", title=f"hour ({res.zone})"),
        y=alt.Y("weekday:O", sort=list(DAY_NAMES), title=None),
        color=alt.Color("blocked:Q", scale=alt.Scale(domain=[0, 1], scheme="orangered"), title="blocked share"),
        tooltip=["weekday:O", "hour:O", "blocked:Q", "n:Q"],
    ).properties(width="container", height=140, title=res.key.label())
    spec: dict[str, Any] = chart.to_dict()
    return spec


def timeline(changes: list[ChangePoint]) -> dict[str, Any]:
    """Change points on a timeline: one row per series, onsets and ends marked."""
    values = [{"series": c.key.label(), "time": c.time.isoformat(), "kind": c.kind,
               "method": c.method_after if c.kind == "onset" else c.method_before,
               "share": f"{c.rate_before:.0%} -> {c.rate_after:.0%}"} for c in changes]
    chart = alt.Chart(_data(values)).mark_point(filled=True, size=90).encode(
        x=alt.X("time:T", title="time (UTC)"), y=alt.Y("series:N", title=None),
        color=alt.Color("kind:N", scale=alt.Scale(domain=["onset", "end"], range=["#c0392b", "#2e86c1"])),
        shape=alt.Shape("kind:N", scale=alt.Scale(domain=["onset", "end"], range=["triangle-up", "triangle-down"])),
        tooltip=["series:N", "time:T", "kind:N", "method:N", "share:N"],
    ).properties(width="container", height=alt.Step(16))
    spec: dict[str, Any] = chart.to_dict()
    return spec
