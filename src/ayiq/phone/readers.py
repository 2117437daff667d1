"""Read-only, bounded readers for hostile evidence: SQLite (never written, WAL via a private copy),
plists (size-, depth- and node-limited, cycles refused) and JSON-able conversion of what they hold."""

from __future__ import annotations

import base64
import plistlib
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from ayiq.core.errors import InputError
from ayiq.phone.timeutil import iso

WORK_DIR: ContextVar[Path | None] = ContextVar("ayiq_phone_work_dir", default=None)
"""Where private copies (WAL databases, decrypted files) go: the check's output folder when set, so
nothing is written anywhere else; removed when the check ends."""

MAX_PLIST_BYTES = 64 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_DEPTH = 100


@contextmanager
def open_sqlite(path: Path, *, label: str | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection. With a `-wal` beside the file, a private copy is opened so the WAL's rows
    are seen and the original (and its WAL) stay untouched; otherwise `immutable=1` on the original."""
    name = label or str(path)
    tmp: Path | None = None
    wal = path.with_name(path.name + "-wal")
    try:
        if wal.is_file() and wal.stat().st_size > 0:
            tmp = Path(tempfile.mkdtemp(prefix="ayiq-wal-", dir=WORK_DIR.get()))
            shutil.copyfile(path, tmp / "db")
            shutil.copyfile(wal, tmp / "db-wal")
            conn = sqlite3.connect(tmp / "db")
        else:
            uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True)
        conn.execute("PRAGMA query_only=1")
        conn.execute("PRAGMA trusted_schema=0")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise InputError(name, f"not a readable SQLite database ({exc})") from exc
    except OSError as exc:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(name, f"cannot open ({exc.strerror or exc})") from exc
    try:
        yield conn
    except sqlite3.DatabaseError as exc:
        raise InputError(name, f"SQLite error while reading ({exc})") from exc
    finally:
        conn.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def present_columns(conn: sqlite3.Connection, table: str, wanted: Iterable[str]) -> list[str]:
    """Those of `wanted` that `table` has, in the order asked (schemas differ between OS versions)."""
    cols = table_columns(conn, table)
    return [c for c in wanted if c in cols]


def select_present(conn: sqlite3.Connection, table: str, wanted: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The rows of `table` as dicts of the `wanted` columns it has; nothing when the table is absent."""
    if table not in tables(conn):
        return
    want = present_columns(conn, table, wanted)
    for row in conn.execute(f"SELECT {', '.join(want)} FROM {table}"):
        yield dict(zip(want, row, strict=True))


def load_plist_bytes(data: bytes, label: str) -> Any:
    if len(data) > MAX_PLIST_BYTES:
        raise InputError(label, f"property list of {len(data)} bytes is over the {MAX_PLIST_BYTES} limit")
    try:
        obj = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError, KeyError, IndexError, OverflowError,
            RecursionError, MemoryError, UnicodeDecodeError, AttributeError) as exc:
        raise InputError(label, f"not a valid property list ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # expat and struct errors from crafted files
        raise InputError(label, f"not a valid property list ({type(exc).__name__}: {exc})") from exc
    return jsonable(obj, label)


def load_plist(path: Path, label: str | None = None) -> Any:
    name = label or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PLIST_BYTES:
            raise InputError(name, f"property list of {size} bytes is over the {MAX_PLIST_BYTES} limit")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(name, f"cannot read ({exc.strerror or exc})") from exc
    return load_plist_bytes(data, name)


def jsonable(obj: Any, label: str) -> Any:
    """A copy made of JSON types, refusing cycles, depth over MAX_DEPTH and more than MAX_NODES values
    (a "plist bomb" shares one object many times so that a naive walk never ends)."""
    budget = [MAX_NODES]
    active: set[int] = set()

    def conv(o: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise InputError(label, f"property list expands to more than {MAX_NODES} values (a plist bomb?)")
        if depth > MAX_DEPTH:
            raise InputError(label, f"property list nested deeper than {MAX_DEPTH} levels")
        if isinstance(o, dict | list | tuple):
            if id(o) in active:
                raise InputError(label, "property list refers to itself (cycle)")
            active.add(id(o))
            try:
                if isinstance(o, dict):
                    return {str(k): conv(v, depth + 1) for k, v in o.items()}
                return [conv(v, depth + 1) for v in o]
            finally:
                active.discard(id(o))
        if isinstance(o, bytes | bytearray):
            return {"$bytes": base64.b64encode(bytes(o)).decode()}
        if isinstance(o, datetime):
            return iso(o)
        if isinstance(o, plistlib.UID):
            return {"$uid": o.data}
        if isinstance(o, uuid.UUID):
            return str(o)
        return o

    return conv(obj, 0)
