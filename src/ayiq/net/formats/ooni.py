"""Read OONI measurements from files: single JSON, JSONL, gzip'd either, and the API's raw_measurement wrapper.

This layer does no judging: it yields one `RawRecord` per measurement (or per broken line), keeping the bytes
so the store holds the facts as they came. Files that are not measurements at all raise `InputError`.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ayiq.core.errors import InputError

# Keys of the df-000 envelope; an object with none of these is not a measurement.
ENVELOPE_KEYS = frozenset(
    {"test_name", "test_keys", "measurement_start_time", "report_id", "probe_cc", "data_format_version"}
)
MEASUREMENT_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz", ".jsonc", ".yaml", ".yml", ".yaml.gz")
GZIP_MAGIC = b"\x1f\x8b"
MAX_DOC_BYTES = 256 * 1024 * 1024  # one JSON document, or one line of JSONL
PEEK_BYTES = 64 * 1024


class LegacyYAMLError(InputError):
    """Legacy ooniprobe (Python, 2012-2017) YAML reports are refused with this error."""


@dataclass(slots=True)
class RawRecord:
    """One measurement as read: its bytes, where it came from, and the parsed object (None if unparseable)."""

    source: str
    raw: bytes
    obj: dict[str, Any] | None
    error: str | None = None
    wrapper_uid: str | None = None


def content_uid(raw: bytes) -> str:
    """A stable id for a record without a measurement uid: the hash of its bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def _open(path: Path) -> BinaryIO:
    """Open plain or gzip'd (by content, not by name) for reading bytes."""
    try:
        fh = path.open("rb")
        if fh.read(2) == GZIP_MAGIC:
            fh.seek(0)
            return gzip.GzipFile(fileobj=fh)  # type: ignore[return-value]
        fh.seek(0)
        return fh
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc}") from exc


def _read_all(path: Path) -> bytes:
    """A whole (decompressed) file, refusing anything over MAX_DOC_BYTES: gzip bombs end here."""
    try:
        with _open(path) as fh:
            data = fh.read(MAX_DOC_BYTES + 1)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(path, f"cannot read: {exc}") from exc
    if len(data) > MAX_DOC_BYTES:
        raise InputError(
            path, f"a single JSON document larger than {MAX_DOC_BYTES // 2**20} MiB; write it as JSON lines"
        )
    return data


def _strip_jsonc(data: bytes) -> bytes:
    """Drop whole-line // comments (OONI's .jsonc fixtures); inline comments are not part of any file we know."""
    return b"\n".join(line for line in data.split(b"\n") if not line.lstrip().startswith(b"//"))


