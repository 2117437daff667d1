"""Does interference follow a weekly schedule? Hour of day x day of week, in the network's local time.

Test: for each series, the 7 x 24 cells of (local weekday, local hour) are compared with what a schedule-free
series would show, *within* the series' change-point segments (strata), so a block that started mid-period or a
probe that measured more on some days cannot pass for a schedule. The statistic is the generalised
Cochran-Mantel-Haenszel score statistic (hypergeometric covariance per stratum, summed; chi-square with
rank(V) degrees of freedom). p-values are adjusted across all series tested (Benjamini-Hochberg), and the
interfered cells are then described in words: "throttled on weekdays 18:00-23:00 Asia/Baku, p < 0.001".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import numpy as np
from scipy.stats import binom, chi2

from ayiq.store.base import Store
from ayiq.trends.bins import Hourly, SeriesKey
from ayiq.trends.changes import ChangeParams, ChangePoint, series_changes
from ayiq.trends.evidence import explorer_url

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CELLS = 7 * 24


@dataclass(frozen=True, slots=True)
class Window:
    days: tuple[int, ...]
    start_hour: int
    end_hour: int  # exclusive; 24 = midnight
    rate_in: float
    rate_out: float

    def as_json(self) -> dict[str, Any]:
        return {"days": [DAY_NAMES[d] for d in self.days], "start": f"{self.start_hour:02d}:00",
                "end": f"{self.end_hour:02d}:00", "rate_in": round(self.rate_in, 4),
                "rate_out": round(self.rate_out, 4)}


@dataclass(slots=True)
class ScheduleResult:
    key: SeriesKey
    zone: str
    n: int
    k: int
    statistic: float | None
    df: int
    p_value: float | None
    q_value: float | None = None
    significant: bool = False
    windows: list[Window] = field(default_factory=list)
    method: str | None = None
    cell_n: np.ndarray = field(default_factory=lambda: np.zeros(CELLS, dtype=np.int64))
    cell_k: np.ndarray = field(default_factory=lambda: np.zeros(CELLS, dtype=np.int64))
    strata: int = 1
    tested: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def words(self) -> str:
        if self.p_value is None:
            return "too few blocked measurements to test for a schedule"
        if not self.significant or not self.windows:
            return f"no weekly schedule found ({_p_words(self.q_value)}, {self.zone})"
        verb = "throttled" if self.method == "throttling" else f"blocked ({self.method or 'unknown method'})"
        parts = [f"{_days_words(w.days)} {w.start_hour:02d}:00-{w.end_hour:02d}:00" for w in self.windows]
        return f"{verb} on {'; '.join(parts)} {self.zone}, {_p_words(self.q_value)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": "ayiq.trends.schedule", "version": 1,
            "target": self.key.target, "probe_cc": self.key.probe_cc, "probe_asn": self.key.probe_asn,
            "timezone": self.zone, "n": self.n, "blocked": self.k, "strata": self.strata,
            "statistic": None if self.statistic is None else round(self.statistic, 3), "df": self.df,
            "p_value": self.p_value, "q_value": self.q_value, "series_tested": self.tested,
            "significant": self.significant, "method": self.method,
            "windows": [w.as_json() for w in self.windows], "words": self.words(), "evidence": self.evidence,
        }


def _p_words(p: float | None) -> str:
    if p is None:
        return "not tested"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _days_words(days: tuple[int, ...]) -> str:
    if days == (0, 1, 2, 3, 4):
        return "weekdays"
    if days == (5, 6):
        return "weekends"
    if len(days) == 7:
        return "every day"
    return ", ".join(DAY_NAMES[d] for d in days)


def cmh_test(cell: np.ndarray, n: np.ndarray, k: np.ndarray, stratum: np.ndarray) -> tuple[float, int]:
    """Generalised CMH statistic for 'blocked share differs between cells', stratified; returns (X2, df).

    Per informative stratum s (some but not all blocked), the hypergeometric covariance of the cell counts is
    c_s (N_s diag(n_s) - n_s n_s'), c_s = K_s (N_s - K_s) / (N_s^2 (N_s - 1)). Summed, V = diag(D) - U C U'
    with one column of U per stratum, so V (one cell dropped, which leaves it invertible) is solved with the
    Woodbury identity in O(cells x strata^2) instead of a dense 168 x 168 solve.
    """
    cells = CELLS
    d = np.zeros(cells)
    diag = np.zeros(cells)
    cols: list[np.ndarray] = []
    coef: list[float] = []
    for s in np.unique(stratum):
        sel = stratum == s
        ns = np.bincount(cell[sel], weights=n[sel], minlength=cells)
        ks = np.bincount(cell[sel], weights=k[sel], minlength=cells)
        N, K = ns.sum(), ks.sum()
        if N < 2 or K == 0 or K == N:
            continue
        c = K * (N - K) / (N * N * (N - 1))
        d += ks - ns * K / N
        diag += c * N * ns
        cols.append(ns)
        coef.append(c)
    if not cols:
        return 0.0, 0
    U = np.column_stack(cols)
    live = np.flatnonzero(diag - (U * U) @ np.asarray(coef) > 1e-12)
    if live.size < 2:
        return 0.0, 0
    keep = live[:-1]
    Dinv = 1.0 / diag[keep]
    Uk = U[keep]
    a = Dinv * d[keep]
    inner = np.diag(1.0 / np.asarray(coef)) - Uk.T @ (Dinv[:, None] * Uk)
    b = Uk.T @ a
    try:
        corr = float(b @ np.linalg.solve(inner, b))
    except np.linalg.LinAlgError:
        corr = float(b @ np.linalg.lstsq(inner, b, rcond=None)[0])
    return float(d[keep] @ a + corr), int(keep.size)


def _cmh_dense(cell: np.ndarray, n: np.ndarray, k: np.ndarray, stratum: np.ndarray) -> tuple[float, int]:
    """The same statistic by a dense generalised inverse (the textbook form; tests check they agree)."""
    d = np.zeros(CELLS)
    V = np.zeros((CELLS, CELLS))
    for s in np.unique(stratum):
        sel = stratum == s
        ns = np.bincount(cell[sel], weights=n[sel], minlength=CELLS)
        ks = np.bincount(cell[sel], weights=k[sel], minlength=CELLS)
        N, K = ns.sum(), ks.sum()
        if N < 2 or K == 0 or K == N:
            continue
        d += ks - ns * K / N
        V += K * (N - K) / (N * N * (N - 1)) * (N * np.diag(ns) - np.outer(ns, ns))
    rank = int(np.linalg.matrix_rank(V)) if V.any() else 0
    return (float(d @ np.linalg.pinv(V) @ d), rank) if rank else (0.0, 0)


def series_schedule(hourly: Hourly, i: int, changes: list[ChangePoint] | None = None,
                    min_blocked: int = 5) -> ScheduleResult:
    rows = hourly.rows(i)
    n, k = hourly.n[rows], hourly.k[rows]
    cell = (hourly.local_dow[rows] * 24 + hourly.local_hour[rows]).astype(np.int64)
    h = hourly.hour[rows]
    if changes is None:
        changes = series_changes(hourly, i, ChangeParams())
    cuts = np.array(sorted(int(c.time.timestamp() // 3600) for c in changes), dtype=np.int64)
    stratum = np.searchsorted(cuts, h, side="right")
    res = ScheduleResult(key=hourly.keys[i], zone=hourly.zones[i], n=int(n.sum()), k=int(k.sum()),
                         statistic=None, df=0, p_value=None, strata=int(cuts.size + 1))
    res.cell_n = np.bincount(cell, weights=n, minlength=CELLS).astype(np.int64)
    res.cell_k = np.bincount(cell, weights=k, minlength=CELLS).astype(np.int64)
    codes = hourly.method[rows]
    mask = codes >= 0
    if mask.any():
        res.method = hourly.methods[int(np.argmax(np.bincount(codes[mask], weights=k[mask])))]
    if res.k < min_blocked or res.k == res.n:
        return res
    stat, df = cmh_test(cell, n, k, stratum)
    if df == 0:
        return res
    res.statistic, res.df, res.p_value = stat, df, float(chi2.sf(stat, df))
    res.windows = _windows(cell, n, k, stratum)
    if res.windows:  # the method is the one seen inside the windows, not the noise outside them
        inside = np.zeros(CELLS, dtype=bool)
        for w in res.windows:
            for d in w.days:
                inside[d * 24 + w.start_hour : d * 24 + w.end_hour] = True
        sel = inside[cell] & (codes >= 0)
        if sel.any():
            res.method = hourly.methods[int(np.argmax(np.bincount(codes[sel], weights=k[sel])))]
    return res


def _windows(cell: np.ndarray, n: np.ndarray, k: np.ndarray, stratum: np.ndarray) -> list[Window]:
    """The interfered cells: excess blocked share over each stratum's level, split in two groups (weighted
    2-means); then each weekday's runs of interfered hours, days with the same runs grouped together."""
    excess = np.zeros(CELLS)
    cn = np.bincount(cell, weights=n, minlength=CELLS)
    for s in np.unique(stratum):
        sel = stratum == s
        ns = np.bincount(cell[sel], weights=n[sel], minlength=CELLS)
        ks = np.bincount(cell[sel], weights=k[sel], minlength=CELLS)
        excess += ks - ns * ks.sum() / max(ns.sum(), 1)
    known = cn > 0
    rate = np.where(known, excess / np.where(known, cn, 1), 0.0)
    if known.sum() < 2:
        return []
    vals, w = rate[known], cn[known]
    lo, hi = float(vals.min()), float(vals.max())
    for _ in range(50):
        thr = (lo + hi) / 2
        up = vals > thr
        if not up.any() or up.all():
            break
        new_lo, new_hi = np.average(vals[~up], weights=w[~up]), np.average(vals[up], weights=w[up])
        if np.isclose(new_lo, lo) and np.isclose(new_hi, hi):
            break
        lo, hi = float(new_lo), float(new_hi)
    if hi - lo < 0.2:
        return []
    high = (rate > (lo + hi) / 2) & known
    grid = high.reshape(7, 24)
    # A one-hour gap between two interfered hours of the same day is read as interfered when nobody measured
    # it or its few verdicts are consistent with the interfered level (noise in a sparse hour): windows are
    # runs of hours.
    cell_k = np.bincount(cell, weights=k, minlength=CELLS)
    level = float(cell_k[high].sum() / max(cn[high].sum(), 1))
    for d in range(7):
        for hr in range(1, 23):
            c = d * 24 + hr
            if grid[d, hr - 1] and grid[d, hr + 1] and (
                cn[c] == 0 or binom.cdf(cell_k[c], int(cn[c]), level) > 0.01
            ):
                grid[d, hr] = True
    runs_by_day: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for d in range(7):
        runs, start = [], None
        for hr in range(25):
            on = hr < 24 and bool(grid[d, hr])
            if on and start is None:
                start = hr
            elif not on and start is not None:
                runs.append((start, hr))
                start = None
        if runs:
            runs_by_day.setdefault(tuple(runs), []).append(d)
    # A run must stand on its own (one-sided binomial test against the share outside every interfered cell,
    # Bonferroni over the 168 cells): one noisy verdict in a sparsely measured hour is not a schedule.
    base = float(cell_k[~high].sum() / max(cn[~high].sum(), 1))
    runs_by_day = _strong_runs(runs_by_day, cn, cell_k, max(base, 0.01))
    out = []
    for runs_t, days in runs_by_day.items():
        for a, b in runs_t:
            inside = np.zeros((7, 24), dtype=bool)
            inside[days, a:b] = True
            ins = inside.reshape(-1)
            r_in = cell_k[ins].sum() / max(cn[ins].sum(), 1)
            r_out = cell_k[~ins].sum() / max(cn[~ins].sum(), 1)
            out.append(Window(tuple(days), a, b, float(r_in), float(r_out)))
    return sorted(out, key=lambda w: (w.days, w.start_hour))


