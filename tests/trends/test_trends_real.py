"""Real OONI measurements (../shared/data/ooni/real) go through ingest -> judge -> trends -> report."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.net.ingest import ingest

runner = CliRunner()


@pytest.mark.shared_data
def test_real_measurements_through_trends_and_report(shared_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "real.duckdb"
    rep = ingest([shared_data / "ooni" / "real"], store=store, executor="serial")
    assert rep.records > 50  # files that are not measurements are reported by ingest, not our concern here
    for cmd in (["trends", "changes"], ["trends", "schedule", "--all"], ["trends", "changes", "--baseline"]):
        res = runner.invoke(app, [*cmd, "--store", str(store), "--json"])
        assert res.exit_code == 0, res.output
        for line in res.stdout.splitlines():
            assert orjson.loads(line)["schema"].startswith("ayiq.trends.")
    sched = runner.invoke(app, ["trends", "schedule", "--store", str(store), "--all", "--json"])
    assert len(sched.stdout.splitlines()) > 10  # every series is listed, with why it was or was not tested
    cal = tmp_path / "cal.csv"
    cal.write_text("date,name\n2021-07-20,test event\n")
    assert runner.invoke(app, ["trends", "events", "--store", str(store), "--calendar", str(cal)]).exit_code == 0
    out = tmp_path / "real.html"
    res = runner.invoke(app, ["report", "--store", str(store), "--output", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "usable verdicts on" in html and "vegaEmbed" in html
