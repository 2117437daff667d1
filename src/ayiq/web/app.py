"""Read-only dashboard over a store. Everything shown from measurements is escaped (Jinja2 autoescape):
measurements are hostile input. The charts' JavaScript is served from here, never from a CDN."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from ayiq import __version__
from ayiq.core.errors import AyiqError
from ayiq.report.build import collect, specs_json, summary_lines, vega_bundle
from ayiq.store import Store, open_store
from ayiq.store.queries import VerdictFilter
from ayiq.trends.evidence import explorer_url


def parse_day(value: str | None, name: str) -> date | datetime | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value) if len(value) <= 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise AyiqError(f"{name} {value!r} is not a date (YYYY-MM-DD) or ISO 8601 time") from exc


# Pages load scripts and styles from this server only (Vega needs eval for its expressions).
CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer"})


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ayiq.web", "templates"),
                              autoescape=jinja2.select_autoescape(default=True, default_for_string=True))


def create_app(store_path: str | Path | None) -> FastAPI:
    app = FastAPI(title="Ayiq dashboard", version=__version__,
                  description="Read-only views of interference trends over an Ayiq store.")
    lock = threading.Lock()
    env = _env()

    @contextmanager
    def store() -> Iterator[Store]:
        with lock:  # one DuckDB connection, used by one request at a time
            st = open_store(store_path, read_only=True)
            try:
                yield st
            finally:
                st.close()

    def flt(country: str | None, asn: str | None, target: str | None, since: str | None,
            until: str | None) -> VerdictFilter:
        try:
            return VerdictFilter(country=country or None, asn=asn or None, target=target or None,
                                 since=parse_day(since or None, "since"), until=parse_day(until or None, "until"))
        except AyiqError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    @app.get("/", response_class=HTMLResponse, summary="Dashboard page")
    def index(country: str | None = None, asn: str | None = None, target: str | None = None,
              method: str | None = None, since: str | None = None, until: str | None = None) -> HTMLResponse:
        f = flt(country, asn, target, since, until)
        with store() as st:
            data = collect(st, f)
        if method:
            data.changes = [c for c in data.changes if method in (c.method_before, c.method_after)]
        html = env.get_template("index.html.j2").render(
            data=data, summary=summary_lines(data), specs=specs_json(data.specs), version=__version__,
            form={"country": country or "", "asn": asn or "", "target": target or "", "method": method or "",
                  "since": since or "", "until": until or ""})
        return _page(html)

    @app.get("/static/vega.js", include_in_schema=False)
    def vega() -> Response:
        return Response(vega_bundle(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/m/{uid}", response_class=HTMLResponse, summary="One measurement and its evidence chain")
    def measurement_page(uid: str) -> HTMLResponse:
        row = _verdict(uid)
        return _page(env.get_template("measurement.html.j2").render(v=row, raw=_raw(uid), version=__version__))

    def _raw(uid: str) -> str | None:
        """The stored measurement (pretty JSON, cut at 200 kB), or None for rows without stored bytes."""
        import orjson

        from ayiq.net.ingest import raw_measurement

        with store() as st:
            seg = st.con.execute("SELECT raw_segment FROM measurements WHERE measurement_uid = ?", [uid]).fetchone()
            if not seg or not seg[0]:
                return None
            try:
                obj = raw_measurement(st, uid)
            except (AyiqError, OSError):
                return None
        text = orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
        return text if len(text) <= 200_000 else text[:200_000] + "\n… (cut)"

    def _verdict(uid: str) -> dict[str, Any]:
        with store() as st:
            cur = st.con.execute("SELECT * FROM v_verdicts WHERE measurement_uid = ?", [uid])
            names = [d[0] for d in cur.description]
            got = cur.fetchone()
        if got is None:
            raise HTTPException(status_code=404, detail="no such measurement")
        row = dict(zip(names, got, strict=True))
        row["explorer_url"] = explorer_url(row["measurement_uid"], row.get("report_id"))
        return row

    @app.get("/api/measurements/{uid}", summary="One verdict with its evidence (schema ayiq.verdict v1)")
    def api_measurement(uid: str) -> dict[str, Any]:
        row = _verdict(uid)
        t = row.get("measurement_start_time")
        row["measurement_start_time"] = t.isoformat() if t is not None else None
        return {"schema": "ayiq.verdict", "version": 1, **row}

    @app.get("/api/changes", summary="Change points (schema ayiq.trends.change v1)")
    def api_changes(country: str | None = None, asn: str | None = None, target: str | None = None,
                    since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        with store() as st:
            data = collect(st, flt(country, asn, target, since, until))
        return [c.as_json() for c in data.changes]

    @app.get("/api/schedules", summary="Weekly schedules (schema ayiq.trends.schedule v1)")
    def api_schedules(country: str | None = None, asn: str | None = None, target: str | None = None,
                      since: str | None = None, until: str | None = None,
                      all_series: bool = Query(False, alias="all")) -> list[dict[str, Any]]:
        with store() as st:
            data = collect(st, flt(country, asn, target, since, until))
        return [s.as_json() for s in data.schedules if all_series or s.significant]

    return app
