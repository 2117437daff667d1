"""benchmarks/probe_vs_ooni.py end to end at small scale: OONI and Ayiq both measure lab targets and agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANCHOR = Path("/work/shared/anchors/ooni-probe/bin/lab/miniooni")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks/probe_vs_ooni.py"


@pytest.mark.root
def test_bench_probe_small(lab_support: None, tmp_path: Path) -> None:
    if not ANCHOR.is_file():
        pytest.skip(f"the OONI Probe anchor is absent ({ANCHOR}); the comparison needs its miniooni and oohelperd")
    done = subprocess.run([sys.executable, str(BENCH), "--limit", "3"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AYIQ_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    # open1 (clean), dnsinj1 (DNS injection), nxd1 (NXDOMAIN): every tool right on each.
    assert "correct: OONI v0.4 3/3, OONI v0.5 3/3, Ayiq 3/3" in done.stdout, done.stdout + done.stderr[-2000:]
    assert "Ayiq/v0.5 = " in done.stdout
