"""Build the trends report: one HTML file with the summary, charts and evidence, readable offline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import orjson

from ayiq import __version__
from ayiq.store import Store
from ayiq.store.queries import VerdictFilter
from ayiq.trends.bins import Hourly, hourly_counts
from ayiq.trends.changes import ChangeParams, ChangePoint, attach_evidence, find_changes
from ayiq.trends.schedule import ScheduleResult, attach_schedule_evidence, find_schedules

from . import charts

MAX_HEATMAPS = 12


@dataclass(slots=True)
class ReportData:
    flt: VerdictFilter
    hourly: Hourly
    changes: list[ChangePoint]
    schedules: list[ScheduleResult]
    specs: dict[str, Any] = field(default_factory=dict)
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def scheduled(self) -> list[ScheduleResult]:
        return [s for s in self.schedules if s.significant]


def collect(store: Store, flt: VerdictFilter) -> ReportData:
    hourly = hourly_counts(store, flt)
    changes = find_changes(hourly, ChangeParams())
    attach_evidence(store, changes)
    schedules = find_schedules(hourly, changes)
    attach_schedule_evidence(store, schedules)
    data = ReportData(flt, hourly, changes, schedules)
    data.specs["grid"] = charts.day_grid(hourly)
    data.specs["timeline"] = charts.timeline(changes)
    interfered = sorted(data.scheduled, key=lambda s: s.q_value or 1)[:MAX_HEATMAPS]
    blocked_keys = {c.key for c in changes}
    for s in schedules:
        if len(interfered) >= MAX_HEATMAPS:
            break
        if s.key in blocked_keys and s not in interfered:
            interfered.append(s)
    data.specs.update({f"week{i}": charts.week_heatmap(s) for i, s in enumerate(interfered)})
    return data


def summary_lines(data: ReportData) -> list[str]:
    """The findings in plain words (escaped by the template, like everything from measurements)."""
    h = data.hourly
    lines = [f"{h.total:,} usable verdicts on {len(h)} target x network series; "
             f"{int(h.k.sum()):,} show interference ({h.k.sum() / max(h.total, 1):.1%})."]
    for c in data.changes:
        local = c.time.astimezone(__import__("zoneinfo").ZoneInfo(c.zone))
        if c.kind == "onset":
            lines.append(f"{c.key.target} on {c.key.probe_asn}: interference ({c.method_after or 'unknown method'}) "
                         f"from {c.time:%Y-%m-%d %H:00} UTC ({local:%H:00} {c.zone}); blocked share "
                         f"{c.rate_before:.0%} -> {c.rate_after:.0%}.")
        else:
            lines.append(f"{c.key.target} on {c.key.probe_asn}: interference ended around "
                         f"{c.time:%Y-%m-%d %H:00} UTC ({local:%H:00} {c.zone}); blocked share "
                         f"{c.rate_before:.0%} -> {c.rate_after:.0%}.")
    for s in data.scheduled:
        lines.append(f"{s.key.target} on {s.key.probe_asn}: {s.words()}.")
    if len(lines) == 1:
        lines.append("No change point and no weekly schedule were found in this selection.")
    return lines


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed in one script (shipped inside the vl-convert wheel: no network)."""
    from importlib.metadata import version

    import vl_convert
    from platformdirs import user_cache_dir

    # Bundling takes seconds; keep the result per vl-convert version in the user's cache.
    cache = Path(user_cache_dir("ayiq")) / f"vega-bundle-{version('vl-convert-python')}.js"
    if cache.is_file():
        return cache.read_text(encoding="utf-8")
    bundler: Any = vl_convert.javascript_bundle
    text = str(bundler())
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        pass  # a read-only home is fine: bundle again next time
    return text


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ayiq.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )


def specs_json(specs: dict[str, Any]) -> str:
    """Chart specs as JSON safe inside a <script> element (no '</' or '<!--' can close it)."""
    text = orjson.dumps(specs).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(data: ReportData, title: str) -> str:
    return _env().get_template("report.html.j2").render(
        title=title, data=data, summary=summary_lines(data), specs=specs_json(data.specs),
        bundle=vega_bundle().replace("</script", "<\\/script"), version=__version__,
        filters={k: v for k, v in (("country", data.flt.country), ("network", data.flt.asn),
                                   ("target", data.flt.target), ("since", data.flt.since),
                                   ("until", data.flt.until)) if v},
    )


def build_report(store: Store, flt: VerdictFilter, output: Path, title: str = "Ayiq: interference report") -> Path:
    data = collect(store, flt)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(render(data, title), encoding="utf-8")
    tmp.replace(output)
    return output
