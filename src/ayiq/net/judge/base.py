"""Shared pieces of the judges: tolerant getters over parsed JSON, and verdict builders.

Measurements come from many probe versions and some are broken; every getter returns a typed default
instead of raising, so a judge reads like its rule and never crashes on odd input.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from typing import Any

from ayiq.core.verdict import Method, Status, Verdict, failed
from ayiq.net.judge.fingerprints import Fingerprints

JSON = dict[str, Any]
JudgeFn = Callable[[JSON, "Context"], Verdict]


class Context:
    """What a judge needs besides the measurement: the fingerprints (or None) and the probe's country."""

    __slots__ = ("fingerprints", "probe_cc")

    def __init__(self, fingerprints: Fingerprints | None, probe_cc: str) -> None:
        self.fingerprints = fingerprints
        self.probe_cc = probe_cc


def d(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def lst(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def s(value: object) -> str | None:
    return value if isinstance(value, str) else None


def i(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    return None


def f(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def b(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def text(value: object) -> str | None:
    """A string field that may be stored as {"format": "base64", "data": ...}; raises ValueError if corrupt."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("format") == "base64":
        data = value.get("data")
        if not isinstance(data, str):
            raise ValueError("base64 field without string data")
        try:
            raw = base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"corrupt base64 ({exc})") from exc
        return raw.decode("utf-8", "replace")
    return None


def unknown_failure(value: object) -> bool:
    return isinstance(value, str) and value.startswith("unknown_failure")


def verdict(
    judge: str,
    status: Status,
    method: Method | None,
    confidence: float,
    evidence: list[str],
    *,
    fingerprint: str | None = None,
    confirmed: bool = False,
    failure: bool | None = None,
    anomaly: bool | None = None,
) -> Verdict:
    """Build a verdict; OONI's flags follow from the status unless given."""
    return Verdict(
        status=status,
        method=method,
        confidence=max(0.0, min(1.0, confidence)),
        evidence=tuple(e for e in evidence if e),
        blockpage_fingerprint=fingerprint,
        anomaly=(status is Status.BLOCKED) if anomaly is None else anomaly,
        confirmed=confirmed,
        failure=(status is Status.FAILURE) if failure is None else failure,
        judge=judge,
    )


def broken(judge: str, reason: str) -> Verdict:
    return failed(reason, judge=judge)
