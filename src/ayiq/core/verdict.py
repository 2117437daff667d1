"""The verdict every net judge returns: status, method, confidence and the evidence behind it.

Verdicts are values (frozen, slotted) so judges stay pure and results can be compared across runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    BLOCKED = "blocked"
    DOWN = "down"
    INCONCLUSIVE = "inconclusive"
    FAILURE = "failure"


class Method(StrEnum):
    DNS = "dns"
    TCP_IP = "tcp_ip"
    TLS = "tls"
    HTTP_FAILURE = "http-failure"
    BLOCKPAGE = "blockpage"
    HTTP_DIFF = "http-diff"
    UDP = "udp"
    THROTTLING = "throttling"


JUDGE_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a judge decided about one measurement, and why.

    ``evidence`` is a chain of short sentences, each naming the observation it rests on.
    ``anomaly``/``confirmed``/``failure`` carry OONI Explorer's meaning: anomaly = signs of blocking,
    confirmed = a known blockpage fingerprint matched, failure = the measurement itself is unusable.
    """

    status: Status
    method: Method | None = None
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    blockpage_fingerprint: str | None = None
    anomaly: bool = False
    confirmed: bool = False
    failure: bool = False
    judge: str = ""
    judge_version: str = JUDGE_VERSION
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside 0..1")

    def as_row(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "method": self.method.value if self.method else None,
            "confidence": float(self.confidence),
            "evidence": list(self.evidence),
            "blockpage_fingerprint": self.blockpage_fingerprint,
            "anomaly": self.anomaly,
            "confirmed": self.confirmed,
            "failure": self.failure,
            "judge": self.judge,
            "judge_version": self.judge_version,
        }


def failed(reason: str, judge: str = "") -> Verdict:
    """The verdict for a measurement that cannot be judged: it names the reason."""
    return Verdict(status=Status.FAILURE, evidence=(reason,), failure=True, judge=judge)
