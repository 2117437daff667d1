"""OONI blocking fingerprints: load the CSVs once, then match DNS answers, HTTP headers and bodies fast.

Body patterns are matched with one Aho-Corasick automaton (literal patterns, and the literal every match of a
simple `regexp` pattern must contain) plus a pass of the few remaining regular expressions, built once at load
time, so a body is scanned once, not once per pattern. The automaton is ahocorasick-rs (Rust), which scans a
page about three times faster than pyahocorasick.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ahocorasick_rs

from ayiq.core.errors import InputError

DNS_FILE = "fingerprints_dns.csv"
HTTP_FILE = "fingerprints_http.csv"
_REQUIRED = ("name", "location_found", "pattern_type", "pattern")
_PATTERN_TYPES = {"full", "prefix", "contains", "regexp"}
# OONI fastpath's rule: these scopes confirm blocking whatever the probe's country.
_CONFIRMING_SCOPES = frozenset({"isp", "nat"})


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One row of OONI's blocking-fingerprints CSVs."""

    name: str
    scope: str
    location: str  # "dns", "body" or "header.<name>"
    pattern_type: str  # full | prefix | contains | regexp
    pattern: str
    countries: frozenset[str]

    @property
    def is_blockpage(self) -> bool:
        """False for scope "fp": known look-alikes of blockpages (CDN error pages, captchas), not censorship."""
        return self.scope != "fp"

    def confirms_in(self, probe_cc: str) -> bool:
        """OONI's is_confirmed: the probe's country is expected, or the scope is national/ISP-wide."""
        if not self.is_blockpage:
            return False
        if probe_cc and probe_cc != "ZZ" and probe_cc in self.countries:
            return True
        return self.scope in _CONFIRMING_SCOPES


