"""Ingest: read OONI-format files, judge every measurement, keep facts and verdicts in the store.

Work is split into tasks (a file, or a byte range of a large JSONL file). Each task runs in a worker (process
pool or Dask) and returns Arrow tables, or, for a Parquet store, writes its own part files. The parent commits
one transaction per task and logs the task, so an interrupted ingest resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import zstandard

from ayiq.core.errors import AyiqError, InputError
from ayiq.core.executor import make_executor
from ayiq.core.paths import data_dir
from ayiq.core.verdict import Verdict, failed
from ayiq.net.formats.ooni import (
    LegacyYAMLError,
    RawRecord,
    envelope_uid,
    iter_measurement_files,
    parse_time,
    read_records,
)
from ayiq.store import Store, open_store
from ayiq.store.base import ParquetStore, write_parquet_parts
from ayiq.store.schema import MEASUREMENTS, VERDICTS

SPLIT_BYTES = 32 * 1024 * 1024  # uncompressed JSONL files larger than this are split into ranges


class RawSegmentWriter:
    """Writes one task's records as independent zstd frames in one file, for random access by offset.

    DuckDB stores large blobs slowly; a segment file per task is written at disk speed, by the worker itself,
    in an open format (`zstd -d` on a frame gives the record back). Written to a temp name and renamed, so a
    killed task leaves no half segment under the real name; a retried task rewrites it whole.
    """

    def __init__(self, raw_dir: Path, task_key: str) -> None:
        raw_dir.mkdir(parents=True, exist_ok=True)
        self.name = f"{task_key}.zst"
        self.final = raw_dir / self.name
        self.tmp = raw_dir / f".{task_key}.{os.getpid()}.tmp"
        self.fh = self.tmp.open("wb", buffering=1 << 20)  # frames are tens of kB: one write syscall per MB
        self.offset = 0
        self.zc = zstandard.ZstdCompressor(level=1)

    def add(self, raw: bytes) -> tuple[int, int]:
        blob = self.zc.compress(raw)
        self.fh.write(blob)
        start, self.offset = self.offset, self.offset + len(blob)
        return start, len(blob)

    def commit(self) -> None:
        self.fh.close()
        self.tmp.replace(self.final)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Task:
    path: str
    start: int
    end: int | None
    key: str


@dataclass(slots=True)
class TaskResult:
    task: Task
    records: int = 0
    broken: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    measurements: pa.Table | None = None
    verdicts: pa.Table | None = None
    error: str | None = None
    refused: bool = False


@dataclass(slots=True)
class IngestReport:
    files: int = 0
    tasks_done: int = 0
    tasks_skipped: int = 0
    records: int = 0
    new_records: int = 0
    broken: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def plan_tasks(paths: Iterable[Path]) -> list[Task]:
    tasks: list[Task] = []
    for path in iter_measurement_files(list(paths)):
        st = path.stat()
        ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if path.name.endswith(".jsonl") and st.st_size > SPLIT_BYTES:
            for start, end in _line_ranges(path, st.st_size):
                key = hashlib.sha1(f"{ident}|{start}|{end}".encode()).hexdigest()[:24]
                tasks.append(Task(str(path), start, end, key))
        else:
            tasks.append(Task(str(path), 0, None, hashlib.sha1(ident.encode()).hexdigest()[:24]))
    return tasks


def _line_ranges(path: Path, size: int) -> list[tuple[int, int]]:
    """Byte ranges of about SPLIT_BYTES, each ending just after a newline."""
    ranges = []
    with path.open("rb") as fh:
        start = 0
        while start < size:
            fh.seek(min(start + SPLIT_BYTES, size))
            fh.readline()
            end = min(fh.tell(), size)
            ranges.append((start, end))
            start = end
    return ranges


# --- worker side -------------------------------------------------------------------------------------------

_JUDGES: dict[str | None, Callable[[dict[str, Any]], Verdict]] = {}


def _judge_for(fingerprints: str | None) -> Callable[[dict[str, Any]], Verdict]:
    """One Judge per worker process and fingerprint file, built on first use."""
    judge = _JUDGES.get(fingerprints)
    if judge is None:
        from ayiq.net.judge import Judge, load_fingerprints

        fps = load_fingerprints(Path(fingerprints)) if fingerprints else None
        judge = Judge(fingerprints=fps)
        _JUDGES[fingerprints] = judge
    return judge


def _s(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return orjson.dumps(value).decode()


def _asn(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"AS{value}"
    if isinstance(value, str) and value:
        return value if value.upper().startswith("AS") else f"AS{value}"
    return None


def build_tables(
    records: Iterable[RawRecord],
    judge: Callable[[dict[str, Any]], Verdict],
    segment: RawSegmentWriter,
    counts: dict[str, int] | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Turn raw records into the two store tables (columns built directly: this is the hot loop)."""
    m: dict[str, list[Any]] = {f.name: [] for f in MEASUREMENTS}
    v: dict[str, list[Any]] = {f.name: [] for f in VERDICTS}
    now = datetime.now(UTC)
    # Bound appenders: one dict lookup per column per chunk instead of per record.
    m_uid, m_report, m_test, m_tver = (m[k].append for k in ("measurement_uid", "report_id", "test_name",
                                                              "test_version"))
    m_sw, m_swv, m_cc, m_asn = (m[k].append for k in ("software_name", "software_version", "probe_cc",
                                                       "probe_asn"))
    m_input, m_start, m_month, m_source = (m[k].append for k in ("input", "measurement_start_time", "month",
                                                                  "source"))
    m_sha, m_perr, m_seg, m_off = (m[k].append for k in ("content_sha256", "parse_error", "raw_segment",
                                                          "raw_offset"))
    m_len, m_at = m["raw_length"].append, m["ingested_at"].append
    v_uid, v_month, v_at = v["measurement_uid"].append, v["month"].append, v["judged_at"].append
    sha256, seg_add, seg_name = hashlib.sha256, segment.add, segment.name
    for rec in records:
        uid = envelope_uid(rec)
        obj = rec.obj or {}
        get = obj.get
        when = parse_time(get("measurement_start_time"))
        month = f"{when.year:04d}-{when.month:02d}" if when else "unknown"
        m_uid(uid)
        m_report(_s(get("report_id")))
        m_test(_s(get("test_name")))
        m_tver(_s(get("test_version")))
        m_sw(_s(get("software_name")))
        m_swv(_s(get("software_version")))
        m_cc(_s(get("probe_cc")))
        m_asn(_asn(get("probe_asn")))
        m_input(_s(get("input")))
        m_start(when)
        m_month(month)
        m_source(rec.source)
        m_sha(sha256(rec.raw).hexdigest())
        m_perr(rec.error)
        off, length = seg_add(rec.raw)
        m_seg(seg_name)
        m_off(off)
        m_len(length)
        m_at(now)
        if rec.obj is None:
            verdict = failed(rec.error or "unreadable record", judge="ingest")
        else:
            try:
                verdict = judge(rec.obj)
            except Exception as exc:  # a judge bug must not drop the record: it is stored as a failure
                verdict = failed(f"judge error: {type(exc).__name__}: {exc}", judge="ingest")
            rec.obj = None  # parsed trees are large: keep only the bytes, so memory stays flat per task
        if counts is not None:
            counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
            if rec.error is not None:
                counts["_broken"] = counts.get("_broken", 0) + 1
        v_uid(uid)
        for key, val in verdict.as_row().items():
            v[key].append(val)
        v_month(month)
        v_at(now)
    return (
        pa.Table.from_pydict(m, schema=MEASUREMENTS),
        pa.Table.from_pydict(v, schema=VERDICTS),
    )


