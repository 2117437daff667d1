"""A compact cache of parsed STIX 2 files, so a check does not decode whole bundles at every run.

The first load of an indicator file parses it and stores what was extracted (indicators as short rows,
the skipped patterns) in `<cache dir>/phone/iocs/`; later loads read that instead of the bundle. An entry
is used only when its format version and its key match: the file's resolved path, the stem of the name it
was given by (the family of last resort), its size, its mtime_ns, the BLAKE2b-256 digest of its content
(hashing all 17 MVT files, 9 MB, takes ~13 ms) and a digest of the parsing code. Anything else (stale, corrupt, truncated, foreign, unreadable) is a
miss: the file is parsed again and the entry rewritten. Writing is atomic and best-effort: a cache that
cannot be written costs speed, never a result. Format: docs/formats/phone-ioc-cache.md.
"""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

try:  # CPython's built-in BLAKE2: `hashlib` would map OpenSSL's libcrypto (+3.4 MiB RSS) for one digest
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other Python implementations
    from hashlib import blake2b

from ayiq.core.paths import cache_dir
from ayiq.phone.iocs.model import KINDS, Indicator

FORMAT = "ayiq-phone-ioc-cache"
VERSION = 1
MAX_ENTRY_BYTES = 256 * 1024 * 1024
_KIND_SET = frozenset(KINDS)

Key = dict[str, Any]


def cache_root() -> Path:
    return cache_dir() / "phone" / "iocs"


def entry_path(resolved: Path) -> Path:
    """One entry per indicator file, named by a hash of its resolved path."""
    name = blake2b(os.fsencode(resolved), digest_size=16).hexdigest()
    return cache_root() / f"{name}.json"


def file_key(resolved: Path, source: str, st: os.stat_result, digest: str) -> Key:
    return {"path": str(resolved), "stem": Path(source).stem, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "blake2b": digest, "parser": parser_fingerprint()}


_parser: str | None = None


def parser_fingerprint() -> str:
    """A digest of the code that turns a bundle into indicators (loader, patterns, normalisation): entries
    made by another version of it are misses, with no version number to remember to bump."""
    global _parser
    if _parser is None:
        from ayiq import __version__
        from ayiq.phone.iocs import loader, model, stix2

        h = blake2b(digest_size=16)
        for mod in (loader, model, stix2):
            try:
                h.update(Path(str(mod.__file__)).read_bytes())
            except OSError:  # no source next to the bytecode: the package version stands in
                h.update(f"{mod.__name__} {__version__}".encode())
        _parser = h.hexdigest()
    return _parser


def hash_bytes(data: bytes) -> str:
    return blake2b(data, digest_size=32).hexdigest()


def hash_file(path: Path) -> str:
    """The content digest, read in 1 MiB chunks (a hit never holds the whole file)."""
    h = blake2b(digest_size=32)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_entry(resolved: Path, key: Key, source: str) -> tuple[list[Indicator], list[str]] | None:
    """The cached indicators and skipped notes for `key`, with `source` as their file; None on any miss."""
    entry = entry_path(resolved)
    try:
        if entry.stat().st_size > MAX_ENTRY_BYTES:
            return None
        doc = orjson.loads(entry.read_bytes())
    except (OSError, ValueError):
        return None
    enabled = gc.isenabled()
    gc.disable()  # 100,000 new objects and no cycles: the cyclic GC would rescan them again and again
    try:
        return _decode(doc, key, source)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    finally:
        if enabled:
            gc.enable()


def _decode(doc: Any, key: Key, source: str) -> tuple[list[Indicator], list[str]] | None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        return None
    if doc.get("key") != key:
        return None
    kinds, families, rows, skipped = doc["kinds"], doc["families"], doc["indicators"], doc["skipped"]
    if not (isinstance(kinds, list) and isinstance(families, list) and isinstance(rows, list)
            and isinstance(skipped, list) and doc.get("count") == len(rows)):
        return None
    if not all(k in _KIND_SET for k in kinds) or not all(isinstance(f, str) for f in families):
        return None
    if not all(isinstance(s, str) for s in skipped):
        return None
    nk, nf = len(kinds), len(families)
    out: list[Indicator] = []
    append = out.append
    for row in rows:
        k, f, value, sid = row  # ValueError/TypeError on a malformed row: a miss
        if not (type(k) is int and type(f) is int and 0 <= k < nk and 0 <= f < nf
                and type(value) is str and value and type(sid) is str):
            return None
        append(Indicator(kinds[k], value, families[f], source, sid))
    return out, skipped


def write_entry(resolved: Path, key: Key, indicators: list[Indicator], skipped: list[str]) -> bool:
    """Store an entry atomically; False (and nothing left behind) when the cache cannot be written."""
    kind_ix: dict[str, int] = {}
    fam_ix: dict[str, int] = {}
    rows = [[kind_ix.setdefault(i.kind, len(kind_ix)), fam_ix.setdefault(i.family, len(fam_ix)), i.value, i.stix_id]
            for i in indicators]
    doc = {"format": FORMAT, "version": VERSION, "key": key, "kinds": list(kind_ix), "families": list(fam_ix),
           "count": len(rows), "indicators": rows, "skipped": skipped}
    entry = entry_path(resolved)
    tmp: str | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=entry.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(doc))
        os.replace(tmp, entry)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
