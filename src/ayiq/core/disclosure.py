"""The one disclosure control for every output of Ayiq that counts people.

A count of people below ``k`` (default 5) can point at someone ("the 2 people from precinct 9 who use Nar"), so
every table that leaves a case goes through this module: primary suppression of counts from 1 to k-1, and
secondary suppression so that no suppressed count can be rebuilt from what is published. "Rebuilt" is judged
the way an attacker would: a linear programme over the published cells, margins and non-negativity (the
continuous relaxation, which is what ``scipy.optimize.linprog`` solves). Every suppressed count, cell or margin,
keeps a feasible interval at least ``k`` wide. A zero is published: it names no one.

Record-level data (before any table is built) is checked with :func:`check_k_anonymity` over the
quasi-identifiers (precinct, carrier, age band, occupation...).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

DEFAULT_K = 5

# An LP optimum is a float; an interval counts as k wide if it misses k by less than this.
_TOLERANCE = 1e-7


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, not {k!r}")


def _check_count(key: object, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"count for {key!r} must be a whole number of at least 0, not {value!r}")
    return int(value)


def _sensitive(value: int, k: int) -> bool:
    return 0 < value < k


# --------------------------------------------------------------------------------------------- one-way tables


@dataclass(frozen=True, slots=True)
class ProtectedCounts:
    """A one-way table with its total, as it may be published. ``None`` marks a suppressed count."""

    cells: dict[str, int | None]
    total: int | None
    suppressed: frozenset[str]
    primary: frozenset[str] = field(default_factory=frozenset)  # suppressed for being below k themselves
    k: int = DEFAULT_K

    def to_json(self) -> dict[str, object]:
        return {
            "k": self.k,
            "cells": dict(self.cells),
            "total": self.total,
            "suppressed": sorted(self.suppressed),
        }


def protect_counts(counts: Mapping[str, int], k: int = DEFAULT_K) -> ProtectedCounts:
    """Suppress a one-way table of counts (categories -> people) published with its total.

    With the total published, the suppressed cells' sum S is known and each of them can lie anywhere in
    [0, S] (when at least two are suppressed; a single one equals S). So: at least two suppressed cells and
    S >= k; otherwise the smallest cells that fix it are suppressed too. A total from 1 to k-1 is suppressed,
    and then every non-zero cell is (each is at most the total).
    """
    _check_k(k)
    values = {str(name): _check_count(name, v) for name, v in counts.items()}
    total = sum(values.values())
    primary = {name for name, v in values.items() if _sensitive(v, k)}
    suppressed = set(primary)
    total_suppressed = _sensitive(total, k)
    if not total_suppressed:
        while suppressed and (len(suppressed) < 2 or sum(values[n] for n in suppressed) < k):
            rest = sorted((v, n) for n, v in values.items() if n not in suppressed)
            if not rest:
                total_suppressed = True
                break
            missing = k - sum(values[n] for n in suppressed)
            # the smallest cell that closes the gap alone, else the largest (closing as much as one can)
            enough = [(v, n) for v, n in rest if v >= missing]
            suppressed.add(enough[0][1] if enough else rest[-1][1])
    cells = {name: (None if name in suppressed else v) for name, v in values.items()}
    return ProtectedCounts(
        cells=cells,
        total=None if total_suppressed else total,
        suppressed=frozenset(suppressed),
        primary=frozenset(primary),
        k=k,
    )


# --------------------------------------------------------------------------------------------- two-way tables

# An item of a two-way table: a cell ("cell", r, c), a row margin ("row", r), a column margin ("col", c) or the
# grand total ("total",).
_Item = tuple[Hashable, ...]


@dataclass(frozen=True, slots=True)
class ProtectedTable:
    """A two-way table with row and column margins and the grand total, as it may be published."""

    cells: dict[tuple[str, str], int | None]
    row_totals: dict[str, int | None]
    col_totals: dict[str, int | None]
    total: int | None
    suppressed: frozenset[tuple[str, str]]  # suppressed cells (suppressed margins are None above)
    primary: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    k: int = DEFAULT_K

    @property
    def rows(self) -> list[str]:
        return list(self.row_totals)

    @property
    def cols(self) -> list[str]:
        return list(self.col_totals)

    def to_json(self) -> dict[str, object]:
        return {
            "k": self.k,
            "rows": self.rows,
            "cols": self.cols,
            "cells": [[self.cells[(r, c)] for c in self.cols] for r in self.rows],
            "row_totals": [self.row_totals[r] for r in self.rows],
            "col_totals": [self.col_totals[c] for c in self.cols],
            "total": self.total,
            "suppressed": [[r, c] for r, c in sorted(self.suppressed)],
        }


class _Table:
    """The working state of secondary suppression over one table (values known, a set of items hidden)."""

    def __init__(self, rows: list[str], cols: list[str], values: dict[tuple[str, str], int]) -> None:
        self.rows = rows
        self.cols = cols
        self.cell = values
        self.value: dict[_Item, int] = {("cell", r, c): v for (r, c), v in values.items()}
        for r in rows:
            self.value[("row", r)] = sum(values[(r, c)] for c in cols)
        for c in cols:
            self.value[("col", c)] = sum(values[(r, c)] for r in rows)
        self.value[("total",)] = sum(values.values())
        self.hidden: set[_Item] = set()

    def support(self, item: _Item) -> list[tuple[str, str]]:
        """The cells whose sum the item is."""
        kind = item[0]
        if kind == "cell":
            return [(str(item[1]), str(item[2]))]
        if kind == "row":
            return [(str(item[1]), c) for c in self.cols]
        if kind == "col":
            return [(r, str(item[1])) for r in self.rows]
        return [(r, c) for r in self.rows for c in self.cols]

    def interval(self, item: _Item, hidden: set[_Item] | None = None) -> tuple[float, float]:
        """The attacker's feasible interval for ``item`` given everything not in ``hidden``."""
        return attack_interval(self, item, self.hidden if hidden is None else hidden)


