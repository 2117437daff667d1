"""Run every benchmark (`make bench`); each prints ratios against a baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    rc = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name}", flush=True)
        rc |= subprocess.call([sys.executable, str(script), *sys.argv[1:]])
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
