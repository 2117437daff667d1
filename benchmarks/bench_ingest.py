"""Ingest + judge throughput against a parse-only baseline, measured in the same run.

Inputs: the real web_connectivity measurements of ../shared/data/ooni/real, replicated with fresh uids into
JSONL files of 1,000 records. Baseline: orjson loading the same files, one process. Ours: `ingest` with the local
process pool into a fresh DuckDB file. Each runs in its own subprocess so peak memory (parent and workers) is
reported separately.

Two per-core figures are printed. "per core/s" is wall-clock throughput divided by the worker count; on a
machine shared with other jobs it also counts the time workers wait for a core. "per CPU-s" is records per CPU
second actually spent (parent + workers, user + system, from getrusage; the baseline's likewise), i.e. the
per-core cost of the work itself, which other load on the machine does not inflate. Both ratios are against the
same files parsed by orjson in the same run. The baseline runs twice: in one process, and in as many processes at
once as ingest has workers (each a share of the files), since two processes on a machine's cores each run slower
than one alone (shared caches, memory bandwidth, a host's other tenants); the "x par" ratios compare like with like.
Usage: python benchmarks/bench_ingest.py [--sizes 10000,100000] [--workers N] [--mixes all,le100k]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]


def real_web_connectivity(shared: Path, max_bytes: int | None = None) -> list[dict[str, object]]:
    out = []
    for p in sorted((shared / "ooni" / "real").rglob("*.json")):
        if max_bytes is not None and p.stat().st_size > max_bytes:
            continue
        try:
            obj = orjson.loads(p.read_bytes())
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("test_name") == "web_connectivity" and obj.get("test_keys"):
            out.append(obj)
    return out


def make_inputs(folder: Path, n: int, seeds: list[dict[str, object]]) -> int:
    if (folder / "DONE").exists():
        return int((folder / "DONE").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    encoded = [orjson.dumps({k: v for k, v in s.items() if k not in ("id", "measurement_uid")})[1:] for s in seeds]
    size = 0
    for f in range(0, n, 1000):
        with (folder / f"part-{f // 1000:05d}.jsonl").open("wb") as fh:
            for i in range(f, min(n, f + 1000)):
                line = b'{"measurement_uid":"bench-%012d",' % i + encoded[i % len(encoded)] + b"\n"
                size += len(line)
                fh.write(line)
    (folder / "DONE").write_text(str(size))
    return size


_PARSE = """
import sys, time, resource, orjson, pathlib, json
shard, shards = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (0, 1)
t = time.perf_counter(); n = 0
for p in sorted(pathlib.Path(sys.argv[1]).glob('*.jsonl'))[shard::shards]:
    with open(p, 'rb') as fh:
        for line in fh:
            orjson.loads(line); n += 1
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"n": n, "seconds": dt, "cpu": ru.ru_utime + ru.ru_stime, "peak_mb": ru.ru_maxrss / 1024}))
"""

_INGEST = """
import sys, time, resource, json
from ayiq.net.ingest import ingest
t = time.perf_counter()
rep = ingest([sys.argv[1]], store=sys.argv[2], workers=int(sys.argv[3]), fingerprints=sys.argv[4] or None)
dt = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"n": rep.records, "seconds": dt, "errors": len(rep.errors), "statuses": rep.statuses,
  "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
  "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _remove_store(store: Path) -> None:
    store.unlink(missing_ok=True)
    Path(str(store) + ".wal").unlink(missing_ok=True)
    shutil.rmtree(str(store) + ".raw", ignore_errors=True)


def run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_parallel_parse(folder: Path, workers: int) -> dict[str, float]:
    """The parse-only baseline in `workers` processes at once (each a share of the files), like ingest's pool:
    wall time to the last one, and their CPU time together."""
    procs = [subprocess.Popen([sys.executable, "-c", _PARSE, str(folder), str(i), str(workers)],
                              stdout=subprocess.PIPE, text=True) for i in range(workers)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {"n": sum(o["n"] for o in outs), "seconds": max(o["seconds"] for o in outs),
            "cpu": sum(o["cpu"] for o in outs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--mixes", default="all,le100k", help="which seed mixes to run (all, le100k)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    if not args.shared.is_dir():
        print(f"skip: {args.shared} not found (the benchmark replicates the real OONI measurements there)")
        return 0
    mixes = {"all": real_web_connectivity(args.shared),
             "le100k": real_web_connectivity(args.shared, max_bytes=100_000)}
    print(f"workers: {args.workers}; judged with OONI's blockpage fingerprints; seed mixes: all real "
          f"web_connectivity records ({len(mixes['all'])}), and those <= 100 kB ({len(mixes['le100k'])}; four "
          f"real measurements of 235-927 kB dominate the first mix)")
    rows = []
    plan = [(mix, int(s)) for mix in args.mixes.split(",") for s in args.sizes.split(",")]
    for mix, n in plan:
        seeds = mixes[mix]
        folder = args.workdir / (f"in-{n}" if mix == "all" else f"in-{mix}-{n}")
        size = make_inputs(folder, n, seeds)
        base = run(_PARSE, str(folder))
        par = run_parallel_parse(folder, args.workers)
        store = args.workdir / f"store-{n}.duckdb"
        _remove_store(store)
        fps = args.shared / "ooni" / "fingerprints"
        ours = run(_INGEST, str(folder), str(store), str(args.workers), str(fps) if fps.is_dir() else "")
        assert ours["n"] == n == base["n"], (ours, base)
        base_rate = n / base["seconds"]
        our_rate = n / ours["seconds"]
        per_core = our_rate / args.workers
        cpu_rate, base_cpu_rate = n / ours["cpu"], n / base["cpu"]
        par_per_core = n / par["seconds"] / args.workers
        rows.append((mix, n, size, base_rate, our_rate, per_core, base_rate / per_core, cpu_rate,
                     base_cpu_rate / cpu_rate, par_per_core / per_core, (n / par["cpu"]) / cpu_rate,
                     ours["peak_mb"], ours["worker_peak_mb"]))
        _remove_store(store)
    print()
    print(f"{'mix':>7} {'records':>8} {'input MB':>9} {'parse-only/s':>13} {'ingest+judge/s':>15} {'per core/s':>11} "
          f"{'x slower/core':>14} {'per CPU-s':>10} {'x slower/CPU-s':>15} {'x par/core':>11} {'x par/CPU-s':>12} "
          f"{'parent MB':>10} {'worker MB':>10}")
    for mix, n, size, b, o, pc, ratio, cr, cratio, pratio, pcratio, pm, wm in rows:
        print(f"{mix:>7} {n:>8} {size / 2**20:>9.0f} {b:>13.0f} {o:>15.0f} {pc:>11.0f} {ratio:>14.2f} {cr:>10.0f} "
              f"{cratio:>15.2f} {pratio:>11.2f} {pcratio:>12.2f} {pm:>10.0f} {wm:>10.0f}")
    print(f"\n'x slower' columns: against orjson in one process; 'x par' columns: against orjson in {args.workers} "
          "processes at once, sharing the machine as ingest's workers do")
    print("\ntargets: >= 2000 measurements/s per core; <= 4x slower per core than parse-only; flat memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
