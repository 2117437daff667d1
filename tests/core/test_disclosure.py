"""Disclosure control: no published count below k, and no suppressed count narrowed below k by an attacker.

The attacker here is written independently of ayiq.core.disclosure: it sees only what was published (cells,
margins, total), and runs scipy's linprog over non-negative cells that agree with all of it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from ayiq.core.disclosure import (
    DEFAULT_K,
    ProtectedCounts,
    ProtectedTable,
    check_k_anonymity,
    protect_counts,
    protect_table,
)

SMALL = st.one_of(st.integers(0, 6), st.integers(0, 60))


def _lp_range(objective: np.ndarray, a_eq: list[np.ndarray], b_eq: list[float]) -> tuple[float, float]:
    n = len(objective)
    kwargs = {"A_eq": np.vstack(a_eq), "b_eq": np.array(b_eq)} if a_eq else {}
    ends = []
    for sign in (1, -1):
        res = linprog(sign * objective, bounds=[(0, None)] * n, method="highs", **kwargs)
        if res.status == 3:
            ends.append(-sign * math.inf)
        else:
            assert res.status == 0, res.message
            ends.append(sign * res.fun)
    return ends[0], ends[1]


def attack_table(pub: ProtectedTable) -> dict[object, tuple[float, float]]:
    """The interval of every suppressed cell and margin, from the published table alone."""
    rows, cols = pub.rows, pub.cols
    hidden = [(r, c) for r in rows for c in cols if pub.cells[(r, c)] is None]
    idx = {cell: i for i, cell in enumerate(hidden)}
    a_eq: list[np.ndarray] = []
    b_eq: list[float] = []

    def add(cells: list[tuple[str, str]], value: int | None) -> None:
        if value is None:
            return
        row = np.zeros(len(hidden))
        known = 0
        for cell in cells:
            if cell in idx:
                row[idx[cell]] = 1
            else:
                known += pub.cells[cell] or 0
        a_eq.append(row)
        b_eq.append(value - known)

    groups: dict[object, list[tuple[str, str]]] = {}
    for r in rows:
        groups[("row", r)] = [(r, c) for c in cols]
        add(groups[("row", r)], pub.row_totals[r])
    for c in cols:
        groups[("col", c)] = [(r, c) for r in rows]
        add(groups[("col", c)], pub.col_totals[c])
    groups[("total",)] = [(r, c) for r in rows for c in cols]
    add(groups[("total",)], pub.total)
    for cell in hidden:
        groups[("cell", *cell)] = [cell]
    published = {("row", r): pub.row_totals[r] for r in rows} | {("col", c): pub.col_totals[c] for c in cols}
    published[("total",)] = pub.total
    out = {}
    for key, cells in groups.items():
        if key[0] != "cell" and published[key] is not None:
            continue
        obj = np.zeros(len(hidden))
        const = 0.0
        for cell in cells:
            if cell in idx:
                obj[idx[cell]] = 1
            else:
                const += pub.cells[cell] or 0
        if not obj.any():
            out[key] = (const, const)
            continue
        if not a_eq:
            out[key] = (-math.inf, math.inf)
            continue
        lo, hi = _lp_range(obj, a_eq, b_eq)
        out[key] = (const + lo, const + hi)
    return out


def attack_counts(pub: ProtectedCounts) -> dict[str, tuple[float, float]]:
    hidden = sorted(pub.suppressed)
    if pub.total is None:
        return {name: (0.0, math.inf) for name in hidden}
    rest = pub.total - sum(v for v in pub.cells.values() if v is not None)
    out = {}
    for i, name in enumerate(hidden):
        obj = np.zeros(len(hidden))
        obj[i] = 1
        out[name] = _lp_range(obj, [np.ones(len(hidden))], [rest])
    return out


def _published_values(pub: ProtectedTable) -> list[int]:
    vals = [v for v in pub.cells.values() if v is not None]
    vals += [v for v in pub.row_totals.values() if v is not None]
    vals += [v for v in pub.col_totals.values() if v is not None]
    return vals + ([pub.total] if pub.total is not None else [])


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=2), SMALL, min_size=1, max_size=8),
    st.integers(1, 8),
)
def test_one_way_no_small_cell_and_lp_attack_fails(counts: dict[str, int], k: int) -> None:
    pub = protect_counts(counts, k)
    published = [v for v in pub.cells.values() if v is not None] + (
        [pub.total] if pub.total is not None else []
    )
    assert all(v == 0 or v >= k for v in published)
    for name, v in pub.cells.items():
        assert v is None or v == counts[name]
    assert pub.total is None or pub.total == sum(counts.values())
    for name, (lo, hi) in attack_counts(pub).items():
        assert lo - 1e-7 <= counts[name] <= hi + 1e-7
        assert hi - lo >= k - 1e-7, (name, lo, hi, counts)


@st.composite
def tables(draw: st.DrawFn) -> dict[tuple[str, str], int]:
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(1, 5))
    return {(f"r{i}", f"c{j}"): draw(SMALL) for i in range(n_rows) for j in range(n_cols)}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(2, 7))
def test_two_way_no_small_cell_and_lp_attack_fails(counts: dict[tuple[str, str], int], k: int) -> None:
    pub = protect_table(counts, k)
    assert all(v == 0 or v >= k for v in _published_values(pub))
    for cell, v in pub.cells.items():
        assert v is None or v == counts[cell]
    truth: dict[object, int] = {("cell", *cell): v for cell, v in counts.items()}
    for r in pub.rows:
        truth[("row", r)] = sum(v for (rr, _), v in counts.items() if rr == r)
    for c in pub.cols:
        truth[("col", c)] = sum(v for (_, cc), v in counts.items() if cc == c)
    truth[("total",)] = sum(counts.values())
    for key, (lo, hi) in attack_table(pub).items():
        assert lo - 1e-6 <= truth[key] <= hi + 1e-6
        assert hi - lo >= k - 1e-6, (key, lo, hi, counts, pub)


def test_single_small_cell_in_2x2_hides_the_rectangle() -> None:
    pub = protect_table({("called", "off"): 2, ("called", "on"): 40, ("not", "off"): 30, ("not", "on"): 25})
    assert pub.suppressed == frozenset(pub.cells)  # a 2x2 table: the only rectangle is the whole table
    assert pub.row_totals == {"called": 42, "not": 55} and pub.total == 97
    lo, hi = attack_table(pub)[("cell", "called", "off")]
    assert hi - lo >= DEFAULT_K


def test_one_way_single_small_cell_gets_a_partner() -> None:
    pub = protect_counts({"azercell": 30, "bakcell": 12, "nar": 2, "other": 0})
    assert pub.cells == {"azercell": 30, "bakcell": None, "nar": None, "other": 0}
    assert pub.primary == frozenset({"nar"}) and pub.total == 44


def test_small_total_is_suppressed() -> None:
    pub = protect_counts({"a": 1, "b": 2})
    assert pub.total is None and pub.cells == {"a": None, "b": None}


def test_zero_is_published_and_nothing_below_k_needs_nothing() -> None:
    pub = protect_counts({"a": 0, "b": 7, "c": 9})
    assert pub.suppressed == frozenset() and pub.total == 16


@pytest.mark.parametrize("bad", [{"a": -1}, {"a": 1.5}, {"a": True}, {"a": "3"}])
def test_bad_counts(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="whole number"):
        protect_counts(bad)  # type: ignore[arg-type]


def test_bad_k() -> None:
    with pytest.raises(ValueError, match="k must"):
        protect_counts({"a": 3}, k=0)
    with pytest.raises(ValueError, match="pairs"):
        protect_table({"a": 3})  # type: ignore[dict-item]


def test_k_anonymity() -> None:
    records = [{"precinct": "P1", "carrier": "nar"}] * 5 + [{"precinct": "P2", "carrier": "nar"}] * 2
    records += [{"precinct": "P2", "carrier": None}]
    violations = check_k_anonymity(records, ["precinct", "carrier"], k=5)
    assert [(v.values, v.count) for v in violations] == [
        ({"precinct": "P2", "carrier": None}, 1),
        ({"precinct": "P2", "carrier": "nar"}, 2),
    ]
    assert check_k_anonymity(records, ["carrier"], k=2) == [
        v for v in check_k_anonymity(records, ["carrier"], k=2) if v.values == {"carrier": None}
    ]
    assert check_k_anonymity(records, [], k=8) == []
    assert len(check_k_anonymity(records, [], k=9)) == 1
    with pytest.raises(ValueError, match="repeat"):
        check_k_anonymity(records, ["carrier", "carrier"])
