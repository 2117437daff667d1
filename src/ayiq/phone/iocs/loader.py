"""Read STIX 2 bundles into indicators, in one linear pass (MVT's loader is quadratic in the count).

Family names come from `indicates` relationships (indicator -> malware), else the bundle's single
malware or report, else the file name. Patterns we cannot read are counted and listed, never fatal.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

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
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(path, f"not a JSON STIX 2 bundle ({exc})") from exc
    del raw  # the decoded bundle is the peak of a cold load: do not hold the bytes beside it
    out = parse_bundle(data, source)
    del data
    if use_cache:
        cache.write_entry(resolved, key, out.indicators, out.skipped)
    return out


def parse_bundle(data: Any, source: str) -> IocFile:
    """Indicators of a decoded STIX 2 bundle (pure; `source` names it in every indicator)."""
    # hundreds of thousands of small objects make the cyclic GC rescan everything again and again
    # (the curve turns quadratic-looking); nothing here makes cycles, so pause it.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_bundle(data, source)
    finally:
        if enabled:
            gc.enable()


def _parse_bundle(data: Any, source: str) -> IocFile:
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise InputError(source, "not a STIX 2 bundle (no 'objects' list)")
    objects = [o for o in data["objects"] if isinstance(o, dict)]
    names: dict[str, str] = {}
    for o in objects:
        if o.get("type") in ("malware", "report", "intrusion-set", "threat-actor", "campaign", "tool"):
            oid, name = o.get("id"), o.get("name")
            if isinstance(oid, str) and isinstance(name, str):
                names[oid] = name
    family_of: dict[str, str] = {}
    for o in objects:
        if o.get("type") == "relationship":
            src, dst = o.get("source_ref"), o.get("target_ref")
            if isinstance(src, str) and isinstance(dst, str) and dst in names and src not in family_of:
                family_of[src] = names[dst]
    malwares = [names[o["id"]] for o in objects
                if o.get("type") == "malware" and isinstance(o.get("id"), str) and o["id"] in names]
    reports = [names[o["id"]] for o in objects
               if o.get("type") == "report" and isinstance(o.get("id"), str) and o["id"] in names]
    default = (malwares[0] if len(malwares) == 1 else reports[0] if len(reports) == 1
               else Path(source).stem)
    out = IocFile(path=source)
    seen: set[tuple[str, str, str]] = set()
    indicators = out.indicators
    kind_cache: dict[str, str | None] = {}
    for o in objects:
        if o.get("type") != "indicator":
            continue
        pattern = o.get("pattern")
        sid = o.get("id")
        if not isinstance(sid, str):
            sid = ""
        if not isinstance(pattern, str):
            out.skipped.append(f"{sid}: no pattern")
            continue
        ptype = o.get("pattern_type", "stix")
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
