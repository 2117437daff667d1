"""Read STIX 2 bundles into indicators, in one linear pass (MVT's loader is quadratic in the count).

Family names come from `indicates` relationships (indicator -> malware), else the bundle's single
malware or report, else the file name. Patterns we cannot read are counted and listed, never fatal.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ayiq.core.errors import InputError
from ayiq.phone.iocs import cache
from ayiq.phone.iocs.model import Indicator, kind_of, normalise_value
from ayiq.phone.iocs.stix2 import PatternError, parse_pattern

MAX_STIX_BYTES = 512 * 1024 * 1024


@dataclass(slots=True)
class IocFile:
    """What one STIX file gave: indicators by kind, families, and what was skipped and why."""

    path: str
    indicators: list[Indicator] = field(default_factory=list)
    families: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "indicators": len(self.indicators), "kinds": dict(self.kinds),
                "families": dict(self.families), "skipped": len(self.skipped),
                "skipped_examples": self.skipped[:5]}


def load_stix_file(path: Path, *, use_cache: bool = True) -> IocFile:
    """One STIX 2 file's indicators: from the parsed-indicator cache when a valid entry matches the file's
    path, size, mtime and content hash (see `cache`), else parsed from the bundle (and the entry rewritten)."""
    source = str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(path, f"cannot read the indicator file ({exc.strerror})") from exc
    if st.st_size > MAX_STIX_BYTES:
        raise InputError(path, f"indicator file is {st.st_size} bytes, over the {MAX_STIX_BYTES} limit")
    resolved = path.resolve()
    if use_cache:
        try:
            key = cache.file_key(resolved, source, st, cache.hash_file(path))
        except OSError as exc:
            raise InputError(path, f"cannot read the indicator file ({exc.strerror})") from exc
        hit = cache.read_entry(resolved, key, source)
        if hit is not None:
            out = IocFile(path=source, indicators=hit[0], skipped=hit[1])
            out.kinds.update(i.kind for i in out.indicators)
            out.families.update(i.family for i in out.indicators)
            return out
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the indicator file ({exc.strerror})") from exc
    # the key is taken from the bytes actually parsed (the file may have changed since it was hashed)
    key = cache.file_key(resolved, source, st, cache.hash_bytes(raw)) if use_cache else {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a JSON STIX 2 bundle (not UTF-8: {exc.reason} at byte {exc.start})") from exc
    del raw
    out = parse_text(text, source)
    del text
    if use_cache:
        cache.write_entry(resolved, key, out.indicators, out.skipped)
    return out


def parse_bundle(data: Any, source: str) -> IocFile:
    """Indicators of a decoded STIX 2 bundle (pure; `source` names it in every indicator)."""
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise InputError(source, "not a STIX 2 bundle (no 'objects' list)")
    return _parse_objects(data["objects"], source)


def parse_text(text: str, source: str) -> IocFile:
    """Indicators of a STIX 2 bundle given as JSON text, read one object at a time (see iter_bundle_objects):
    the same result as `parse_bundle(json.loads(text))` without ever holding the whole decoded bundle, which
    is 5 times the size of the text (MVT's 3.9 MB stalkerware file decodes to 21 MiB of Python objects)."""
    try:
        return _parse_objects(iter_bundle_objects(text, source), source)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not a JSON STIX 2 bundle ({exc})") from exc


_WS = re.compile(r"[ \t\n\r]*")


def iter_bundle_objects(text: str, source: str) -> Iterator[Any]:
    """The elements of the top-level object's "objects" array, each decoded on its own by the standard
    library's C decoder (`raw_decode`); the other top-level members are decoded and dropped. Raises
    json.JSONDecodeError on malformed JSON (trailing data included) and InputError when the text is JSON
    but not an object with one "objects" array."""
    decode = json.JSONDecoder().raw_decode
    match = _WS.match

    def ws(i: int) -> int:
        m = match(text, i)  # zero or more blanks: always matches
        return m.end() if m else i

    def expect(i: int, chars: str) -> str:
        c = text[i : i + 1]
        if not c or c not in chars:
            raise json.JSONDecodeError(f"expected one of {chars!r}", text, i)
        return c

    def no_objects() -> InputError:
        return InputError(source, "not a STIX 2 bundle (no 'objects' list)")

    i = ws(0)
    if text[i : i + 1] != "{":
        decode(text, i)  # malformed JSON says so; any other JSON value is not a bundle
        raise no_objects()
    i = ws(i + 1)
    seen = False
    if text[i : i + 1] != "}":
        while True:
            expect(i, '"')
            key, i = decode(text, i)
            i = ws(i)
            expect(i, ":")
            i = ws(i + 1)
            if key == "objects":
                if seen:
                    raise InputError(source, "not a STIX 2 bundle (two 'objects' members)")
                seen = True
                if text[i : i + 1] != "[":
                    decode(text, i)
                    raise no_objects()
                i = ws(i + 1)
                if text[i : i + 1] == "]":
                    i += 1
                else:
                    while True:
                        obj, i = decode(text, i)
                        yield obj
                        i = ws(i)
                        if expect(i, ",]") == "]":
                            i += 1
                            break
                        i = ws(i + 1)
            else:
                _, i = decode(text, i)
            i = ws(i)
            if expect(i, ",}") == "}":
                break
            i = ws(i + 1)
    i = ws(i + 1)
    if i != len(text):
        raise json.JSONDecodeError("Extra data", text, i)
    if not seen:
        raise no_objects()


_NAMED = frozenset(("malware", "report", "intrusion-set", "threat-actor", "campaign", "tool"))


def _parse_objects(objects: Iterable[Any], source: str) -> IocFile:
    # hundreds of thousands of small objects make the cyclic GC rescan everything again and again
    # (the curve turns quadratic-looking); nothing here makes cycles, so pause it.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_objects_gc_off(objects, source)
    finally:
        if enabled:
            gc.enable()


def _parse_objects_gc_off(objects: Iterable[Any], source: str) -> IocFile:
    """One pass over the objects keeping only what is needed (names, relationships, and each indicator's
    id, pattern and pattern type), then families resolved and patterns read in the objects' order."""
    names: dict[str, str] = {}
    relations: list[tuple[str, str]] = []
    malware_ids: list[str] = []
    report_ids: list[str] = []
    pending: list[tuple[Any, Any, Any]] = []  # (id, pattern, pattern_type) of each indicator, in order
    for o in objects:
        if not isinstance(o, dict):
            continue
        otype = o.get("type")
        if otype == "indicator":
            pending.append((o.get("id"), o.get("pattern"), o.get("pattern_type", "stix")))
        elif otype == "relationship":
            src, dst = o.get("source_ref"), o.get("target_ref")
            if isinstance(src, str) and isinstance(dst, str):
                relations.append((src, dst))
        elif isinstance(otype, str) and otype in _NAMED:
            oid, name = o.get("id"), o.get("name")
            if isinstance(oid, str) and isinstance(name, str):
                names[oid] = name
            if isinstance(oid, str):
                if otype == "malware":
                    malware_ids.append(oid)
                elif otype == "report":
                    report_ids.append(oid)
    family_of: dict[str, str] = {}
    for src, dst in relations:
        if dst in names and src not in family_of:
            family_of[src] = names[dst]
    malwares = [names[m] for m in malware_ids if m in names]
    reports = [names[r] for r in report_ids if r in names]
    default = (malwares[0] if len(malwares) == 1 else reports[0] if len(reports) == 1
               else Path(source).stem)
    out = IocFile(path=source)
    seen: set[tuple[str, str, str]] = set()
    indicators = out.indicators
    kind_cache: dict[str, str | None] = {}
    for sid, pattern, ptype in pending:
        if not isinstance(sid, str):
            sid = ""
        if not isinstance(pattern, str):
            out.skipped.append(f"{sid}: no pattern")
            continue
        if ptype != "stix" and ptype is not None:
            out.skipped.append(f"{sid}: pattern_type {ptype!r} is not STIX")
            continue
        try:
            comparisons = parse_pattern(pattern)
        except PatternError as exc:
            out.skipped.append(f"{sid}: {exc} in {pattern[:80]!r}")
            continue
        family = family_of.get(sid, default)
        for comp in comparisons:
            path = comp.path
            kind = kind_cache[path] if path in kind_cache else kind_cache.setdefault(path, kind_of(path))
            if kind is None:
                out.skipped.append(f"{sid}: object path {path!r} is not a phone indicator")
                continue
            value = normalise_value(kind, comp.value)
            if not value:
                out.skipped.append(f"{sid}: empty value")
                continue
            key = (kind, value, family)
            if key in seen:
                continue
            seen.add(key)
            indicators.append(Indicator(kind, value, family, source, sid))
    out.kinds.update(i.kind for i in indicators)
    out.families.update(i.family for i in indicators)
    return out


def find_stix_files(path: Path) -> list[Path]:
    """A STIX file, or every `.stix2`/`.json` file under a folder (sorted, so runs are reproducible)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".stix2", ".json") and p.is_file())
    raise InputError(path, "indicator file or folder does not exist")