class Fingerprints:
    """A matcher over OONI's DNS and HTTP fingerprints. Picklable: matchers are rebuilt from the rows."""

    def __init__(self, dns: Sequence[Fingerprint], http: Sequence[Fingerprint], sources: Sequence[str] = ()) -> None:
        self.dns: tuple[Fingerprint, ...] = tuple(dns)
        self.http: tuple[Fingerprint, ...] = tuple(http)
        self.sources: tuple[str, ...] = tuple(sources)
        self._build()

    def __len__(self) -> int:
        return len(self.dns) + len(self.http)

    def __repr__(self) -> str:
        return f"Fingerprints(dns={len(self.dns)}, http={len(self.http)})"

    def __getstate__(self) -> dict[str, Any]:
        return {"dns": self.dns, "http": self.http, "sources": self.sources}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.dns = tuple(state["dns"])
        self.http = tuple(state["http"])
        self.sources = tuple(state["sources"])
        self._build()

    def _build(self) -> None:
        self._dns_by_value: dict[str, list[Fingerprint]] = {}
        for fp in self.dns:
            self._dns_by_value.setdefault(_norm_dns(fp.pattern), []).append(fp)
        literal: dict[str, list[Fingerprint]] = {}
        self._body_full: dict[str, list[Fingerprint]] = {}
        self._regex_always: list[tuple[re.Pattern[str], Fingerprint]] = []
        self._headers: dict[str, list[Fingerprint]] = {}
        self._regex_of: dict[str, re.Pattern[str]] = {}
        for fp in self.http:
            if not fp.is_blockpage and fp.location == "body":
                continue  # scope "fp" bodies (CDN pages, captchas) never decide a verdict: skip their cost
            if fp.location == "body":
                if fp.pattern_type == "regexp":
                    rx = re.compile(fp.pattern)
                    self._regex_of[fp.name] = rx
                    anchor = required_literal(fp.pattern)
                    if anchor:  # run the regex only where its required literal occurs
                        literal.setdefault(anchor, []).append(fp)
                    else:
                        self._regex_always.append((rx, fp))
                elif fp.pattern_type == "full":
                    self._body_full.setdefault(fp.pattern, []).append(fp)
                else:  # contains (a prefix of a body is also contained in it)
                    literal.setdefault(fp.pattern, []).append(fp)
            elif fp.location.startswith("header."):
                self._headers.setdefault(fp.location[7:].lower(), []).append(fp)
        self._header_index = {name: _HeaderIndex(fps) for name, fps in self._headers.items()}
        self._literal_fps: list[tuple[Fingerprint, ...]] = [tuple(v) for v in literal.values()]
        self._automaton = _Automaton(list(literal))

    # --- matching -------------------------------------------------------------------------------------------

    def match_dns(self, value: str) -> list[Fingerprint]:
        """Fingerprints whose pattern is this DNS answer (an IP address or a CNAME)."""
        return list(self._dns_by_value.get(_norm_dns(value), ()))

    def match_body(self, body: str) -> list[Fingerprint]:
        """Fingerprints found in an HTTP body: one automaton pass plus one regex pass."""
        found: dict[str, Fingerprint] = {}
        groups = self._literal_fps
        for index in self._automaton.find(body):
            for fp in groups[index]:
                if fp.pattern_type != "regexp" or self._regex_of[fp.name].search(body):
                    found[fp.name] = fp
        if len(body) < 4096:
            for fp in self._body_full.get(body.strip(), ()):
                found[fp.name] = fp
        for rx, fp in self._regex_always:
            if rx.search(body):
                found[fp.name] = fp
        return list(found.values())

    def match_header(self, name: str, value: str) -> list[Fingerprint]:
        """Fingerprints matching one response header (name compared case-insensitively)."""
        index = self._header_index.get(name.lower())
        return index.match(value) if index is not None else []

    def has_header(self, name: str) -> bool:
        return name.lower() in self._headers

    def match_headers(self, headers: dict[str, str]) -> list[Fingerprint]:
        """Fingerprints matching any of a response's headers (keys already lower-case)."""
        out: list[Fingerprint] = []
        for name, index in self._header_index.items():
            value = headers.get(name)
            if value is not None:
                out.extend(index.match(value))
        return out

    def match_answers(self, answers: Iterable[str]) -> list[Fingerprint]:
        """Fingerprints matching any of these DNS answers (each distinct answer looked up once)."""
        out: list[Fingerprint] = []
        table = self._dns_by_value
        for a in set(answers):
            hit = table.get(a)
            if hit is None and (a[-1:] == "." or not a.islower()):
                hit = table.get(_norm_dns(a))
            if hit:
                out.extend(hit)
        return out


class _HeaderIndex:
    """The fingerprints of one header name: a dict for full values, one startswith() over a tuple of
    prefixes, one automaton for 'contains', so a header costs a few C calls, not a loop over hundreds."""

    def __init__(self, fps: list[Fingerprint]) -> None:
        self.full: dict[str, list[Fingerprint]] = {}
        self.prefixes: list[Fingerprint] = []
        self.regexps: list[tuple[re.Pattern[str], Fingerprint]] = []
        contains: dict[str, list[Fingerprint]] = {}
        for fp in fps:
            if fp.pattern_type == "full":
                self.full.setdefault(fp.pattern, []).append(fp)
            elif fp.pattern_type == "prefix":
                self.prefixes.append(fp)
            elif fp.pattern_type == "contains":
                contains.setdefault(fp.pattern, []).append(fp)
            else:
                self.regexps.append((re.compile(fp.pattern), fp))
        self.prefix_tuple = tuple(fp.pattern for fp in self.prefixes)
        self.contains_groups = list(contains.values())
        self.contains = _Automaton(list(contains))

    def match(self, value: str) -> list[Fingerprint]:
        out = list(self.full.get(value, ()))
        if self.prefix_tuple and value.startswith(self.prefix_tuple):
            out.extend(fp for fp in self.prefixes if value.startswith(fp.pattern))
        for index in self.contains.find(value):
            out.extend(self.contains_groups[index])
        out.extend(fp for rx, fp in self.regexps if rx.search(value))
        return list({fp.name: fp for fp in out}.values())