def attack_interval(table: _Table, item: _Item, hidden: set[_Item]) -> tuple[float, float]:
    """min and max of ``item`` over non-negative cells that agree with every published cell and margin."""
    unknown = [(r, c) for r in table.rows for c in table.cols if ("cell", r, c) in hidden]
    index = {cell: i for i, cell in enumerate(unknown)}
    objective = np.zeros(len(unknown))
    constant = 0.0
    for cell in table.support(item):
        if cell in index:
            objective[index[cell]] += 1.0
        else:
            constant += table.cell[cell]
    if not objective.any():
        return constant, constant
    a_rows: list[np.ndarray] = []
    b: list[float] = []
    for margin in [("row", r) for r in table.rows] + [("col", c) for c in table.cols] + [("total",)]:
        if margin in hidden:
            continue
        coeffs = np.zeros(len(unknown))
        known = 0.0
        for cell in table.support(margin):
            if cell in index:
                coeffs[index[cell]] = 1.0
            else:
                known += table.cell[cell]
        if coeffs.any():
            a_rows.append(coeffs)
            b.append(table.value[margin] - known)
    a_eq = np.vstack(a_rows) if a_rows else None
    b_eq = np.array(b) if b else None
    bounds = [(0.0, None)] * len(unknown)
    ends = []
    for sign in (1.0, -1.0):
        res = linprog(sign * objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if res.status == 3:  # unbounded
            ends.append(-math.inf if sign > 0 else math.inf)
        elif res.status != 0:
            raise RuntimeError(f"disclosure check: linear programme failed ({res.message})")
        else:
            ends.append(sign * float(res.fun))
    low, high = ends
    return constant + low, constant + high


def _wide_enough(interval: tuple[float, float], k: int) -> bool:
    return interval[1] - interval[0] >= k - _TOLERANCE


def protect_table(counts: Mapping[tuple[str, str], int], k: int = DEFAULT_K) -> ProtectedTable:
    """Suppress a two-way table (``(row, column) -> people``) published with its margins and grand total.

    Rows and columns are the keys' first and second parts, in order of first appearance; a missing
    combination counts as 0. Cells and margins from 1 to k-1 are suppressed; then, while some suppressed
    count's interval under the linear-programming attack is narrower than k, more is suppressed: for a cell,
    the cheapest rectangle of cells (two rows by two columns) whose exchange alone moves it k; otherwise the
    related count that widens it most. Suppressing more only widens intervals, so the loop ends, at worst
    with everything suppressed.
    """
    _check_k(k)
    rows: list[str] = []
    cols: list[str] = []
    for key in counts:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"two-way table keys must be (row, column) pairs, not {key!r}")
        r, c = str(key[0]), str(key[1])
        if r not in rows:
            rows.append(r)
        if c not in cols:
            cols.append(c)
    values = {(r, c): 0 for r in rows for c in cols}
    for key, v in counts.items():
        values[(str(key[0]), str(key[1]))] += _check_count(key, v)
    table = _Table(rows, cols, values)
    table.hidden = {item for item, v in table.value.items() if _sensitive(v, k)}
    primary = frozenset((str(i[1]), str(i[2])) for i in table.hidden if i[0] == "cell")
    checked: set[_Item] = set()  # intervals only widen as more is hidden: a count found safe stays safe
    while True:
        failing = None
        for item in sorted(table.hidden - checked, key=repr):
            if _wide_enough(table.interval(item), k):
                checked.add(item)
            else:
                failing = item
                break
        if failing is None:
            break
        _repair(table, failing, k)
    cells = {cell: (None if ("cell", *cell) in table.hidden else v) for cell, v in values.items()}
    return ProtectedTable(
        cells=cells,
        row_totals={r: (None if ("row", r) in table.hidden else table.value[("row", r)]) for r in rows},
        col_totals={c: (None if ("col", c) in table.hidden else table.value[("col", c)]) for c in cols},
        total=None if ("total",) in table.hidden else table.value[("total",)],
        suppressed=frozenset(cell for cell in values if ("cell", *cell) in table.hidden),
        primary=primary,
        k=k,
    )