def _unwrap(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """Return (measurement, uid from wrapper, error) for the OONI API's `raw_measurement` wrapper or a bare one."""
    if "raw_measurement" in obj and "test_keys" not in obj:
        inner = obj["raw_measurement"]
        uid = obj.get("measurement_uid") if isinstance(obj.get("measurement_uid"), str) else None
        if isinstance(inner, str):
            try:
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError as exc:
                return None, uid, f"raw_measurement is not valid JSON: {exc}"
        if not isinstance(inner, dict):
            return None, uid, f"raw_measurement is {type(inner).__name__}, not an object"
        return inner, uid, None
    return obj, None, None


def is_measurement(obj: object) -> bool:
    return isinstance(obj, dict) and (
        bool(ENVELOPE_KEYS.intersection(obj)) or "raw_measurement" in obj
    )


def _record_from_obj(source: str, raw: bytes, obj: object) -> RawRecord:
    if not isinstance(obj, dict):
        return RawRecord(source, raw, None, f"a JSON {type(obj).__name__}, not a measurement object")
    inner, uid, err = _unwrap(obj)
    if err is not None:
        return RawRecord(source, raw, None, err, uid)
    assert inner is not None
    if inner is not obj:
        raw = orjson.dumps(inner)
    return RawRecord(source, raw, inner, None, uid)


def read_records(path: Path, start: int = 0, end: int | None = None) -> Iterator[RawRecord]:
    """Yield the measurements of one file (or of the byte range [start, end) of an uncompressed JSONL file).

    Raises InputError when the file is unreadable or holds no measurement at all; a broken line in an otherwise
    good file becomes a RawRecord with `error` set, so it is stored as a failure and nothing else is dropped.
    """
    name = path.name.lower()
    if name.endswith((".yaml", ".yml", ".yaml.gz")):
        raise LegacyYAMLError(
            path, "legacy ooniprobe YAML report (pre-2017 format) is not supported; only JSON/JSONL measurements are"
        )
    if name.endswith((".jsonl", ".jsonl.gz")) or start or end is not None:
        yield from _read_jsonl(path, start, end)
        return
    data = _read_all(path)
    if name.endswith(".jsonc"):
        data = _strip_jsonc(data)
    stripped = data.lstrip()
    if not stripped:
        raise InputError(path, "empty file, no measurement in it")
    if stripped[:1] not in (b"{", b"["):
        raise InputError(path, "not JSON or JSONL (does not start with '{' or '['): not an OONI measurement file")
    # One JSON document (possibly pretty-printed over many lines), else JSON lines.
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield from _read_jsonl(path, 0, None)
        return
    items = whole if isinstance(whole, list) else [whole]
    if not any(is_measurement(o) for o in items):
        raise InputError(path, _not_measurement_reason(items))
    for i, obj in enumerate(items):
        src = f"{path}" if len(items) == 1 else f"{path}#{i}"
        raw = data if len(items) == 1 else orjson.dumps(obj)
        yield _record_from_obj(src, raw, obj)


def _not_measurement_reason(items: list[object]) -> str:
    first = items[0] if items else None
    if isinstance(first, dict):
        keys = ", ".join(sorted(first)[:6])
        return f"JSON without an OONI measurement envelope (no test_name/test_keys/report_id; keys: {keys})"
    return f"JSON {type(first).__name__}, not an OONI measurement"


def _lines(path: Path, start: int, end: int | None) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line of the file or of its byte range; None for an over-long line."""
    try:
        with _open(path) as fh:
            if start:
                fh.seek(start)
            pos = start
            lineno = 0
            while end is None or pos < end:
                line = fh.readline(MAX_DOC_BYTES + 1)
                if not line:
                    break
                pos += len(line)
                lineno += 1
                if len(line) > MAX_DOC_BYTES:
                    while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                        line = fh.readline(PEEK_BYTES)
                        pos += len(line)
                    yield lineno, None
                    continue
                yield lineno, line
    except (OSError, EOFError) as exc:
        raise InputError(path, f"cannot read (truncated or corrupt?): {exc}") from exc


def _read_jsonl(path: Path, start: int, end: int | None) -> Iterator[RawRecord]:
    """Stream JSON lines with bounded memory. Lines before the first measurement are held back (at most
    1,000) so a file with no measurement at all is an error, not a pile of failure records."""
    seen_measurement = False
    empty = True
    pending: list[RawRecord] = []
    for lineno, line in _lines(path, start, end):
        src = f"{path}:{lineno}" if not start else f"{path}@{start}:{lineno}"
        if line is None:
            rec = RawRecord(src, b"", None, f"line {lineno} is longer than {MAX_DOC_BYTES // 2**20} MiB")
        else:
            line = line.rstrip(b"\r\n")
            if not line or line.isspace():  # (isspace() tests without copying a line of tens of kB)
                continue
            empty = False
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rec = RawRecord(src, line, None, f"line {lineno} is not valid JSON: {exc}")
            else:
                if is_measurement(obj):
                    seen_measurement = True
                rec = _record_from_obj(src, line, obj)
        if seen_measurement:
            yield from pending
            pending.clear()
            yield rec
        else:
            pending.append(rec)
            if len(pending) > 1000:
                break
    if empty:
        raise InputError(path, "empty file, no measurement in it")
    if not seen_measurement:
        raise InputError(path, "neither a JSON document nor JSON lines holding OONI measurements")


def envelope_uid(rec: RawRecord) -> str:
    """The key that makes ingest idempotent: the API's measurement_uid, else the probe's `id`, else a content hash."""
    if rec.wrapper_uid:
        return rec.wrapper_uid
    obj = rec.obj
    if obj is not None:
        for key in ("measurement_uid", "id"):
            val = obj.get(key)
            if isinstance(val, str) and 0 < len(val) <= 200:
                return val
    return content_uid(rec.raw)


def parse_time(value: object) -> datetime | None:
    """OONI's 'YYYY-MM-DD HH:MM:SS' (UTC) and ISO 8601 variants; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    if len(value) == 19 and value[4] == "-" and value[10] in " T" and value[13] == ":":
        try:  # OONI's own format, by far the most common: sliced, ten times faster than strptime
            return datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]),
                            int(value[14:16]), int(value[17:19]), tzinfo=UTC)
        except ValueError:
            pass
    text = value.strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iter_measurement_files(paths: list[Path]) -> Iterator[Path]:
    """Expand files and folders (recursively) into measurement files, in a stable order."""
    for p in paths:
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and child.name.lower().endswith(MEASUREMENT_SUFFIXES):
                    yield child
        elif p.exists():
            yield p
        else:
            raise InputError(p, "no such file or folder")
