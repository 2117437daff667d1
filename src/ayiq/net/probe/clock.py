"""Relative time for observations: seconds since the measurement started, as OONI's t0/t."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime


class Clock:
    """One per measurement: every observation's t0/t is relative to its creation."""

    __slots__ = ("_ids", "start", "started_at")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.started_at = datetime.now(UTC)
        self._ids = itertools.count(1)

    def now(self) -> float:
        return round(time.perf_counter() - self.start, 6)

    def transaction_id(self) -> int:
        return next(self._ids)


def ooni_time(when: datetime) -> str:
    """OONI's envelope time format: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
