"""Scale-out: a real Dask LocalCluster (2 worker processes, loopback) writes the partitioned Parquet dataset;
the verdicts are the same as the local process pool's DuckDB file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ayiq.net.ingest import ingest
from ayiq.net.synth import generate
from ayiq.store import open_store
from ayiq.store.base import ParquetStore

Q = ("SELECT measurement_uid, status, method, confidence, evidence, anomaly, confirmed, failure, probe_cc, "
     "probe_asn, input, measurement_start_time FROM v_verdicts ORDER BY measurement_uid")


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    gen = generate(600, seed=21)
    for i in range(6):
        (src / f"p{i}.jsonl").write_bytes(b"".join(orjson.dumps(next(gen)[0]) + b"\n" for _ in range(100)))
    return src


@pytest.mark.slow
def test_dask_parquet_equals_local_duckdb(inputs: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    local = tmp_path / "local.duckdb"
    ingest([inputs], store=local, executor="local", workers=2)
    dataset = tmp_path / "dataset"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        addr = cluster.scheduler_address.removeprefix("tcp://")
        rep = ingest([inputs], store=dataset, executor=f"dask://{addr}")
        assert rep.records == 600 and not rep.errors
        again = ingest([inputs], store=dataset, executor=f"dask://{addr}")
        assert again.tasks_skipped == 6
    parts = sorted(p.relative_to(dataset).parts[0:2] for p in dataset.rglob("*.parquet"))
    assert parts and all(p[1].startswith("month=") for p in parts)
    with open_store(local, read_only=True) as a, open_store(dataset) as b:
        assert isinstance(b, ParquetStore)
        rows_a = a.con.execute(Q).fetchall()
        rows_b = b.con.execute(Q).fetchall()
    assert len(rows_a) == 600
    assert rows_a == rows_b


def test_parquet_store_local_pool_and_dedup(inputs: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    ingest([inputs], store=dataset, executor="serial")
    # The same measurements under another file name: new part files, but readers see each uid once.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "again.jsonl").write_bytes((inputs / "p0.jsonl").read_bytes())
    ingest([copy], store=dataset, executor="serial")
    with open_store(dataset) as st:
        (n,) = st.con.execute("SELECT count(*) FROM v_verdicts").fetchone()  # type: ignore[misc]
    assert n == 600
