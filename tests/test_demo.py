"""`make demo` end to end: generate, ingest, judge, explain, export, trends, report, against the known truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "ayiq.demo", "--workdir", str(work), "-n", "3000"],
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
