"""STIX 2 pattern parsing with no I/O: turn `[domain-name:value = 'x']` into (object path, value) pairs.

Indicator values may hold `=`, quotes and backslashes (STIX escapes `'` and `\\` inside string literals),
so the pattern is tokenised rather than split on `=`; a pattern we cannot read is reported, never fatal.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# The common shape, one comparison: a fast path that avoids the tokenizer for 99.9% of real patterns.
_SIMPLE = re.compile(r"\[\s*([A-Za-z0-9_\-]+:[A-Za-z0-9_\-.']+?)\s*=\s*'((?:[^'\\]|\\.)*)'\s*\]\Z", re.S)
_UNESCAPE = re.compile(r"\\(.)", re.S)


class PatternError(ValueError):
    """A STIX pattern this parser cannot read (the message says where)."""


@dataclass(slots=True)
class Comparison:
    """One `object-path = 'value'` comparison from a pattern."""

    path: str  # normalised: lower-case, quotes removed from hash names, e.g. "file:hashes.sha-256"
    value: str


@functools.lru_cache(maxsize=1024)
def normalise_path(path: str) -> str:
    """`file:hashes.'SHA-256'` and `file:hashes.sha256` name the same property: fold them together."""
    p = path.strip().replace("'", "").replace('"', "").lower()
    if p.startswith("file:hashes."):
        algo = p[len("file:hashes.") :].replace("-", "")
        p = "file:hashes." + algo
    return p


def parse_pattern(pattern: str) -> list[Comparison]:
    """All `path = 'value'` comparisons of a pattern joined by OR/AND inside one or more brackets.

    Only equality is supported (the only operator in published mobile-spyware indicators); anything else
    raises PatternError naming the offending part.
    """
    m = _SIMPLE.match(pattern.strip())
    if m:
        value = m.group(2)
        return [Comparison(normalise_path(m.group(1)), _UNESCAPE.sub(r"\1", value) if "\\" in value else value)]
    return _parse_slow(pattern)


def _parse_slow(pattern: str) -> list[Comparison]:
    s = pattern.strip()
    i, n = 0, len(s)
    out: list[Comparison] = []
    depth = 0

    def skip_ws(j: int) -> int:
        while j < n and s[j].isspace():
            j += 1
        return j

    expect_comparison = True
    while True:
        i = skip_ws(i)
        if i >= n:
            break
        c = s[i]
        if c == "[" or c == "(":
            depth += 1
            i += 1
            expect_comparison = True
            continue
        if c == "]" or c == ")":
            depth -= 1
            if depth < 0:
                raise PatternError(f"unbalanced {c!r} at offset {i}")
            i += 1
            expect_comparison = False
            continue
        word = re.match(r"(AND|OR|FOLLOWEDBY)\b", s[i:], re.I)
        if word:
            if word.group(1).upper() == "FOLLOWEDBY":
                raise PatternError("FOLLOWEDBY is not supported")
            i += len(word.group(0))
            expect_comparison = True
            continue
        if not expect_comparison:
            raise PatternError(f"unexpected text at offset {i}: {s[i:i + 20]!r}")
        # object path: up to the operator, allowing quoted hash names such as hashes.'SHA-256'
        j = i
        while j < n and s[j] not in "=!<>" and not s[j].isspace():
            if s[j] == "'":
                k = s.find("'", j + 1)
                if k < 0:
                    raise PatternError(f"unterminated quote in object path at offset {j}")
                j = k + 1
            else:
                j += 1
        path = s[i:j]
        if ":" not in path:
            raise PatternError(f"no object path at offset {i}: {s[i:i + 20]!r}")
        j = skip_ws(j)
        if j >= n or s[j] != "=" or (j + 1 < n and s[j + 1] == "="):
            raise PatternError(f"only '=' comparisons are supported (offset {j})")
        j = skip_ws(j + 1)
        if j >= n or s[j] != "'":
            raise PatternError(f"expected a quoted string value at offset {j}")
        j += 1
        buf: list[str] = []
        while True:
            if j >= n:
                raise PatternError("unterminated string value")
            ch = s[j]
            if ch == "\\" and j + 1 < n:
                buf.append(s[j + 1])
                j += 2
                continue
            if ch == "'":
                j += 1
                break
            buf.append(ch)
            j += 1
        out.append(Comparison(normalise_path(path), "".join(buf)))
        i = j
        expect_comparison = False
    if depth != 0:
        raise PatternError("unbalanced brackets")
    if not out:
        raise PatternError("no comparison found")
    return out
