"""Store implementations. Writes are per-batch transactions, so a killed ingest leaves whole files or nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import zstandard

from ayiq.core.errors import StoreError
from ayiq.core.paths import default_store
from ayiq.store.schema import MEASUREMENTS, SCHEMA_VERSION, VERDICTS, duckdb_ddl, verdict_view_sql

INGEST_LOG = pa.schema(
    [
        pa.field("task_key", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("records", pa.int64()),
        pa.field("done_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _utc(con: duckdb.DuckDBPyConnection) -> None:
    """Every time we read or write is UTC, whatever the machine's zone."""
    con.execute("SET TimeZone = 'UTC'")


class Store:
    """Common interface: `con` has the views; `append` adds a batch; `done_tasks` supports resuming."""

    kind: str
    path: Path
    con: duckdb.DuckDBPyConnection

    @property
    def raw_dir(self) -> Path:
        """Where the records' bytes live: one zstd segment file per ingest task (see docs/formats/store.md)."""
        raise NotImplementedError

    def read_raw(self, segment: str, offset: int, length: int) -> bytes:
        with (self.raw_dir / segment).open("rb") as fh:
            fh.seek(offset)
            blob = fh.read(length)
        return zstandard.ZstdDecompressor().decompress(blob)

    def append(self, measurements: pa.Table, verdicts: pa.Table, task_key: str, source: str) -> int:
        raise NotImplementedError

    def done_tasks(self) -> set[str]:
        raise NotImplementedError

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Wrap a run of `append` calls (a store may tune itself for them)."""
        yield

    def replace_verdicts(self, verdicts: pa.Table) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DuckDBStore(Store):
    kind = "duckdb"

    @property
    def raw_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".raw")

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(path), read_only=read_only and path.exists())
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open the DuckDB store: {exc}") from exc
        _utc(self.con)
        # Cap DuckDB's page cache so a long ingest keeps a flat footprint (pages spill to the file).
        self.con.execute(f"SET memory_limit = '{os.environ.get('AYIQ_DUCKDB_MEMORY', '512MB')}'")
        if not read_only or path.exists():
            self._ensure_schema(read_only)

    def _ensure_schema(self, read_only: bool) -> None:
        tables = {r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if read_only:
            if "measurements" not in tables:
                raise StoreError(f"{self.path}: not an Ayiq store (no measurements table)")
            return
        self.con.execute(duckdb_ddl("measurements", MEASUREMENTS, "measurement_uid"))
        # No primary key on verdicts: rows are added only for new measurements (see append), and an index
        # would hold every uid in memory a second time.
        self.con.execute(duckdb_ddl("verdicts", VERDICTS))
        self.con.execute(duckdb_ddl("ingest_log", INGEST_LOG, "task_key"))
        self.con.execute("CREATE TABLE IF NOT EXISTS ayiq_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        self.con.execute(
            "INSERT OR IGNORE INTO ayiq_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        self.con.execute(f"CREATE OR REPLACE VIEW v_verdicts AS {verdict_view_sql('measurements', 'verdicts')}")

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """For a run of `append` calls: DuckDB on one thread. Each batch is a few thousand rows going into the
        uid index, which a thread pool only slows down (measured: -30% CPU and wall per batch), and the
        workers producing the batches need the other cores. Settings are restored afterwards."""
        threads, threshold = self.con.execute(
            "SELECT current_setting('threads'), current_setting('checkpoint_threshold')").fetchone() or (1, "16MB")
        # Checkpoint every 64 MB of log rather than 16: fewer rewrites of the growing row group (-45% commit CPU).
        self.con.execute("SET threads = 1; SET checkpoint_threshold = '64MB'")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {int(threads)}; SET checkpoint_threshold = '{threshold}'")

    def append(self, measurements: pa.Table, verdicts: pa.Table, task_key: str, source: str) -> int:
        """Insert a batch and its ingest-log row in one transaction; rows already stored are kept as they are."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_m_batch", measurements)
            con.register("_v_batch", verdicts)
            new = con.execute(
                "INSERT OR IGNORE INTO measurements SELECT * FROM _m_batch RETURNING measurement_uid"
            ).fetchall()
            if new:
                # Verdicts only for measurements that are new: the verdict table needs no index of its own.
                con.register("_new", pa.table({"measurement_uid": [r[0] for r in new]}))
                con.execute("INSERT INTO verdicts SELECT * FROM _v_batch SEMI JOIN _new USING (measurement_uid)")
                con.unregister("_new")
            con.execute(
                "INSERT OR REPLACE INTO ingest_log VALUES (?, ?, ?, now())",
                [task_key, source, measurements.num_rows],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_m_batch")
            con.unregister("_v_batch")
        return len(new)

    def done_tasks(self) -> set[str]:
        return {str(r[0]) for r in self.con.execute("SELECT task_key FROM ingest_log").fetchall()}

    def replace_verdicts(self, verdicts: pa.Table) -> None:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_v_batch", verdicts)
            con.execute("DELETE FROM verdicts WHERE measurement_uid IN (SELECT measurement_uid FROM _v_batch)")
            con.execute("INSERT INTO verdicts SELECT * FROM _v_batch")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_v_batch")


class ParquetStore(Store):
    """A folder of hive-partitioned Parquet (`measurements/month=YYYY-MM/part-*.parquet`, same for verdicts).

    Each ingest task writes its own part files, named by the task, so workers on many machines write in
    parallel without coordination and a re-run overwrites rather than duplicates. Readers deduplicate by uid.
    """

    kind = "parquet"

    @property
    def raw_dir(self) -> Path:
        return self.path / "raw"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        (path / "_ingest_log").mkdir(exist_ok=True)
        marker = path / "_ayiq_dataset.json"
        if not marker.exists():
            marker.write_text(f'{{"schema": "ayiq.store.parquet", "version": {SCHEMA_VERSION}}}\n')
        self.con = duckdb.connect()
        _utc(self.con)
        self.refresh()

    def refresh(self) -> None:
        """(Re)create the views over whatever part files exist now."""
        for table, schema in (("measurements", MEASUREMENTS), ("verdicts", VERDICTS)):
            folder = self.path / table
            if any(folder.rglob("*.parquet")) if folder.exists() else False:
                src = (
                    f"read_parquet('{folder.as_posix()}/**/*.parquet', hive_partitioning = true, "
                    f"union_by_name = true)"
                )
                cols = ", ".join(f.name for f in schema)
                self.con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT {cols} FROM {src} "
                    f"QUALIFY row_number() OVER (PARTITION BY measurement_uid ORDER BY "
                    f"{'ingested_at' if table == 'measurements' else 'judged_at'} DESC) = 1"
                )
            else:
                self.con.register(f"_empty_{table}", schema.empty_table())
                self.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM _empty_{table}")
        self.con.execute(f"CREATE OR REPLACE VIEW v_verdicts AS {verdict_view_sql('measurements', 'verdicts')}")

    def append(self, measurements: pa.Table, verdicts: pa.Table, task_key: str, source: str) -> int:
        write_parquet_parts(self.path, measurements, verdicts, task_key, source)
        self.refresh()
        return int(measurements.num_rows)

    def done_tasks(self) -> set[str]:
        return {p.stem for p in (self.path / "_ingest_log").glob("*.done")}

    def replace_verdicts(self, verdicts: pa.Table) -> None:
        _write_table(self.path / "verdicts", verdicts, f"rejudge-{uuid.uuid4().hex[:12]}")
        self.refresh()


