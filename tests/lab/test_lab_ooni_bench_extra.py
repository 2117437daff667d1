"""benchmarks/probe_vs_ooni.py's throttle and voice parts at small scale: OONI's web_connectivity is silent on the
throttled targets and Ayiq's throttle test is right; OONI's stunreachability and Ayiq's voice test on the relays."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ANCHOR = Path("/work/shared/anchors/ooni-probe/bin/lab/miniooni")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks/probe_vs_ooni.py"


@pytest.mark.root
@pytest.mark.slow
def test_bench_probe_throttle_and_voice(lab_support: None, tmp_path: Path) -> None:
    if not ANCHOR.is_file():
        pytest.skip(f"the OONI Probe anchor is absent ({ANCHOR}); the comparison needs its miniooni and oohelperd")
    done = subprocess.run([sys.executable, str(BENCH), "--limit", "1", "--extra"], capture_output=True, text=True,
                          timeout=400, env={**os.environ, "AYIQ_HOME": str(tmp_path)})
    out = done.stdout + done.stderr[-2000:]
    assert done.returncode == 0, out
    assert "correct: OONI v0.4 1/1, OONI v0.5 1/1, Ayiq 1/1" in done.stdout, out
    # the scenario's shaper and policer: web_connectivity says accessible, our throttle test says throttling
    assert ("throttling (2 targets): OONI v0.4 0/2, OONI v0.5 0/2 (web_connectivity has no throttling verdict), "
            "Ayiq throttle 2/2") in done.stdout, out
    for name in ("throttled1.lab", "throttled2.lab"):
        row = next(line for line in done.stdout.splitlines() if line.startswith(name))
        assert re.search(r"False/True\s+False/True\s+False / accessible / throttling \(", row), row
        assert row.rstrip().endswith(" ayiq"), row
    # the clean control through the same throttle server: not throttled
    open1 = next(line for line in done.stdout.splitlines() if line.startswith("open1.lab"))
    assert "False / accessible / ok (" in open1, open1
    # international relay's UDP dropped, domestic open: both tools see it on the STUN port
    assert "voice/UDP (2 relays): OONI stunreachability 2/2, Ayiq voice 2/2" in done.stdout, out
    assert "-> blocked/udp" in done.stdout, out
    assert "lab namespaces removed: all 4" in done.stdout, out