def _strong_runs(runs_by_day: dict[tuple[tuple[int, int], ...], list[int]], cn: np.ndarray, ck: np.ndarray,
                 base: float) -> dict[tuple[tuple[int, int], ...], list[int]]:
    per_day: dict[int, list[tuple[int, int]]] = {}
    for day_group_runs, days in runs_by_day.items():
        for d in days:
            for a, b in day_group_runs:
                n = cn[d * 24 + a : d * 24 + b].sum()
                k = ck[d * 24 + a : d * 24 + b].sum()
                if n > 0 and binom.sf(k - 1, int(n), base) < 1e-3 / CELLS:
                    per_day.setdefault(d, []).append((a, b))
    # Days whose single run differs by at most an hour at each edge are one window (sparse hours at its
    # edges make a day's run look an hour shorter); the window is their union.
    groups: list[tuple[list[tuple[int, int]], list[int]]] = []
    for d, runs in sorted(per_day.items()):
        for g_runs, g_days in groups:
            if len(runs) == 1 and len(g_runs) == 1 and abs(runs[0][0] - g_runs[0][0]) <= 1 and abs(
                    runs[0][1] - g_runs[0][1]) <= 1:
                g_runs[0] = (min(runs[0][0], g_runs[0][0]), max(runs[0][1], g_runs[0][1]))
                g_days.append(d)
                break
            if runs == g_runs:
                g_days.append(d)
                break
        else:
            groups.append((list(runs), [d]))
    return {tuple(r): days for r, days in groups}


