"""Change points: when interference on a series started (onset) and stopped (end).

Ours: a penalised binomial change-point model. Each series is cut into time bins (a day by default); a bin holds
n usable verdicts and k blocked ones, and empty bins are skipped rather than read as "not blocked", so uneven
sampling and probes that come and go do not fake changes. PELT (ruptures) finds the segmentation that maximises
the binomial likelihood minus a BIC-like penalty per change; changes smaller than `min_delta` in blocked share are
merged away (a journalist's "since when" is about real shifts, not wobble); each remaining change is then placed
to the hour inside its two bins by the same likelihood on hourly counts.

Baseline: OONI's pipeline CUSUM (rates 0 and 0.7, threshold 7, 48-hour decay), on the same counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import ruptures as rpt
from ruptures.base import BaseCost
from scipy.special import xlogy
from scipy.stats import chi2

from ayiq.store.base import Store
from ayiq.trends.bins import Hourly, SeriesKey
from ayiq.trends.evidence import explorer_url

DETECTOR = "binomial-pelt"
BASELINE = "ooni-cusum"


def _loglik(k: np.ndarray | float, n: np.ndarray | float) -> Any:
    """Maximised binomial log-likelihood of k successes in n trials: k log(k/n) + (n-k) log((n-k)/n)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    return xlogy(k, k) + xlogy(n - k, n - k) - xlogy(n, n)


class BinomialCost(BaseCost):  # type: ignore[misc]
    """ruptures cost: -2 x maximised binomial log-likelihood of a segment of bins (columns n, k); O(1) per call."""

    model = "binomial"
    min_size = 1

    def fit(self, signal: np.ndarray) -> BinomialCost:
        self.signal = signal
        self.cn = np.concatenate([[0.0], np.cumsum(signal[:, 0])])
        self.ck = np.concatenate([[0.0], np.cumsum(signal[:, 1])])
        return self

    def error(self, start: int, end: int) -> float:
        n = self.cn[end] - self.cn[start]
        k = self.ck[end] - self.ck[start]
        return float(-2.0 * _loglik(k, n))


def pelt_ruptures(N: np.ndarray, K: np.ndarray, pen: float) -> list[int]:
    """The reference solver: ruptures' PELT with the binomial cost (pure Python; used to check ours)."""
    algo = rpt.Pelt(custom_cost=BinomialCost(), min_size=1, jump=1).fit(np.column_stack([N, K]))
    return [int(x) for x in algo.predict(pen=pen)[:-1]]


def pelt_binomial(N: np.ndarray, K: np.ndarray, pen: float) -> list[int]:
    """PELT (Killick et al. 2012) for the binomial cost, one numpy step per bin over all live candidates.

    Same objective, pruning rule and tie-breaking as `pelt_ruptures` (tests check they agree), about a
    hundred times faster, which is what lets change points keep up with a GROUP BY over millions of rows.
    """
    m = N.size
    cn = np.concatenate([[0.0], np.cumsum(N)])
    ck = np.concatenate([[0.0], np.cumsum(K)])
    best = np.empty(m + 1)
    best[0] = 0.0
    last = np.zeros(m + 1, dtype=np.int64)
    cand = np.array([0], dtype=np.int64)
    for t in range(1, m + 1):
        seg = -2.0 * _loglik(ck[t] - ck[cand], cn[t] - cn[cand]) + pen
        total = best[cand] + seg
        j = int(np.argmin(total))
        best[t] = total[j]
        last[t] = cand[j]
        cand = np.append(cand[total <= best[t] + pen], t)
    bkps: list[int] = []
    t = m
    while t > 0:
        t = int(last[t])
        if t > 0:
            bkps.append(t)
    return sorted(bkps)


@dataclass(frozen=True, slots=True)
class ChangeParams:
    bin_hours: int = 24
    beta: float = 3.0  # penalty per change = beta * log(usable verdicts in the series)
    min_delta: float = 0.25  # smallest change in blocked share that counts as a change
    min_n: int = 10  # fewest usable verdicts on each side of a change