class _Automaton:
    """Literal patterns found in a text: the index of each pattern that occurs, ordered by where its first
    occurrence ends (the longest first where several end at the same place), each index once."""

    def __init__(self, patterns: list[str]) -> None:
        self._ac = ahocorasick_rs.AhoCorasick(patterns) if patterns else None

    def find(self, text: str) -> list[int]:
        if self._ac is None:
            return []
        try:
            hits = self._ac.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:  # a lone surrogate (the automaton needs valid UTF-8): it matches no pattern
            hits = self._ac.find_matches_as_indexes(
                text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), overlapping=True)
        return list(dict.fromkeys(h[0] for h in hits))


_META = re.compile(r"\\.|[.*+?()\[\]{}|^$]")


def required_literal(pattern: str) -> str | None:
    """The longest literal text every match of a simple regex must contain (None if unsure).

    Only patterns without alternation, groups or optional parts qualify; the character before a quantifier
    is dropped because it may repeat zero times.
    """
    if any(c in pattern for c in "|()?{}[]"):
        return None
    pieces: list[str] = []
    pos = 0
    for m in _META.finditer(pattern):
        piece = pattern[pos:m.start()]
        if m.group() in ("*", "+") and piece:
            piece = piece[:-1]
        pieces.append(piece)
        pos = m.end()
    pieces.append(pattern[pos:])
    best = max(pieces, key=len, default="")
    return best if len(best) >= 4 else None


def _norm_dns(value: str) -> str:
    return value.strip().lower().rstrip(".")


def _read_csv(path: Path) -> list[Fingerprint]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(path, f"not an OONI fingerprints CSV: missing column(s) {', '.join(missing)}")
    rows: list[Fingerprint] = []
    for lineno, row in enumerate(reader, start=2):
        name = (row.get("name") or "").strip()
        location = (row.get("location_found") or "").strip().lower()
        ptype = (row.get("pattern_type") or "").strip().lower()
        pattern = row.get("pattern") or ""
        if not name or not pattern:
            raise InputError(path, f"line {lineno}: empty name or pattern")
        if ptype not in _PATTERN_TYPES:
            raise InputError(path, f"line {lineno}: unknown pattern_type {ptype!r} for {name}")
        if location != "dns" and location != "body" and not location.startswith("header."):
            raise InputError(path, f"line {lineno}: unknown location_found {location!r} for {name}")
        if ptype == "regexp":
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InputError(path, f"line {lineno}: bad regexp for {name}: {exc}") from exc
        countries = frozenset(
            c.strip().upper() for c in (row.get("expected_countries") or "").split(",") if c.strip()
        ) - {"ZZ"}
        rows.append(Fingerprint(name, (row.get("scope") or "").strip().lower(), location, ptype, pattern, countries))
    if not rows:
        raise InputError(path, "no fingerprints in file")
    return rows


def load_fingerprints(path: str | Path) -> Fingerprints:
    """Load a folder holding OONI's fingerprints_dns.csv / fingerprints_http.csv, or one such CSV.

    Raises InputError naming the file when a file is missing, unreadable or malformed.
    """
    p = Path(path)
    files: list[Path]
    if p.is_dir():
        files = [f for f in (p / DNS_FILE, p / HTTP_FILE) if f.is_file()]
        if not files:
            raise InputError(p, f"no {DNS_FILE} or {HTTP_FILE} in this folder (run `ayiq net fingerprints update`)")
    elif p.is_file():
        files = [p]
    else:
        raise InputError(p, "no such file or folder")
    dns: list[Fingerprint] = []
    http: list[Fingerprint] = []
    for f in files:
        for fp in _read_csv(f):
            (dns if fp.location == "dns" else http).append(fp)
    return Fingerprints(dns, http, sources=[str(f) for f in files])


def names(fps: Iterable[Fingerprint]) -> list[str]:
    """Fingerprint ids in first-seen order, without repeats."""
    return list(dict.fromkeys(fp.name for fp in fps))