def run_task(task: Task, fingerprints: str | None, raw_dir: str, parquet_root: str | None) -> TaskResult:
    """Worker entry point: read, judge, and either return the tables or write them as Parquet parts."""
    result = TaskResult(task)
    counts: dict[str, int] = {}
    segment = RawSegmentWriter(Path(raw_dir), task.key)
    try:
        m_table, v_table = build_tables(
            read_records(Path(task.path), task.start, task.end), _judge_for(fingerprints), segment, counts
        )
    except LegacyYAMLError as exc:
        segment.abort()
        result.error, result.refused = str(exc), True
        return result
    except InputError as exc:
        segment.abort()
        result.error = str(exc)
        return result
    except BaseException:
        segment.abort()
        raise
    segment.commit()
    result.records = m_table.num_rows
    result.broken = counts.pop("_broken", 0)
    result.statuses = counts
    if parquet_root is not None:
        write_parquet_parts(Path(parquet_root), m_table, v_table, task.key, task.path)
    else:
        result.measurements, result.verdicts = m_table, v_table
    return result


# --- parent side -------------------------------------------------------------------------------------------


def ingest(
    paths: Iterable[str | Path],
    store: str | Path | Store | None = None,
    executor: str | None = None,
    workers: int | None = None,
    fingerprints: str | Path | None = None,
    progress: bool = False,
    on_result: Callable[[TaskResult], None] | None = None,
) -> IngestReport:
    """Ingest files/folders into the store. Files already ingested (same path, size, mtime) are skipped."""
    path_list = [Path(p) for p in paths]
    fps = str(fingerprints) if fingerprints else _default_fingerprints()
    own_store = not isinstance(store, Store)
    st = store if isinstance(store, Store) else open_store(store)
    report = IngestReport()
    try:
        tasks = plan_tasks(path_list)
        report.files = len({t.path for t in tasks})
        done = st.done_tasks()
        todo = [t for t in tasks if t.key not in done]
        report.tasks_skipped = len(tasks) - len(todo)
        parquet_root = str(st.path) if isinstance(st, ParquetStore) else None
        raw_dir = str(st.raw_dir)
        with _progress(progress, len(todo)) as advance, make_executor(executor, workers) as (pool, n), \
                st.bulk_writes():
            window = max(2, 2 * n)
            pending: set[Future[TaskResult]] = set()
            queue = iter(todo)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    nxt = next(queue, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending.add(pool.submit(run_task, nxt, fps, raw_dir, parquet_root))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    res = fut.result()
                    _absorb(st, res, report)
                    if on_result:
                        on_result(res)
                    advance(res)
        if isinstance(st, ParquetStore):
            st.refresh()
    finally:
        if own_store:
            st.close()
    return report


def _absorb(st: Store, res: TaskResult, report: IngestReport) -> None:
    if res.error is not None:
        (report.refused if res.refused else report.errors).append(res.error)
        return
    if res.measurements is not None and res.verdicts is not None:
        report.new_records += st.append(res.measurements, res.verdicts, res.task.key, res.task.path)
    else:
        report.new_records += res.records
    report.tasks_done += 1
    report.records += res.records
    report.broken += res.broken
    for k, c in res.statuses.items():
        report.statuses[k] = report.statuses.get(k, 0) + c


def default_fingerprints_dir() -> Path:
    """Where `ayiq net fingerprints update` keeps OONI's blockpage fingerprints (used when present)."""
    return data_dir() / "fingerprints"


def _default_fingerprints() -> str | None:
    d = default_fingerprints_dir()
    return str(d) if d.is_dir() and any(d.glob("*.csv")) else None


class _progress:
    """A Rich progress bar over tasks (or nothing), as a context manager yielding an `advance(result)`."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self._bar: Any = None

    def __enter__(self) -> Callable[[TaskResult], None]:
        if not self.enabled:
            return lambda _res: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[recs]} records"),
            TimeRemainingColumn(), transient=False,
        )
        self._bar.start()
        tid = self._bar.add_task("ingest", total=self.total, recs=0)
        count = [0]

        def advance(res: TaskResult) -> None:
            count[0] += res.records
            self._bar.update(tid, advance=1, recs=count[0])

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def rejudge(store: str | Path | Store | None = None, fingerprints: str | Path | None = None,
            batch: int = 5000) -> int:
    """Re-run the current judges over the stored raw measurements (facts stay; verdicts are replaced)."""
    fps = str(fingerprints) if fingerprints else _default_fingerprints()
    judge = _judge_for(fps)
    own = not isinstance(store, Store)
    st = store if isinstance(store, Store) else open_store(store)
    total = 0
    try:
        # Small columns only: read them first, since writing on the same connection ends an open cursor.
        everything = st.con.execute(
            "SELECT measurement_uid, month, raw_segment, raw_offset, raw_length, parse_error FROM measurements"
        ).fetchall()
        for i in range(0, len(everything), batch):
            rows = everything[i : i + batch]
            v: dict[str, list[Any]] = {f.name: [] for f in VERDICTS}
            now = datetime.now(UTC)
            for uid, month, seg, off, length, perr in rows:
                raw = st.read_raw(seg, off, length) if seg else b""
                verdict = failed(perr, judge="ingest") if perr else _safe_judge(judge, raw)
                v["measurement_uid"].append(uid)
                for k, val in verdict.as_row().items():
                    v[k].append(val)
                v["month"].append(month)
                v["judged_at"].append(now)
            st.replace_verdicts(pa.Table.from_pydict(v, schema=VERDICTS))
            total += len(rows)
    finally:
        if own:
            st.close()
    return total


def _safe_judge(judge: Callable[[dict[str, Any]], Verdict], raw: bytes) -> Verdict:
    try:
        obj = orjson.loads(raw)
        if not isinstance(obj, dict):
            return failed("stored record is not a JSON object", judge="ingest")
        return judge(obj)
    except Exception as exc:
        return failed(f"judge error: {type(exc).__name__}: {exc}", judge="ingest")


def raw_measurement(st: Store, uid: str) -> dict[str, Any]:
    row = st.con.execute(
        "SELECT raw_segment, raw_offset, raw_length FROM measurements WHERE measurement_uid = ?", [uid]
    ).fetchone()
    if row is None:
        raise AyiqError(f"no measurement with uid {uid!r} in the store")
    raw = st.read_raw(row[0], row[1], row[2])
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"_unparseable": raw[:2000].decode("utf-8", "replace")}
    return obj if isinstance(obj, dict) else {"_value": obj}


__all__ = ["IngestReport", "Task", "TaskResult", "ingest", "plan_tasks", "raw_measurement", "rejudge", "run_task"]