@dataclass(slots=True)
class ChangePoint:
    key: SeriesKey
    zone: str
    kind: str  # onset | end
    time: datetime  # first hour (UTC) seen in the new regime
    window_start: datetime  # the change happened in [window_start, window_end)
    window_end: datetime
    rate_before: float
    rate_after: float
    n_before: int
    n_after: int
    method_before: str | None
    method_after: str | None
    llr: float
    p_value: float
    detector: str = DETECTOR
    bin_hours: int = 24
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return round(1.0 - self.p_value, 6)

    def as_json(self) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        local = self.time.astimezone(ZoneInfo(self.zone))
        return {
            "schema": "ayiq.trends.change", "version": 1,
            "target": self.key.target, "probe_cc": self.key.probe_cc, "probe_asn": self.key.probe_asn,
            "kind": self.kind, "time": self.time.isoformat(), "time_local": local.isoformat(),
            "timezone": self.zone, "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(), "bin_hours": self.bin_hours,
            "rate_before": round(self.rate_before, 4), "rate_after": round(self.rate_after, 4),
            "n_before": self.n_before, "n_after": self.n_after,
            "method_before": self.method_before, "method_after": self.method_after,
            "llr": round(self.llr, 3), "p_value": self.p_value, "confidence": self.confidence,
            "detector": self.detector, "evidence": self.evidence,
        }


def _hour_dt(h: int | np.integer[Any]) -> datetime:
    return datetime.fromtimestamp(int(h) * 3600, UTC)


def _top_method(codes: np.ndarray, k: np.ndarray, methods: Sequence[str]) -> str | None:
    mask = (codes >= 0) & (k > 0)
    if not mask.any():
        return None
    weights = np.bincount(codes[mask], weights=k[mask], minlength=len(methods))
    return methods[int(np.argmax(weights))]


def series_changes(hourly: Hourly, i: int, params: ChangeParams = ChangeParams()) -> list[ChangePoint]:
    """Change points of series i."""
    rows = hourly.rows(i)
    h, n, k, codes = hourly.hour[rows], hourly.n[rows], hourly.k[rows], hourly.method[rows]
    if h.size < 2:
        return []
    b = h // params.bin_hours
    _, first = np.unique(b, return_index=True)
    N = np.add.reduceat(n, first).astype(float)
    K = np.add.reduceat(k, first).astype(float)
    m = N.size
    if m < 2:
        return []
    pen = params.beta * math.log(max(2.0, N.sum()))
    bkps = pelt_binomial(N, K, pen)
    bkps = _merge_small(_merge_transitions(bkps, N, K, m), N, K, m, params.min_delta, params.min_n)
    out: list[ChangePoint] = []
    edges = [0, *bkps, m]
    row_bin = np.searchsorted(first, np.arange(h.size), side="right") - 1  # bin index of each hourly row
    for j, cut in enumerate(bkps):
        a, c = edges[j], edges[j + 2]
        n1, k1 = N[a:cut].sum(), K[a:cut].sum()
        n2, k2 = N[cut:c].sum(), K[cut:c].sum()
        p1, p2 = k1 / n1, k2 / n2
        llr = float(2 * (_loglik(k1, n1) + _loglik(k2, n2) - _loglik(k1 + k2, n1 + n2)))
        # Place the change to the hour inside the last bin before and the first bin after the cut.
        sel = np.flatnonzero((row_bin == cut - 1) | (row_bin == cut))
        q1, q2 = min(max(p1, 1e-3), 1 - 1e-3), min(max(p2, 1e-3), 1 - 1e-3)
        ll1 = k[sel] * math.log(q1) + (n[sel] - k[sel]) * math.log(1 - q1)
        ll2 = k[sel] * math.log(q2) + (n[sel] - k[sel]) * math.log(1 - q2)
        # split before position s (1..len): old regime for sel[:s], new regime for sel[s:]
        scores = np.cumsum(ll1)[:-1] + (ll2.sum() - np.cumsum(ll2)[:-1])
        s = int(np.argmax(scores)) + 1 if scores.size else 1
        new_row = int(sel[min(s, sel.size - 1)]) if sel.size > 1 else int(first[cut])
        prev_row = new_row - 1 if new_row > 0 else new_row
        before_rows = slice(int(first[a]), int(first[cut]))
        after_rows = slice(int(first[cut]), int(first[c]) if c < m else h.size)
        out.append(ChangePoint(
            key=hourly.keys[i], zone=hourly.zones[i], kind="onset" if p2 > p1 else "end",
            time=_hour_dt(h[new_row]), window_start=_hour_dt(h[prev_row]), window_end=_hour_dt(h[new_row] + 1),
            rate_before=float(p1), rate_after=float(p2), n_before=int(n1), n_after=int(n2),
            # A segment's method is named only when it is interfered with, not from its stray false positives.
            method_before=_top_method(codes[before_rows], k[before_rows], hourly.methods)
            if p1 >= params.min_delta else None,
            method_after=_top_method(codes[after_rows], k[after_rows], hourly.methods)
            if p2 >= params.min_delta else None,
            llr=llr, p_value=float(chi2.sf(llr, 1)), bin_hours=params.bin_hours,
        ))
    return out


