"""`make demo` end to end: generate, ingest, judge, explain, export, and agree with the known truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "ayiq.demo", "--workdir", str(work), "-n", "180"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "180/180 verdicts match the known truth" in res.stdout
    assert (work / "verdicts.csv").is_file() and (work / "verdicts.parquet").is_file()
    ((n,),) = duckdb.sql(f"SELECT count(*) FROM read_parquet('{work / 'verdicts.parquet'}')").fetchall()
    assert n == 181  # 180 measurements and the deliberately broken line, kept as a failure
