"""`ayiq net`: ingest OONI-format measurements, judge them, and read the verdicts back."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ayiq.cli.campaign import app as campaign_app
from ayiq.cli.common import StoreOpt, json_line, parse_day
from ayiq.cli.net_probe import probe as probe_cmd
from ayiq.core.errors import AyiqError
from ayiq.net.ingest import default_fingerprints_dir, ingest, raw_measurement, rejudge
from ayiq.store import open_store
from ayiq.store.queries import VerdictFilter, select_verdicts, status_counts, verdict_relation_sql

app = typer.Typer(help="Network interference: probe, ingest, judge, explain, export.", no_args_is_help=True)
app.command("probe")(probe_cmd)
app.add_typer(campaign_app, name="campaign")
fingerprints_app = typer.Typer(help="OONI blockpage fingerprints used by the judge.", no_args_is_help=True)
app.add_typer(fingerprints_app, name="fingerprints")
console = Console()

OONI_UID = re.compile(r"\d{14}\.\d{6}_[A-Z]{2}_[a-z_]+_[0-9a-f]{16}")
STATUS_STYLE = {"blocked": "bold red", "ok": "green", "down": "yellow", "inconclusive": "cyan", "failure": "magenta"}


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of OONI measurements (JSON, JSONL, .gz).")],
    store: StoreOpt = None,
    executor: Annotated[str, typer.Option(help="local, serial or dask://HOST:PORT")] = "local",
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default: all cores).")] = None,
    fingerprints: Annotated[
        Path | None, typer.Option(help="Blockpage fingerprints (folder of OONI CSVs or one CSV).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read measurements, judge each one, and keep both in the store (idempotent, resumable)."""
    rep = ingest(paths, store=store, executor=executor, workers=workers, fingerprints=fingerprints,
                 progress=not as_json and sys.stderr.isatty())
    if as_json:
        typer.echo(json_line({"schema": "ayiq.ingest_report", "version": 1, "files": rep.files,
                              "records": rep.records, "new_records": rep.new_records, "broken": rep.broken,
                              "tasks_skipped": rep.tasks_skipped, "statuses": rep.statuses,
                              "errors": rep.errors, "refused": rep.refused}))
    else:
        t = Table(title="Ingest", show_header=False)
        t.add_row("files", str(rep.files))
        t.add_row("measurements read", str(rep.records))
        t.add_row("new in store", str(rep.new_records))
        t.add_row("broken records (stored as failure)", str(rep.broken))
        t.add_row("already ingested (skipped)", str(rep.tasks_skipped))
        for status, n in sorted(rep.statuses.items()):
            t.add_row(f"verdict: {status}", str(n), style=STATUS_STYLE.get(status))
        console.print(t)
        err = Console(stderr=True, soft_wrap=True)
        for msg in rep.refused:
            err.print(f"[yellow]refused:[/] {escape(msg)}", highlight=False)
        for msg in rep.errors:
            err.print(f"[red]error:[/] {escape(msg)}", highlight=False)
    if rep.errors:
        raise typer.Exit(2)


def _filter(country: str | None, asn: str | None, since: str | None, until: str | None, method: str | None,
            status: str | None, test: str | None, target: str | None = None) -> VerdictFilter:
    return VerdictFilter(country=country, asn=asn, since=parse_day(since, "--since"),
                         until=parse_day(until, "--until"), method=method, status=status, test_name=test,
                         target=target)


CountryOpt = Annotated[str | None, typer.Option("--country", help="Probe country code, e.g. AZ.")]
AsnOpt = Annotated[str | None, typer.Option("--asn", help="Probe network, e.g. AS29049.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this date (UTC, YYYY-MM-DD).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Up to and including this date (UTC).")]
MethodOpt = Annotated[str | None, typer.Option("--method", help="dns, tcp_ip, tls, http-failure, blockpage, ...")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="ok, blocked, down, inconclusive, failure.")]
TestOpt = Annotated[str | None, typer.Option("--test", help="Test name, e.g. web_connectivity.")]


