"""Queries over the `v_verdicts` view, written once for both store shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ayiq.store.base import Store
from ayiq.store.schema import VERDICT_VIEW_COLUMNS


@dataclass(frozen=True, slots=True)
class VerdictFilter:
    country: str | None = None
    asn: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    method: str | None = None
    status: str | None = None
    test_name: str | None = None
    target: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.country:
            clauses.append("upper(probe_cc) = upper(?)")
            params.append(self.country)
        if self.asn:
            asn = self.asn.upper()
            clauses.append("upper(probe_asn) = ?")
            params.append(asn if asn.startswith("AS") else f"AS{asn}")
        if self.since:
            clauses.append("measurement_start_time >= ?::TIMESTAMPTZ")
            params.append(_ts(self.since))
        if self.until:
            clauses.append("measurement_start_time < ?::TIMESTAMPTZ")
            params.append(_ts(self.until, end=True))
        if self.method:
            clauses.append("method = ?")
            params.append(self.method)
        if self.status:
            clauses.append("status = ?")
            params.append(self.status)
        if self.test_name:
            clauses.append("test_name = ?")
            params.append(self.test_name)
        if self.target:
            clauses.append("input ILIKE ?")
            params.append(f"%{self.target}%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _ts(value: date | datetime, end: bool = False) -> str:
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
    if end:  # --until DATE includes that whole day
        from datetime import timedelta

        value = value + timedelta(days=1)
    return f"{value.isoformat()} 00:00:00+00:00"


def select_verdicts(
    store: Store, flt: VerdictFilter, limit: int | None = None, columns: tuple[str, ...] = VERDICT_VIEW_COLUMNS
) -> list[dict[str, Any]]:
    where, params = flt.where()
    sql = f"SELECT {', '.join(columns)} FROM v_verdicts{where} ORDER BY measurement_start_time, measurement_uid"
    if limit:
        sql += f" LIMIT {int(limit)}"
    cur = store.con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def verdict_relation_sql(flt: VerdictFilter) -> tuple[str, list[Any]]:
    where, params = flt.where()
    return f"SELECT * FROM v_verdicts{where} ORDER BY measurement_start_time, measurement_uid", params


def status_counts(store: Store, flt: VerdictFilter) -> list[tuple[str, str | None, int]]:
    where, params = flt.where()
    return [
        (r[0], r[1], int(r[2]))
        for r in store.con.execute(
            f"SELECT status, method, count(*) FROM v_verdicts{where} GROUP BY ALL ORDER BY 3 DESC", params
        ).fetchall()
    ]
