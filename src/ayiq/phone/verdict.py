"""Judge a finished check (pure): alert counts per level, a verdict per spyware family, the exit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, ModuleResult
from ayiq.phone.sources.base import SourceInfo

EXIT_CLEAN = 0  # every artefact found was read, no alert at medium level or above
EXIT_ALERTS = 1  # at least one alert at medium level or above: a person must review the report
EXIT_ERROR = 2  # nothing was checked (bad input, missing/wrong password...)
EXIT_INCOMPLETE = 3  # no alert at medium+, but some artefacts could not be read: "clean" cannot be claimed

SCHEMA_VERDICT = ("ayiq.phone.verdict", 1)


@dataclass(slots=True)
class CheckOutcome:
    source: SourceInfo
    modules: list[ModuleResult]
    iocs: IocIndex
    started: str
    finished: str
    alerts: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.alerts = sorted((a for m in self.modules for a in m.alerts),
                             key=lambda a: (-a.level, a.event_time or "", a.module))

    @property
    def errors(self) -> list[str]:
        return [e for m in self.modules for e in m.errors]

    def counts(self) -> dict[str, int]:
        c = Counter(a.level for a in self.alerts)
        return {lvl.label: c.get(lvl, 0) for lvl in sorted(Level, reverse=True)}

    def family_verdicts(self) -> list[dict[str, Any]]:
        hits: dict[str, list[Alert]] = {}
        for a in self.alerts:
            if a.match is not None:
                hits.setdefault(a.match.indicator.family, []).append(a)
        per_family = Counter(i.family for d in self.iocs._by.values() for lst in d.values() for i in lst)
        out = []
        for fam in sorted(set(per_family) | set(hits)):
            found = hits.get(fam, [])
            out.append({
                "family": fam,
                "verdict": "traces_found" if found else "no_match",
                "indicators_checked": per_family.get(fam, 0),
                "matches": len(found),
                "first_seen": min((a.event_time for a in found if a.event_time), default=None),
                "says": (f"Traces consistent with {fam}: {len(found)} match(es) with its published indicators"
                         if found else f"No trace of {fam} among {per_family.get(fam, 0)} indicators checked"),
            })
        return out

    @property
    def exit_code(self) -> int:
        if any(a.level >= Level.MEDIUM for a in self.alerts):
            return EXIT_ALERTS
        if self.errors:
            return EXIT_INCOMPLETE
        return EXIT_CLEAN

    @property
    def overall(self) -> str:
        if any(a.level == Level.CRITICAL for a in self.alerts):
            return "traces_found"
        if self.exit_code == EXIT_ALERTS:
            return "needs_review"
        if self.exit_code == EXIT_INCOMPLETE:
            return "incomplete"
        return "no_traces_found"

    def summary_sentence(self) -> str:
        fams = [f["family"] for f in self.family_verdicts() if f["verdict"] == "traces_found"]
        checked = sum(1 for m in self.modules if m.files)
        if fams:
            s = f"Traces consistent with {', '.join(fams)} were found."
        elif self.exit_code == EXIT_ALERTS:
            s = "No published indicator matched, but some findings need review by an expert."
        else:
            s = "No trace of the spyware families checked was found."
        if not len(self.iocs):
            s += " No indicator files were loaded: only the built-in heuristics ran."
        if self.errors:
            s += f" {len(self.errors)} artefact(s) could not be read, so this check is incomplete."
        s += f" {checked} artefact type(s) were found and examined."
        return s

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERDICT[0], "version": SCHEMA_VERDICT[1],
            "verdict": self.overall, "summary": self.summary_sentence(), "exit_code": self.exit_code,
            "started": self.started, "finished": self.finished,
            "source": {"kind": self.source.kind, "path": self.source.path, "encrypted": self.source.encrypted},
            "device": self.source.device,
            "alert_counts": self.counts(),
            "families": self.family_verdicts(),
            "indicators": {"total": len(self.iocs), "kinds": dict(self.iocs.kinds()),
                           "files": [f.summary() for f in self.iocs.files]},
            "modules": [{"name": m.name, "title": m.title, "status": m.status, "files": m.files,
                         "records": len(m.records), "timeline_events": len(m.timeline), "alerts": len(m.alerts),
                         "errors": m.errors} for m in self.modules],
            "errors": self.errors,
            "warnings": self.source.warnings,
        }
