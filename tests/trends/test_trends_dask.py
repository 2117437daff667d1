"""Scale-out: the same trends from a partitioned Parquet dataset aggregated by a real Dask LocalCluster
(2 worker processes on loopback) as from the DuckDB file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ayiq.core.executor import make_executor
from ayiq.store import open_store
from ayiq.store.base import ParquetStore
from ayiq.store.queries import VerdictFilter
from ayiq.trends.bins import hourly_counts
from ayiq.trends.changes import find_changes
from ayiq.trends.schedule import find_schedules
from ayiq.trends.synth import HistorySpec, write_history

SPEC = HistorySpec(seed=9, targets=8, days=75)  # spans three month partitions


@pytest.mark.slow
def test_dask_on_parquet_equals_duckdb(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with open_store(tmp_path / "h.duckdb") as st:
        write_history(st, SPEC)
        local = hourly_counts(st, VerdictFilter(country="AZ"))
    dataset = tmp_path / "dataset"
    with open_store(dataset) as ds:
        assert isinstance(ds, ParquetStore)
        write_history(ds, SPEC, chunk=40_000)
        assert len(list((dataset / "verdicts").glob("month=*"))) == 3
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            addr = cluster.scheduler_address.removeprefix("tcp://")
            with make_executor(f"dask://{addr}") as (pool, n):
                assert n == 2
                remote = hourly_counts(ds, VerdictFilter(country="AZ"), executor=pool)
    assert remote.keys == local.keys and remote.zones == local.zones
    for name in ("starts", "hour", "n", "k", "local_hour", "local_dow"):
        assert np.array_equal(getattr(remote, name), getattr(local, name)), name
    assert [remote.methods[c] if c >= 0 else None for c in remote.method] == [
        local.methods[c] if c >= 0 else None for c in local.method]
    a = [c.as_json() for c in find_changes(local)]
    b = [c.as_json() for c in find_changes(remote)]
    assert a == b and len(a) > 5
    assert [s.as_json() for s in find_schedules(local)] == [s.as_json() for s in find_schedules(remote)]