@app.command("verdicts")
def verdicts_cmd(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (schema ayiq.verdict v1).")] = False,
    country: CountryOpt = None, asn: AsnOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    method: MethodOpt = None, status: StatusOpt = None, test: TestOpt = None,
    target: Annotated[str | None, typer.Option(help="Substring of the input (URL or domain).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
) -> None:
    """List verdicts: a table for people, or JSON lines for machines."""
    flt = _filter(country, asn, since, until, method, status, test, target)
    with open_store(store, read_only=True) as st:
        rows = select_verdicts(st, flt, limit=limit)
        if as_json:
            for r in rows:
                r.pop("source", None)
                typer.echo(json_line({"schema": "ayiq.verdict", "version": 1, **r}))
            return
        t = Table(title=f"Verdicts ({len(rows)})")
        for col in ("time (UTC)", "cc", "asn", "test", "input", "status", "method", "conf.", "why"):
            t.add_column(col, overflow="fold")
        for r in rows:
            when = r["measurement_start_time"]
            t.add_row(
                when.strftime("%Y-%m-%d %H:%M") if when else "", r["probe_cc"] or "", r["probe_asn"] or "",
                r["test_name"] or "", (r["input"] or "")[:60], r["status"], r["method"] or "",
                f"{r['confidence']:.2f}", (r["evidence"] or [""])[0][:90], style=STATUS_STYLE.get(r["status"]),
            )
        console.print(t)
        summary = status_counts(st, flt)
        if summary:
            console.print(", ".join(f"{s}{'/' + m if m else ''}: {n}" for s, m, n in summary))


@app.command("explain")
def explain_cmd(
    uid: Annotated[str, typer.Argument(help="The measurement's uid (see `ayiq net verdicts`).")],
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The full evidence chain behind one verdict, and the measurement it rests on."""
    with open_store(store, read_only=True) as st:
        rows = st.con.execute("SELECT * FROM v_verdicts WHERE measurement_uid = ?", [uid]).fetchall()
        if not rows:
            raise AyiqError(f"no measurement with uid {uid!r} in the store")
        names = [d[0] for d in st.con.description]
        rec = dict(zip(names, rows[0], strict=True))
        raw = raw_measurement(st, uid)
    if as_json:
        typer.echo(json_line({"schema": "ayiq.explanation", "version": 1, **rec, "measurement": raw}))
        return
    style = STATUS_STYLE.get(rec["status"], "")
    console.print(f"[bold]{rec['input'] or '(no input)'}[/] — {rec['test_name']} from {rec['probe_cc']} "
                  f"{rec['probe_asn']} at {rec['measurement_start_time']}", highlight=False)
    console.print(f"verdict: [{style}]{rec['status']}[/]" + (f" by {rec['method']}" if rec["method"] else "")
                  + f" (confidence {rec['confidence']:.2f}; anomaly={rec['anomaly']}, confirmed={rec['confirmed']},"
                  f" failure={rec['failure']})", highlight=False)
    if rec["blockpage_fingerprint"]:
        console.print(f"blockpage fingerprint: {rec['blockpage_fingerprint']}", highlight=False)
    console.print("evidence:")
    for i, line in enumerate(rec["evidence"] or [], 1):
        console.print(f"  {i}. {line}", highlight=False, markup=False)
    console.print(f"judge: {rec['judge']} v{rec['judge_version']}; source: {rec['source']}", highlight=False)
    if OONI_UID.fullmatch(uid):
        console.print(f"OONI Explorer: https://explorer.ooni.org/m/{uid}", highlight=False)


@app.command("export")
def export_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    store: StoreOpt = None,
    country: CountryOpt = None, asn: AsnOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    method: MethodOpt = None, status: StatusOpt = None, test: TestOpt = None,
) -> None:
    """Export verdicts joined with their measurement envelope (docs/formats/verdict.md)."""
    if fmt not in ("csv", "parquet"):
        raise AyiqError(f"--format {fmt!r}: use csv or parquet")
    flt = _filter(country, asn, since, until, method, status, test)
    sql, params = verdict_relation_sql(flt)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open_store(store, read_only=True) as st:
        table: pa.Table = st.con.sql(sql, params=params).to_arrow_table()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, output, compression="zstd")
    else:
        with output.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(table.column_names)
            for row in table.to_pylist():
                w.writerow(
                    [" | ".join(v) if isinstance(v, list) else ("" if v is None else v) for v in row.values()]
                )
    console.print(f"wrote {table.num_rows} verdicts to {output}")


@app.command("rejudge")
def rejudge_cmd(
    store: StoreOpt = None,
    fingerprints: Annotated[Path | None, typer.Option(help="Blockpage fingerprints folder or CSV.")] = None,
) -> None:
    """Re-run today's judges over every stored measurement (the facts stay; verdicts are replaced)."""
    n = rejudge(store, fingerprints=fingerprints)
    console.print(f"re-judged {n} measurements")


FINGERPRINT_FILES = ("fingerprints_dns.csv", "fingerprints_http.csv")
FINGERPRINT_SOURCE = "https://raw.githubusercontent.com/ooni/blocking-fingerprints/main/"


@fingerprints_app.command("update")
def fingerprints_update(
    source: Annotated[str, typer.Option(help="Base URL of OONI's blocking-fingerprints CSVs.")] = FINGERPRINT_SOURCE,
    dest: Annotated[Path | None, typer.Option(help="Folder to write (default: the user's data dir).")] = None,
) -> None:
    """Download OONI's blockpage fingerprints (online; the only network access of `net` outside the probe)."""
    import urllib.request

    target = dest or default_fingerprints_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in FINGERPRINT_FILES:
        url = source.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - user-chosen https source
                data = resp.read(50 * 2**20)
        except OSError as exc:
            raise AyiqError(f"cannot download {url}: {exc} (are you online?)") from exc
        tmp = target / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(target / name)
        console.print(f"updated {target / name} ({len(data)} bytes)")


@fingerprints_app.command("path")
def fingerprints_path() -> None:
    """Print the default fingerprints folder."""
    typer.echo(str(default_fingerprints_dir()))
