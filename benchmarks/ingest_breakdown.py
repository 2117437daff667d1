"""Where ingest's time goes, per record, as multiples of the parse-only baseline, all measured in one process.

bench_ingest.py gives the end-to-end ratio; this splits it into the steps every record goes through, each timed
alone over the same records (CPU time of this process, after a warm-up pass): reading + orjson (the baseline
itself), the SHA-256 of the raw bytes (content_sha256), the zstd frame of the raw bytes (the store's raw segment),
the judge, the rest of the worker (building the Arrow columns, the verdict rows, the segment file), and the
parent's DuckDB transaction for the batch. Needs the inputs bench_ingest.py makes (build/bench/in-...).

    .venv/bin/python benchmarks/ingest_breakdown.py [--input build/bench/in-le100k-100000] [--files 20]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import orjson
import zstandard

from ayiq.net.ingest import _judge_for, plan_tasks, run_task
from ayiq.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> float:
    return time.process_time()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, default=ROOT / "build" / "bench" / "in-le100k-100000")
    ap.add_argument("--files", type=int, default=20, help="how many 1,000-record files to time")
    ap.add_argument("--fingerprints", type=Path, default=ROOT.parent / "shared" / "data" / "ooni" / "fingerprints")
    args = ap.parse_args()
    files = sorted(args.input.glob("*.jsonl"))[: args.files + 1]
    if len(files) < 2:
        print(f"skip: no inputs in {args.input} (run benchmarks/bench_ingest.py first)")
        return 0
    fps = str(args.fingerprints) if args.fingerprints.is_dir() else None
    judge = _judge_for(fps)
    warm, files = files[0], files[1:]
    work = Path(tempfile.mkdtemp(prefix="ayiq-breakdown-"))
    try:
        run_task(plan_tasks([warm])[0], fps, str(work / "raw"), None)  # warm-up: imports, fingerprints, caches
        stages = {k: 0.0 for k in ("parse", "sha256", "zstd", "judge", "worker", "duckdb")}
        n = 0
        zc = zstandard.ZstdCompressor(level=1)
        store = open_store(work / "store.duckdb")
        with store.bulk_writes():
            for path in files:
                t = cpu()
                with path.open("rb") as fh:  # exactly as the baseline does it: each tree dropped at once
                    for line in fh:
                        orjson.loads(line)
                stages["parse"] += cpu() - t
                with path.open("rb") as fh:
                    objs = [orjson.loads(line) for line in fh]
                lines = path.read_bytes().splitlines()
                t = cpu()
                for line in lines:
                    hashlib.sha256(line).hexdigest()
                stages["sha256"] += cpu() - t
                t = cpu()
                for line in lines:
                    zc.compress(line)
                stages["zstd"] += cpu() - t
                gc.collect()
                t = cpu()
                for obj in objs:
                    judge(obj)
                stages["judge"] += cpu() - t
                del objs, lines
                task = plan_tasks([path])[0]
                t = cpu()
                res = run_task(task, fps, str(work / "raw"), None)
                stages["worker"] += cpu() - t
                assert res.measurements is not None and res.verdicts is not None, res.error
                t = cpu()
                store.append(res.measurements, res.verdicts, task.key, task.path)
                stages["duckdb"] += cpu() - t
                n += res.records
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    parse = stages["parse"]
    rest = stages["worker"] - parse - stages["sha256"] - stages["zstd"] - stages["judge"]
    rows = [
        ("read + orjson (the baseline)", parse),
        ("SHA-256 of the raw bytes", stages["sha256"]),
        ("zstd frame of the raw bytes (level 1)", stages["zstd"]),
        ("judge", stages["judge"]),
        ("rest of the worker (Arrow columns, verdict rows, segment file)", rest),
        ("parent: DuckDB transaction", stages["duckdb"]),
    ]
    total = stages["worker"] + stages["duckdb"]
    print(f"{n} records from {len(files)} files of {args.input}; CPU time of one process\n")
    print(f"{'step':<66} {'ms/record':>10} {'x parse':>8}")
    for name, sec in rows:
        print(f"{name:<66} {1000 * sec / n:>10.4f} {sec / parse:>8.2f}")
    print(f"{'total (worker + parent), without start-up':<66} {1000 * total / n:>10.4f} {total / parse:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
