"""Trends (change points + schedules) over many verdict rows, against a plain DuckDB GROUP BY, same run.

Data: a seeded synthetic history (ayiq.trends.synth) of about --rows verdicts, 90 days, 4 networks.
Baseline: `SELECT input, probe_asn, date_trunc('hour', t), status, count(*) FROM v_verdicts GROUP BY ALL`, the
plain aggregate any analysis starts from, over the same view of the same DuckDB file. Ours: hourly counts per
series + change points + schedule tests, end to end. Then the same on the partitioned Parquet dataset with a
Dask LocalCluster of --workers processes on loopback (baseline: the GROUP BY over the dataset's view).
Usage: python benchmarks/bench_trends.py [--rows 10000000] [--workers 2] [--no-dask] [--workdir build/bench-trends]
Target: ours within 5x of the GROUP BY.
With --workdir the generated DuckDB file and Parquet dataset are kept there and reused by the next run with the
same --rows (a `spec.json` next to them says what they hold), so only the first 10M-row run pays for generation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from ayiq.core.executor import make_executor
from ayiq.store import Store, open_store
from ayiq.trends.bins import hourly_counts
from ayiq.trends.changes import find_changes
from ayiq.trends.schedule import find_schedules
from ayiq.trends.synth import HistorySpec, write_history

BASELINE_SQL = ("SELECT input, probe_asn, date_trunc('hour', measurement_start_time) AS h, status, count(*) "
                "FROM v_verdicts GROUP BY ALL")


def spec_for(rows: int, days: int = 90, rate: float = 8.0) -> HistorySpec:
    per_series = days * 24 * rate * 0.77  # the generator's mean sampling, probe churn included
    targets = max(2, round(rows / (4 * per_series)))
    return HistorySpec(seed=42, targets=targets, days=days, rate_per_hour=rate)


def cached(work: Path, name: str, spec: HistorySpec) -> bool:
    """True when ``work/name`` was fully written by an earlier run for the same spec (its marker is written last)."""
    marker = work / f"{name}.spec.json"
    return (work / name).exists() and marker.is_file() and marker.read_text("utf-8") == repr(spec)


def mark_cached(work: Path, name: str, spec: HistorySpec) -> None:
    (work / f"{name}.spec.json").write_text(repr(spec), "utf-8")


def fresh(work: Path, name: str) -> Path:
    """Remove a partial or stale ``work/name`` (and its marker) before generating it again."""
    path = work / name
    (work / f"{name}.spec.json").unlink(missing_ok=True)
    if path.is_dir():
        shutil.rmtree(path)
    for extra in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + ".raw")):
        if extra.is_file():
            extra.unlink()
        elif extra.is_dir():
            shutil.rmtree(extra)
    return path


def timed_baseline(st: Store) -> tuple[float, int]:
    st.con.execute("SET enable_progress_bar = false")
    t = time.perf_counter()
    groups = len(st.con.execute(BASELINE_SQL).fetchall())
    return time.perf_counter() - t, groups


def timed_trends(st: Store, executor: object = None) -> tuple[float, dict[str, float], int, int]:
    parts: dict[str, float] = {}
    t0 = time.perf_counter()
    hourly = hourly_counts(st, executor=executor)  # type: ignore[arg-type]
    parts["hourly_counts"] = time.perf_counter() - t0
    t = time.perf_counter()
    changes = find_changes(hourly)
    parts["changes"] = time.perf_counter() - t
    t = time.perf_counter()
    schedules = find_schedules(hourly, changes)
    parts["schedule"] = time.perf_counter() - t
    return time.perf_counter() - t0, parts, len(changes), sum(s.significant for s in schedules)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ayiq-bench-trends-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = spec_for(args.rows)
    results: dict[str, object] = {"schema": "ayiq.bench.trends", "version": 1, "targets": spec.targets}
    try:
        t = time.perf_counter()
        if cached(work, "bench.duckdb", spec):
            results["generate_and_load_s"] = "cached"
        else:
            with open_store(fresh(work, "bench.duckdb")) as st:
                write_history(st, spec)
            mark_cached(work, "bench.duckdb", spec)
            results["generate_and_load_s"] = round(time.perf_counter() - t, 2)
        gen = results["generate_and_load_s"]
        print(f"data: {work / 'bench.duckdb'} ({gen if gen == 'cached' else f'generated in {gen} s'})", flush=True)
        with open_store(work / "bench.duckdb", read_only=True) as st:
            results["rows"] = int(st.con.execute("SELECT count(*) FROM v_verdicts").fetchone()[0])  # type: ignore[index]
            timed_baseline(st)  # warm the file cache for both
            base, groups = timed_baseline(st)
            ours, parts, n_changes, n_sched = timed_trends(st)
        results["duckdb"] = {"group_by_s": round(base, 3), "groups": groups, "trends_s": round(ours, 3),
                             "parts_s": {k: round(v, 3) for k, v in parts.items()}, "changes": n_changes,
                             "scheduled_series": n_sched, "ratio": round(ours / base, 2)}
        print(f"DuckDB: GROUP BY {base:.2f} s; trends {ours:.2f} s ({n_changes} changes, {n_sched} schedules); "
              f"ratio {ours / base:.2f}x (target <= 5x)", flush=True)
        if not args.no_dask:
            from distributed import LocalCluster

            ds_path = work / "dataset"
            if not cached(work, "dataset", spec):
                with open_store(fresh(work, "dataset")) as ds:
                    write_history(ds, spec, chunk=500_000)
                mark_cached(work, "dataset", spec)
            with open_store(ds_path) as ds:
                base, _ = timed_baseline(ds)
                base, _ = timed_baseline(ds)
                with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
                    addr = cluster.scheduler_address.removeprefix("tcp://")
                    with make_executor(f"dask://{addr}") as (pool, _n):
                        ours, parts, n_changes, n_sched = timed_trends(ds, pool)
            results["dask"] = {"workers": args.workers, "group_by_s": round(base, 3), "trends_s": round(ours, 3),
                               "parts_s": {k: round(v, 3) for k, v in parts.items()}, "changes": n_changes,
                               "scheduled_series": n_sched, "ratio": round(ours / base, 2)}
            print(f"Dask ({args.workers} workers, Parquet): GROUP BY {base:.2f} s; trends {ours:.2f} s; "
                  f"ratio {ours / base:.2f}x", flush=True)
        print(json.dumps(results))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
