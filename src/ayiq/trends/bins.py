"""Per-series hourly counts, aggregated in DuckDB (one scan of the verdicts), optionally by Dask workers.

A *series* is one target (the measured input, or the test name for tests without input) on one network
(probe_cc, probe_asn). Each hour of a series holds `n` usable verdicts (ok, blocked, inconclusive: failures and
"down" sites say nothing about interference) and `k` blocked ones, with the most frequent blocking method.
Every later step (change points, schedules, events, charts) works on these counts, never on rows, so it scales
with series x hours, not with measurements.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ayiq.store.base import ParquetStore, Store
from ayiq.store.queries import VerdictFilter
from ayiq.store.schema import verdict_view_sql
from ayiq.trends.zones import zone_case_sql, zone_for

USABLE = ("ok", "blocked", "inconclusive")

_BASE_SQL = """
SELECT coalesce(input, test_name, '?') AS target, coalesce(probe_cc, '??') AS probe_cc,
       coalesce(probe_asn, 'AS?') AS probe_asn,
       date_trunc('hour', measurement_start_time) AS hour,
       CASE WHEN status = 'blocked' THEN coalesce(method, 'unknown') END AS bmethod,
       count(*) AS n
FROM v_verdicts{where}
GROUP BY ALL
"""

_FINAL_SQL = """
WITH b AS (SELECT target, probe_cc, probe_asn, hour, bmethod, sum(n) AS n FROM _base GROUP BY ALL),
h AS (
  SELECT target, probe_cc, probe_asn, hour, sum(n)::BIGINT AS n,
         coalesce(sum(n) FILTER (WHERE bmethod IS NOT NULL), 0)::BIGINT AS k,
         first(bmethod ORDER BY n DESC, bmethod) FILTER (WHERE bmethod IS NOT NULL) AS method
  FROM b GROUP BY ALL
)
SELECT (dense_rank() OVER (ORDER BY target, probe_cc, probe_asn) - 1)::BIGINT AS sid,
       target, probe_cc, probe_asn, (epoch(hour)::BIGINT // 3600) AS hour_ix, n, k, method,
       hour(timezone({zone}, hour)) AS local_hour, (isodow(timezone({zone}, hour)) - 1) AS local_dow
FROM h ORDER BY target, probe_cc, probe_asn, hour_ix
"""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    target: str
    probe_cc: str
    probe_asn: str

    def label(self) -> str:
        return f"{self.target} @ {self.probe_asn} ({self.probe_cc})"


@dataclass(slots=True)
class Hourly:
    """Hourly counts for many series, stored flat: series i owns rows starts[i]:starts[i+1]."""

    keys: list[SeriesKey]
    zones: list[str]
    starts: np.ndarray
    hour: np.ndarray  # hours since the epoch (UTC)
    n: np.ndarray
    k: np.ndarray
    method: np.ndarray  # index into `methods`, -1 when nothing was blocked in that hour
    methods: list[str]
    local_hour: np.ndarray
    local_dow: np.ndarray  # 0 = Monday

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, i: int) -> slice:
        return slice(int(self.starts[i]), int(self.starts[i + 1]))

    @property
    def total(self) -> int:
        return int(self.n.sum())


def _where(flt: VerdictFilter) -> tuple[str, list[Any]]:
    where, params = flt.where()
    extra = f"status IN {USABLE!r} AND measurement_start_time IS NOT NULL"
    return (where + " AND " + extra) if where else (" WHERE " + extra), params


def hourly_counts(
    store: Store, flt: VerdictFilter | None = None, tz: str | None = None, executor: Executor | None = None
) -> Hourly:
    """Aggregate the verdicts matching `flt` into hourly counts per series.

    With an executor and a Parquet store, each month partition is aggregated by a worker (Dask or a process
    pool) and the partial counts are merged here: same SQL, same result as one DuckDB scan.
    """
    where, params = _where(flt or VerdictFilter())
    if executor is not None and isinstance(store, ParquetStore):
        months = sorted(p.name.split("=", 1)[1] for p in (store.path / "verdicts").glob("month=*"))
        futures = [executor.submit(month_base, str(store.path), m, where, params) for m in months]
        parts = [f.result() for f in futures]
        base = pa.concat_tables(parts) if parts else _empty_base(store.con, where, params)
    else:
        base = store.con.sql(_BASE_SQL.format(where=where), params=params).to_arrow_table()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    con.register("_base", base)
    table = con.sql(_FINAL_SQL.format(zone=zone_case_sql("probe_cc", tz))).to_arrow_table()
    con.close()
    return _to_hourly(table, tz)


def _empty_base(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> pa.Table:
    return con.sql(_BASE_SQL.format(where=where) + " LIMIT 0", params=params).to_arrow_table()


def month_base(root: str, month: str, where: str, params: list[Any]) -> pa.Table:
    """Worker side: partial hourly counts of one month partition of a Parquet dataset.

    A measurement's month comes from its own time, so deduplicating by uid inside a partition is exact.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    for table, order in (("measurements", "ingested_at"), ("verdicts", "judged_at")):
        folder = Path(root) / table / f"month={month}"
        if not any(folder.glob("*.parquet")):
            return _empty_month(con, where, params)
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder.as_posix()}/*.parquet', "
            f"union_by_name = true) QUALIFY row_number() OVER (PARTITION BY measurement_uid ORDER BY {order} DESC) = 1"
        )
    con.execute(f"CREATE VIEW v_verdicts AS {verdict_view_sql('measurements', 'verdicts')}")
    out = con.sql(_BASE_SQL.format(where=where), params=params).to_arrow_table()
    con.close()
    return out


def _empty_month(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> pa.Table:
    from ayiq.store.schema import MEASUREMENTS, VERDICTS

    con.register("measurements", MEASUREMENTS.empty_table())
    con.register("verdicts", VERDICTS.empty_table())
    con.execute(f"CREATE OR REPLACE VIEW v_verdicts AS {verdict_view_sql('measurements', 'verdicts')}")
    return con.sql(_BASE_SQL.format(where=where), params=params).to_arrow_table()


def _to_hourly(table: pa.Table, tz: str | None) -> Hourly:
    cols = {name: table.column(name).combine_chunks() for name in table.column_names}
    size = table.num_rows
    sid = np.asarray(cols["sid"].to_numpy(zero_copy_only=False), dtype=np.int64)
    change = np.ones(size, dtype=bool)
    change[1:] = sid[1:] != sid[:-1]
    first = np.flatnonzero(change)
    starts = np.append(first, size).astype(np.int64)
    idx = pa.array(first, pa.int64())
    keys = [SeriesKey(str(t), str(c), str(a)) for t, c, a in zip(
        cols["target"].take(idx).to_pylist(), cols["probe_cc"].take(idx).to_pylist(),
        cols["probe_asn"].take(idx).to_pylist(), strict=True)]
    enc = cols["method"].dictionary_encode() if size else pa.array([], pa.string()).dictionary_encode()
    codes = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return Hourly(
        keys=keys,
        zones=[zone_for(k.probe_cc, tz) for k in keys],
        starts=starts,
        hour=np.asarray(cols["hour_ix"].to_numpy(zero_copy_only=False), dtype=np.int64),
        n=np.asarray(cols["n"].to_numpy(zero_copy_only=False), dtype=np.int64),
        k=np.asarray(cols["k"].to_numpy(zero_copy_only=False), dtype=np.int64),
        method=codes,
        methods=[str(m) for m in enc.dictionary.to_pylist()],
        local_hour=np.asarray(cols["local_hour"].to_numpy(zero_copy_only=False), dtype=np.int64),
        local_dow=np.asarray(cols["local_dow"].to_numpy(zero_copy_only=False), dtype=np.int64),
    )