def _repair(table: _Table, failing: _Item, k: int) -> None:
    """Hide more of ``table`` so that ``failing``'s interval widens (hiding at least one more item)."""
    if failing[0] == "cell" and _hide_rectangle(table, (str(failing[1]), str(failing[2])), k):
        return
    support = set(table.support(failing))
    related_rows = {r for r, _ in support}
    related_cols = {c for _, c in support}
    candidates: list[_Item] = [
        ("cell", r, c)
        for r in table.rows
        for c in table.cols
        if (r in related_rows or c in related_cols) and ("cell", r, c) not in table.hidden
    ]
    candidates += [("row", r) for r in table.rows if ("row", r) not in table.hidden]
    candidates += [("col", c) for c in table.cols if ("col", c) not in table.hidden]
    candidates += [("total",)] if ("total",) not in table.hidden else []
    if not candidates:  # cannot happen: with everything hidden every interval is unbounded
        raise RuntimeError("disclosure check: nothing left to suppress")
    candidates.sort(key=lambda item: (table.value[item], repr(item)))
    base = table.interval(failing)
    best: tuple[float, int, _Item] | None = None
    for item in candidates[:40]:
        low, high = table.interval(failing, table.hidden | {item})
        width = high - low
        if width >= k - _TOLERANCE:
            table.hidden.add(item)  # the cheapest single count that is enough
            return
        if width > base[1] - base[0] + _TOLERANCE and (
            best is None or (width, -table.value[item]) > best[:2]
        ):
            best = (width, -table.value[item], item)
    table.hidden.add(best[2] if best is not None else candidates[0])


def _hide_rectangle(table: _Table, cell: tuple[str, str], k: int) -> bool:
    """Hide the cheapest 2x2 rectangle through ``cell`` whose exchange alone gives it a k-wide interval.

    Adding d to ``cell`` and to the opposite corner and taking d from the other two keeps every margin: the
    cell can rise by min(the two side corners) and fall by min(itself, the opposite corner).
    """
    r, c = cell
    options: list[tuple[int, int, list[_Item]]] = []
    for r2, c2 in itertools.product(table.rows, table.cols):
        if r2 == r or c2 == c:
            continue
        corners = [(r, c2), (r2, c), (r2, c2)]
        new: list[_Item] = [("cell", *x) for x in corners if ("cell", *x) not in table.hidden]
        if not new:
            continue
        v = table.cell
        width = min(v[(r, c2)], v[(r2, c)]) + min(v[cell], v[(r2, c2)])
        if width >= k:
            options.append((sum(table.value[i] for i in new), len(new), new))
    if not options:
        return False
    options.sort(key=lambda o: (o[0], o[1], repr(o[2])))
    table.hidden.update(options[0][2])
    return True


# --------------------------------------------------------------------------------------------- k-anonymity


@dataclass(frozen=True, slots=True)
class KAnonymityViolation:
    """A combination of quasi-identifier values shared by fewer than k records."""

    values: dict[str, object]
    count: int

    def describe(self, k: int = DEFAULT_K) -> str:
        return f"{self.count} record(s) share a combination of quasi-identifiers seen fewer than {k} times"


def check_k_anonymity(
    records: Sequence[Mapping[str, object]], quasi_identifiers: Sequence[str], k: int = DEFAULT_K
) -> list[KAnonymityViolation]:
    """Every combination of ``quasi_identifiers`` values held by 1 to k-1 records (a missing value is ``None``).

    An empty list means every record hides among at least k-1 others on these fields. With no
    quasi-identifiers, the whole set is one group.
    """
    _check_k(k)
    names = list(quasi_identifiers)
    if len(set(names)) != len(names):
        raise ValueError(f"quasi-identifiers repeat: {names}")
    groups: dict[tuple[object, ...], int] = {}
    for record in records:
        key = tuple(_hashable(record.get(name)) for name in names)
        groups[key] = groups.get(key, 0) + 1
    violations = [
        KAnonymityViolation(values=dict(zip(names, key, strict=True)), count=n)
        for key, n in groups.items()
        if n < k
    ]
    violations.sort(key=lambda v: (v.count, repr(sorted(v.values.items(), key=lambda kv: kv[0]))))
    return violations


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