def _rates(bkps: list[int], N: np.ndarray, K: np.ndarray, m: int) -> list[float]:
    edges = [0, *bkps, m]
    return [float(K[a:c].sum() / N[a:c].sum()) for a, c in zip(edges[:-1], edges[1:], strict=True)]


def _merge_transitions(bkps: list[int], N: np.ndarray, K: np.ndarray, m: int) -> list[int]:
    """A one-bin segment whose rate lies between its neighbours' is the bin the change happened in: one
    change, not two. Keep the larger step; the hourly placement then looks inside that bin."""
    bkps = list(bkps)
    changed = True
    while changed:
        changed = False
        rates = _rates(bkps, N, K, m)
        for j in range(len(bkps) - 1):
            if bkps[j + 1] - bkps[j] == 1 and min(rates[j], rates[j + 2]) <= rates[j + 1] <= max(
                rates[j], rates[j + 2]
            ):
                drop = j if abs(rates[j + 1] - rates[j]) < abs(rates[j + 2] - rates[j + 1]) else j + 1
                del bkps[drop]
                changed = True
                break
    return bkps


def _merge_small(bkps: list[int], N: np.ndarray, K: np.ndarray, m: int, min_delta: float,
                 min_n: int = 0) -> list[int]:
    """Drop the weakest breakpoint until every remaining one moves the blocked share by >= min_delta and has
    at least min_n usable verdicts on each side (three measurements are no evidence of a change)."""
    bkps = list(bkps)
    while bkps:
        edges = [0, *bkps, m]
        sizes = [float(N[a:c].sum()) for a, c in zip(edges[:-1], edges[1:], strict=True)]
        rates = _rates(bkps, N, K, m)
        deltas = [abs(rates[j + 1] - rates[j]) for j in range(len(bkps))]
        weak = [j for j in range(len(bkps)) if deltas[j] < min_delta or min(sizes[j], sizes[j + 1]) < min_n]
        if not weak:
            break
        del bkps[min(weak, key=lambda j: (deltas[j], min(sizes[j], sizes[j + 1])))]
    return bkps


def find_changes(hourly: Hourly, params: ChangeParams = ChangeParams()) -> list[ChangePoint]:
    out: list[ChangePoint] = []
    for i in range(len(hourly)):
        out.extend(series_changes(hourly, i, params))
    return out


# --- baseline: OONI's CUSUM ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CusumParams:
    rate_clear: float = 0.0
    rate_blocked: float = 0.7
    threshold: float = 7.0
    decay_hours: float = 48.0


