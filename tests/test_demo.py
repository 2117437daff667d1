"""`make demo` end to end. Synthetic path: generate, ingest, judge, explain, export, trends, report, against the
known truth. Lab path (root): the censorship lab, a campaign on the lab's clock (stopped and resumed), verdicts
against what the censor did, trends, report; the lab is gone afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ayiq.lab.pytest_plugin import lab_support  # noqa: F401 - fixture (skips without root / namespaces)


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "ayiq.demo", "--workdir", str(work), "--mode", "synthetic",
                          "-n", "3000"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    assert "3000/3000 verdicts match the known truth" in out
    assert (work / "verdicts.csv").is_file() and (work / "verdicts.parquet").is_file()
    ((n,),) = duckdb.sql(f"SELECT count(*) FROM read_parquet('{work / 'verdicts.parquet'}')").fetchall()
    assert n == 3001  # 3000 measurements and the deliberately broken line, kept as a failure
    # The trends steps find what the generator put in: meydan.tv cut from 2026-11-08 12:00 UTC (16:00 Baku),
    # azadliq.info reset on weekdays 18:00-23:00 Asia/Baku.
    assert "meydan.tv" in out and "onset" in out and "2026-11-08" in out
    assert "weekdays 18:00-23:00 Asia/Baku" in out
    report = work / "report.html"
    assert report.is_file() and "meydan.tv" in report.read_text(encoding="utf-8")


@pytest.mark.root
@pytest.mark.slow
def test_demo_lab_path(tmp_path: Path, lab_support: None) -> None:  # noqa: F811
    import json
    import re
    from datetime import UTC, datetime, timedelta

    work = tmp_path / "demo-lab"
    env = {**os.environ, "COLUMNS": "200", "AYIQ_HOME": str(tmp_path / "home")}
    res = subprocess.run([sys.executable, "-m", "ayiq.demo", "--workdir", str(work), "--mode", "lab", "--days", "4",
                          "--every", "6"], capture_output=True, text=True, timeout=300, env=env)
    out = res.stdout
    assert res.returncode == 0, out[-4000:] + res.stderr[-3000:]
    run_id = re.search(r"lab ([0-9a-f]{8}) up", out)
    assert run_id and f"lab {run_id.group(1)} down" in out
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"ayiq-{run_id.group(1)}-" not in left  # the demo's lab is gone
    state = json.loads((work / "ayiq.duckdb.campaigns" / "demo-lab" / "state.json").read_text())
    assert state["status"] == "finished" and state["clock"] == "lab"
    assert [r["slot"] for r in state["runs"]] == list(range(16)) and "resumes where it stopped" in out
    match = re.search(r"(\d+)/(\d+) verdicts match what the censor was doing", out)
    assert match and int(match.group(1)) >= 0.9 * int(match.group(2)) > 0
    # Measurements are stamped with the lab's week (Mon 2026-11-16 .. Thu, Baku), not today's date.
    ((first, last),) = duckdb.connect(str(work / "ayiq.duckdb"), read_only=True).execute(
        "SELECT min(measurement_start_time), max(measurement_start_time) FROM v_verdicts").fetchall()
    assert first.date().isoformat() >= "2026-11-15" and last.date().isoformat() <= "2026-11-20"
    # meydan.lab's TLS resets start on Wednesday 00:00 Baku: trends finds that onset, at the first run after it.
    assert "meydan.lab" in out and "onset" in out
    changes = subprocess.run([sys.executable, "-m", "ayiq.cli.main", "trends", "changes", "--json", "--store",
                              str(work / "ayiq.duckdb")], capture_output=True, text=True, timeout=120, env=env)
    assert changes.returncode == 0, changes.stderr
    onsets = [c for c in map(json.loads, changes.stdout.splitlines())
              if c["kind"] == "onset" and c["target"] == "https://meydan.lab/"]
    truth = datetime(2026, 11, 17, 20, 0, tzinfo=UTC)
    assert len(onsets) == 1, onsets
    assert truth - timedelta(hours=1) <= datetime.fromisoformat(onsets[0]["time"]) <= truth + timedelta(hours=10)
    report = work / "report.html"
    assert report.is_file() and "meydan.lab" in report.read_text(encoding="utf-8")
