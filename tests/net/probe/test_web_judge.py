"""Our web measurements are readable by the web_connectivity judge written against OONI's format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scenario import lab

from ayiq.net.tests.web import web_connectivity


def test_judge_reads_probe_measurements(tmp_path: Path) -> None:
    judge_mod = pytest.importorskip("ayiq.net.judge")

    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, ["ok.test", "inject.test", "gone.test", "down.test"]) as lb:
            lb.probe_zone.inject["inject.test"] = (["127.0.0.66"], 33)
            lb.probe_zone.nxdomain.add("gone.test")
            lb.probe_zone.a["down.test"] = lb.control_zone.a["down.test"] = ["127.0.0.77"]
            cfg = lb.config()
            names = ["ok", "inject", "gone", "down"]
            ms = await asyncio.gather(*(web_connectivity(f"https://{n}.test:{lb.port}/", cfg) for n in names))
            return dict(zip(names, ms, strict=True))

    m = asyncio.run(go())
    judge = judge_mod.Judge()
    verdicts = {k: judge(v) for k, v in m.items()}
    # loopback sites are "not on the public Internet" to the judge (down, not ok); what matters here is that
    # it reads our keys and finds no interference where there is none, and the right method where there is
    assert verdicts["ok"].status.value in ("ok", "down") and not verdicts["ok"].anomaly, verdicts["ok"].evidence
    assert verdicts["inject"].status.value == "blocked" and verdicts["inject"].method.value == "dns"
    assert verdicts["gone"].status.value == "blocked" and verdicts["gone"].method.value == "dns"
    assert verdicts["down"].status.value == "down" and not verdicts["down"].anomaly