def cusum_changes(hourly: Hourly, i: int, params: CusumParams = CusumParams()) -> list[ChangePoint]:
    """OONI's pipeline detector as we read it: a two-state Bernoulli CUSUM with reference level halfway
    between the two rates, the accumulator decaying exponentially (48 h) between observations; a change is
    reported at the hour the accumulator crosses the threshold (when the detector would raise it)."""
    rows = hourly.rows(i)
    h, n, k = hourly.hour[rows], hourly.n[rows], hourly.k[rows]
    ref = (params.rate_clear + params.rate_blocked) / 2
    s, blocked, prev = 0.0, False, int(h[0]) if h.size else 0
    last_change = 0
    out: list[ChangePoint] = []
    for j in range(h.size):
        hj = int(h[j])
        s *= math.exp(-(hj - prev) / params.decay_hours)
        prev = hj
        incr = float(k[j]) - ref * float(n[j])
        s = max(0.0, s + (-incr if blocked else incr))
        if s > params.threshold:
            n1 = int(n[last_change:j].sum())
            k1 = int(k[last_change:j].sum())
            out.append(ChangePoint(
                key=hourly.keys[i], zone=hourly.zones[i], kind="end" if blocked else "onset",
                time=_hour_dt(hj), window_start=_hour_dt(hj), window_end=_hour_dt(hj + 1),
                rate_before=k1 / n1 if n1 else 0.0, rate_after=float("nan"), n_before=n1, n_after=0,
                method_before=None, method_after=None, llr=float("nan"), p_value=float("nan"),
                detector=BASELINE, bin_hours=1,
            ))
            blocked, s, last_change = not blocked, 0.0, j
    return out


def find_cusum_changes(hourly: Hourly, params: CusumParams = CusumParams()) -> list[ChangePoint]:
    out: list[ChangePoint] = []
    for i in range(len(hourly)):
        out.extend(cusum_changes(hourly, i, params))
    return out


# --- evidence ------------------------------------------------------------------------------------------------


def attach_evidence(store: Store, changes: list[ChangePoint], per_side: int = 3) -> None:
    """Add the measurements nearest each change on both sides (one query for all changes)."""
    if not changes:
        return
    table = pa.table({
        "cp": pa.array(range(len(changes)), pa.int64()),
        "target": [c.key.target for c in changes],
        "cc": [c.key.probe_cc for c in changes],
        "asn": [c.key.probe_asn for c in changes],
        "t": pa.array([c.time for c in changes], pa.timestamp("us", tz="UTC")),
        "lo": pa.array([c.time.timestamp() - c.bin_hours * 3600 for c in changes]),
        "hi": pa.array([c.time.timestamp() + c.bin_hours * 3600 for c in changes]),
    })
    con = store.con
    con.register("_cps", table)
    try:
        rows = con.execute(
            """
            SELECT c.cp, v.measurement_uid, v.measurement_start_time, v.status, v.method, v.report_id,
                   v.measurement_start_time >= c.t AS after
            FROM _cps c JOIN v_verdicts v
              ON coalesce(v.input, v.test_name, '?') = c.target AND coalesce(v.probe_cc, '??') = c.cc
             AND coalesce(v.probe_asn, 'AS?') = c.asn
             AND v.measurement_start_time >= to_timestamp(c.lo) AND v.measurement_start_time < to_timestamp(c.hi)
             AND v.status IN ('ok', 'blocked', 'inconclusive')
            QUALIFY row_number() OVER (PARTITION BY c.cp, after
                    ORDER BY abs(epoch(v.measurement_start_time) - epoch(c.t)), v.measurement_uid) <= ?
            ORDER BY c.cp, v.measurement_start_time, v.measurement_uid
            """,
            [per_side],
        ).fetchall()
    finally:
        con.unregister("_cps")
    for cp, uid, when, status, method, report, after in rows:
        changes[cp].evidence.append({
            "measurement_uid": uid, "time": when.astimezone(UTC).isoformat(), "status": status,
            "method": method, "side": "after" if after else "before", "explorer_url": explorer_url(uid, report),
        })
