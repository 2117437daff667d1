"""Run artefact modules over a source: each module's failure is recorded (never silent, never fatal to
the others), and the results feed the verdict and the report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import ModuleResult, Record

log = logging.getLogger(__name__)


def run_artifact(art: Artifact, source: Any, iocs: IocIndex) -> ModuleResult:
    """Locate, parse, check and make the timeline of one artefact; errors are kept, never raised."""
    res = ModuleResult(art.name, art.title)
    records_from = getattr(art, "records_from", None)
    if records_from is not None:
        try:
            res.records = records_from(source)
        except InputError as exc:
            res.errors.append(str(exc))
        except Exception as exc:  # hostile input must give an error line, not a crash
            res.errors.append(f"{art.name}: unexpected {type(exc).__name__}: {exc}")
        res.files = [source.info.path] if res.records or res.errors else []
    else:
        records: list[Record] = []
        res.records = records
        for f in art.locate(source):
            res.files.append(f.device_path)
            try:
                records += art.parse(f)
            except InputError as exc:
                res.errors.append(str(exc))
            except Exception as exc:
                res.errors.append(f"{f.device_path}: cannot read ({type(exc).__name__}: {exc})")
    try:
        res.alerts = art.check(res.records, iocs)
        res.timeline = art.timeline(res.records)
    except Exception as exc:
        res.errors.append(f"{art.name}: checking failed ({type(exc).__name__}: {exc})")
    return res


def run_all(artifacts: Sequence[Artifact], source: Any, iocs: IocIndex) -> list[ModuleResult]:
    return [run_artifact(a, source, iocs) for a in artifacts]
