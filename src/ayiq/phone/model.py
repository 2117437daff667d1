"""The values every phone check produces: records, alerts with levels, timeline events, module results."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, overload

from ayiq.phone.iocs.model import Match

Record = dict[str, Any]


class RecordTable(Sequence[Record]):
    """Many records of one shape kept as tuples (a fifth of the memory of dicts), read back as dicts.
    Used where a module has hundreds of thousands of records (Manifest.db)."""

    __slots__ = ("keys", "rows")

    def __init__(self, keys: tuple[str, ...], rows: list[tuple[Any, ...]] | None = None) -> None:
        self.keys = keys
        self.rows: list[tuple[Any, ...]] = rows if rows is not None else []

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | Sequence[Record]:
        if isinstance(i, slice):
            return [dict(zip(self.keys, r, strict=True)) for r in self.rows[i]]
        return dict(zip(self.keys, self.rows[i], strict=True))

    def __iter__(self) -> Iterator[Record]:
        keys = self.keys
        for r in self.rows:
            yield dict(zip(keys, r, strict=True))


class Level(IntEnum):
    """How strongly an alert points at spyware (see docs/phone.md, "What the levels mean")."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


LEVEL_MEANING = {
    Level.CRITICAL: "matches a published indicator of a spyware family: strong evidence, have an expert confirm it",
    Level.HIGH: "a trace that spyware is known to leave (or tampering with evidence): needs expert review",
    Level.MEDIUM: "unusual, seen in infections but also with ordinary software: review in context",
    Level.LOW: "worth a look, usually harmless on its own",
    Level.INFO: "context for the examiner, not a sign of infection",
}


@dataclass(slots=True)
class Alert:
    level: Level
    module: str
    message: str
    event_time: str | None = None
    record: Record = field(default_factory=dict)
    match: Match | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level.label,
            "module": self.module,
            "message": self.message,
            "event_time": self.event_time,
            "indicator": None if self.match is None else {
                **self.match.indicator.as_json(), "observed": self.match.observed, "how": self.match.how},
            "record": self.record,
        }


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    timestamp: str  # ISO 8601 UTC, "YYYY-MM-DD HH:MM:SS.ffffff"
    module: str
    event: str
    data: str


@dataclass(slots=True)
class ModuleResult:
    """One artefact module's run: the files it read, what it found, and any error (never silent)."""

    name: str
    title: str
    files: list[str] = field(default_factory=list)
    records: Sequence[Record] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return "error" if not self.records else "partial"
        return "ok" if self.files else "not_found"


def ioc_alert(module: str, match: Match, what: str, event_time: str | None, record: Record,
              level: Level = Level.CRITICAL) -> Alert:
    """The one way a module reports an indicator match: the message names family, value and where."""
    ind = match.indicator
    how = "" if match.how == "exact" else f" ({match.how})"
    msg = f"{what} {match.observed!r}, which matches the published {ind.family} indicator {ind.value!r}{how}"
    rec = dict(record)
    rec["matched_indicator"] = ind.as_json()
    return Alert(level, module, msg, event_time, rec, match)
