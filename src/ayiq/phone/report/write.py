"""Write a check's outputs into one folder: verdict.json, alerts.json, timeline.csv, modules/*.json and
report.html. Only fixed file names are written, all inside the output folder."""

from __future__ import annotations

import base64
import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from jinja2.bccache import Bucket

from ayiq.core.errors import AyiqError
from ayiq.core.paths import cache_dir
from ayiq.phone.model import LEVEL_MEANING, Level, ModuleResult, TimelineEvent
from ayiq.phone.verdict import CheckOutcome

SCHEMA_ALERTS = ("ayiq.phone.alerts", 1)
SCHEMA_MODULE = ("ayiq.phone.module_records", 1)
TIMELINE_COLUMNS = ["timestamp", "module", "event", "data", "alert_level"]
CONTEXT_EVENTS = 5  # timeline rows shown before and after each finding in the report


def _default(o: Any) -> Any:
    if isinstance(o, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(o)).decode()}
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def dump_json(path: Path, obj: Any) -> None:
    opts = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    try:
        data = orjson.dumps(obj, default=_default, option=opts)
    except TypeError:  # evidence can hold integers past 64 bits: keep them, as strings
        data = orjson.dumps(_plain(obj), default=_default, option=opts)
    path.write_bytes(data)


def _plain(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_plain(v) for v in o]
    if isinstance(o, int) and not isinstance(o, bool) and not -(2**63) <= o < 2**64:
        return str(o)
    return o


def write_module_records(path: Path, m: ModuleResult) -> None:
    """The same JSON as one dump, written a record at a time so 200,000 records never sit in memory twice."""
    head = {"schema": SCHEMA_MODULE[0], "version": SCHEMA_MODULE[1], "module": m.name, "title": m.title,
            "status": m.status, "files": m.files, "errors": m.errors}
    opts = orjson.OPT_NON_STR_KEYS
    with path.open("wb") as fh:
        fh.write(orjson.dumps(head, default=_default, option=opts)[:-1] + b', "records": [\n')
        first = True
        for rec in m.records:
            try:
                data = orjson.dumps(rec, default=_default, option=opts)
            except TypeError:
                data = orjson.dumps(_plain(rec), default=_default, option=opts)
            fh.write(data if first else b",\n" + data)
            first = False
        fh.write(b"\n]}\n")


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in hostile text (a message starting with '=' stays text)."""
    risky = value[:1] in ("=", "+", "@", "\t", "\r") or (value[:1] == "-" and value[1:2] not in ("-", ""))
    return "'" + value if risky else value


def write_outputs(outcome: CheckOutcome, out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "modules").mkdir(exist_ok=True)
    except OSError as exc:
        raise AyiqError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from exc
    dump_json(out_dir / "verdict.json", outcome.as_json())
    dump_json(out_dir / "alerts.json", {"schema": SCHEMA_ALERTS[0], "version": SCHEMA_ALERTS[1],
                                        "counts": outcome.counts(), "alerts": [a.as_json() for a in outcome.alerts]})
    for m in outcome.modules:
        write_module_records(out_dir / "modules" / f"{m.name}.json", m)
    timeline = sorted((e for m in outcome.modules for e in m.timeline), key=lambda e: (e.timestamp, e.module))
    alert_at = {(a.module, a.event_time): a.level.label for a in outcome.alerts if a.event_time}
    with (out_dir / "timeline.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TIMELINE_COLUMNS)
        for e in timeline:
            w.writerow([e.timestamp, e.module, _cell(e.event), _cell(e.data), alert_at.get((e.module, e.timestamp), "")])
    (out_dir / "report.html").write_text(render_html(outcome, timeline), encoding="utf-8")


def _around(timeline: list[TimelineEvent], ts: str | None) -> list[TimelineEvent]:
    if not ts:
        return []
    import bisect

    keys = [e.timestamp for e in timeline]
    i = bisect.bisect_left(keys, ts)
    return timeline[max(0, i - CONTEXT_EVENTS): i + CONTEXT_EVENTS + 1]


class _TemplateCache(FileSystemBytecodeCache):
    """The report template compiled once (jinja2 keys it by template name and checks the source checksum and
    its own version); compiling it is a tenth of a small check. Any failure means compiling again."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a truncated or foreign file: jinja2 lets pickle/marshal errors through
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _template_cache() -> _TemplateCache | None:
    d = cache_dir() / "phone" / "templates"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(d))


def render_html(outcome: CheckOutcome, timeline: list[TimelineEvent]) -> str:
    env = Environment(loader=PackageLoader("ayiq.phone.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      bytecode_cache=_template_cache())
    findings = [{"alert": a, "context": _around(timeline, a.event_time)}
                for a in outcome.alerts if a.level >= Level.LOW][:500]
    info = [a for a in outcome.alerts if a.level == Level.INFO]
    return env.get_template("report.html.j2").render(
        o=outcome, v=outcome.as_json(), findings=findings, info=info,
        levels=[(lvl.label, LEVEL_MEANING[lvl]) for lvl in sorted(Level, reverse=True)],
        n_timeline=len(timeline))
