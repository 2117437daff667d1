"""The net judges: pure functions from one OONI-format measurement to a Verdict with evidence.

``Judge`` dispatches on ``test_name``; it never raises: broken input gives a FAILURE verdict naming the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ayiq.core.verdict import Status, Verdict, failed
from ayiq.net.judge.base import Context, JudgeFn, verdict
from ayiq.net.judge.fingerprints import Fingerprint, Fingerprints, load_fingerprints
from ayiq.net.judge.im import IM_JUDGES
from ayiq.net.judge.other import OTHER_JUDGES
from ayiq.net.judge.web_connectivity import judge_web_connectivity

JUDGES: dict[str, JudgeFn] = {"web_connectivity": judge_web_connectivity, **IM_JUDGES, **OTHER_JUDGES}


class Judge:
    """Call with a parsed OONI measurement (a dict); returns a Verdict. Picklable, built once per process."""

    def __init__(self, fingerprints: Fingerprints | None = None) -> None:
        self.fingerprints = fingerprints

    def __call__(self, measurement: Mapping[str, Any] | Any) -> Verdict:
        name = ""
        try:
            if not isinstance(measurement, dict):
                return failed("the measurement is not a JSON object", judge="ayiq")
            tn = measurement.get("test_name")
            name = tn if isinstance(tn, str) else ""
            if not name:
                return failed("the measurement has no test_name", judge="ayiq")
            fn = JUDGES.get(name)
            if fn is None:
                # Like OONI's fastpath, an unscored test is flagged failure: it cannot show blocking either way.
                return verdict(name, Status.INCONCLUSIVE, None, 0.0, [f"no judge for test {name}"], failure=True)
            cc = measurement.get("probe_cc")
            ctx = Context(self.fingerprints, cc.upper() if isinstance(cc, str) else "")
            return fn(measurement, ctx)
        except RecursionError:
            return failed("the measurement is nested too deeply to read", judge=name or "ayiq")
        except Exception as exc:  # the contract: a judge never raises; the reason becomes the evidence
            return failed(f"unreadable measurement ({type(exc).__name__}: {str(exc)[:160]})", judge=name or "ayiq")


__all__ = ["JUDGES", "Fingerprint", "Fingerprints", "Judge", "load_fingerprints"]