def _write_table(folder: Path, table: pa.Table, basename: str) -> None:
    ds.write_dataset(
        table,
        folder,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("month", pa.string())]), flavor="hive"),
        basename_template=f"part-{basename}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        max_rows_per_group=64 * 1024,
    )


def write_parquet_parts(root: Path, measurements: pa.Table, verdicts: pa.Table, task_key: str, source: str) -> None:
    """Write one task's rows as part files, then its done-marker (atomically renamed): safe from any worker."""
    _write_table(root / "measurements", measurements, task_key)
    _write_table(root / "verdicts", verdicts, task_key)
    log = root / "_ingest_log"
    log.mkdir(exist_ok=True)
    tmp = log / f".{task_key}.{os.getpid()}.tmp"
    tmp.write_text(f"{source}\t{measurements.num_rows}\n")
    tmp.replace(log / f"{task_key}.done")


def is_parquet_store(path: Path) -> bool:
    return path.is_dir() or str(path).endswith("/") or path.suffix == ""


def open_store(path: str | Path | None = None, read_only: bool = False) -> Store:
    """Open the store at `path` (default: AYIQ_STORE or the user's data dir).

    A path ending in .duckdb (or any existing file) is a DuckDB file; a folder is a Parquet dataset.
    """
    p = Path(path) if path is not None else default_store()
    if p.exists() and p.is_dir():
        return ParquetStore(p)
    if not p.exists() and not p.suffix:
        return ParquetStore(p)
    if read_only and not p.exists():
        raise StoreError(f"{p}: no store here yet; run `ayiq net ingest` first (or pass --store)")
    return DuckDBStore(p, read_only=read_only)