def benjamini_hochberg(p: list[float]) -> list[float]:
    m = len(p)
    if m == 0:
        return []
    arr = np.asarray(p)
    order = np.argsort(arr)
    ranked = arr[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return [float(x) for x in out]


def find_schedules(hourly: Hourly, changes: list[ChangePoint] | None = None, alpha: float = 0.01) -> list[
        ScheduleResult]:
    """Test every series; adjust p-values across the series tested; `significant` means q < alpha."""
    by_series: dict[SeriesKey, list[ChangePoint]] = {}
    if changes is not None:
        for c in changes:
            by_series.setdefault(c.key, []).append(c)
    results = [series_schedule(hourly, i, by_series.get(hourly.keys[i], []) if changes is not None else None)
               for i in range(len(hourly))]
    tested = [r for r in results if r.p_value is not None]
    for r, q in zip(tested, benjamini_hochberg([r.p_value for r in tested if r.p_value is not None]), strict=True):
        r.q_value = q
        r.significant = q < alpha and bool(r.windows)
        r.tested = len(tested)
    return results


def attach_schedule_evidence(store: Store, results: list[ScheduleResult], per_side: int = 3) -> None:
    """For each significant schedule: blocked measurements inside its windows and ok ones outside, latest first."""
    for r in results:
        if not r.significant or not r.windows:
            continue
        conds, params = [], []
        for w in r.windows:
            conds.append(f"(dow IN ({', '.join(str(d) for d in w.days)}) AND hr >= ? AND hr < ?)")
            params += [w.start_hour, w.end_hour]
        inside = " OR ".join(conds)
        sql = f"""
            WITH s AS (
              SELECT measurement_uid, measurement_start_time, status, method, report_id,
                     hour(timezone(?, measurement_start_time)) AS hr,
                     isodow(timezone(?, measurement_start_time)) - 1 AS dow
              FROM v_verdicts
              WHERE coalesce(input, test_name, '?') = ? AND coalesce(probe_cc, '??') = ?
                AND coalesce(probe_asn, 'AS?') = ? AND measurement_start_time IS NOT NULL
            ), t AS (SELECT *, ({inside}) AS inside FROM s)
            SELECT measurement_uid, measurement_start_time, status, method, report_id, inside FROM t
            WHERE (inside AND status = 'blocked') OR (NOT inside AND status = 'ok')
            QUALIFY row_number() OVER (PARTITION BY inside ORDER BY measurement_start_time DESC,
                                       measurement_uid) <= ?
            ORDER BY inside DESC, measurement_start_time"""
        rows = store.con.execute(sql, [r.zone, r.zone, r.key.target, r.key.probe_cc, r.key.probe_asn, *params,
                                       per_side]).fetchall()
        r.evidence = [{
            "measurement_uid": uid, "time": when.astimezone(UTC).isoformat(), "status": status, "method": method,
            "side": "inside" if ins else "outside", "explorer_url": explorer_url(uid, report),
        } for uid, when, status, method, report, ins in rows]
