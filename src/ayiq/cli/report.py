"""ayiq report (one self-contained HTML file) and ayiq serve (a read-only dashboard over the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ayiq.cli.common import StoreOpt, parse_day
from ayiq.core.errors import AyiqError
from ayiq.store import open_store
from ayiq.store.queries import VerdictFilter


def report_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    store: StoreOpt = None,
    country: Annotated[str | None, typer.Option("--country", help="Country code, e.g. AZ.")] = None,
    asn: Annotated[str | None, typer.Option("--asn", help="Network, e.g. AS29049.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only targets containing this text.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this day (UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="To this day (UTC) included.")] = None,
    title: Annotated[str, typer.Option(help="The report's title.")] = "Ayiq: interference report",
) -> None:
    """Write one self-contained HTML report (summary, charts, evidence); it opens offline."""
    from ayiq.report.build import build_report

    flt = VerdictFilter(country=country, asn=asn, target=target, since=parse_day(since, "--since"),
                        until=parse_day(until, "--until"))
    with open_store(store, read_only=True) as st:
        path = build_report(st, flt, output, title=title)
    Console().print(f"report written to {path} ({path.stat().st_size // 1024} KiB)")


def serve_cmd(
    store: StoreOpt = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on.")] = "127.0.0.1:8000",
) -> None:
    """Serve a read-only dashboard and JSON API (OpenAPI docs at /docs) over the store."""
    import uvicorn

    from ayiq.web.app import create_app

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise AyiqError(f"--listen {listen!r} is not HOST:PORT (for example 127.0.0.1:8000)")
    uvicorn.run(create_app(store), host=host.strip("[]"), port=int(port), log_level="warning")
