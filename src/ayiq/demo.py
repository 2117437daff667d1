"""`make demo`: the main job end to end on embedded defaults, on data Ayiq generates itself.

Generates synthetic web_connectivity measurements (known truth, including an onset and a weekly "traffic jam"
schedule), ingests and judges them into a DuckDB file, shows the verdicts and one evidence chain, exports CSV
and Parquet, finds when interference started and on what schedule, writes the HTML report, and checks the
verdicts against the truth. (The same story in the censorship lab, with the probe, needs root: docs/lab.md.)
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from ayiq.net.ingest import ingest
from ayiq.net.synth import EXPECTED, generate
from ayiq.store import open_store
from ayiq.store.queries import VerdictFilter, select_verdicts

console = Console()


def write_inputs(workdir: Path, n: int, days: int = 21) -> tuple[Path, dict[str, str]]:
    """Write the generated measurements (JSONL.gz plus one API-wrapped file and one broken line)."""
    inputs = workdir / "measurements"
    inputs.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    records = list(generate(n, days=days))
    with gzip.open(inputs / "synthetic-az.jsonl.gz", "wb") as fh:
        for m, tech in records[:-1]:
            truth[m["measurement_uid"]] = tech
            fh.write(orjson.dumps(m) + b"\n")
        fh.write(b'{"test_name": "web_connectivity", "test_keys": {"requests": [{"response": {"body": {"format"\n')
    last, tech = records[-1]
    truth[last["measurement_uid"]] = tech
    wrapped = {"measurement_uid": last["measurement_uid"], "raw_measurement": orjson.dumps(last).decode()}
    (inputs / "api-wrapped.json").write_bytes(orjson.dumps(wrapped))
    return inputs, truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, default=Path("build/demo"))
    ap.add_argument("-n", type=int, default=6000)
    ap.add_argument("--days", type=int, default=21)
    args = ap.parse_args(argv)
    workdir: Path = args.workdir
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    store_path = workdir / "ayiq.duckdb"

    console.rule("[bold]1. Generate measurements (synthetic, known truth)")
    inputs, truth = write_inputs(workdir, args.n, args.days)
    console.print(f"{len(truth)} web_connectivity measurements from two AZ networks over {args.days} days in "
                  f"{inputs}: meydan.tv is cut from 2026-11-08 12:00 UTC, azadliq.info is reset only on "
                  "weekdays 18:00-23:00 Asia/Baku")

    console.rule("[bold]2. Ingest and judge into the store")
    rep = ingest([inputs], store=store_path, progress=True)
    console.print(f"{rep.records} read, {rep.new_records} new, {rep.broken} broken (kept as failure): {rep.statuses}")
    again = ingest([inputs], store=store_path)
    console.print(f"second run: {again.tasks_skipped} files already ingested, {again.new_records} new rows")

    console.rule("[bold]3. Verdicts")
    with open_store(store_path, read_only=True) as st:
        rows = select_verdicts(st, VerdictFilter(country="AZ"))
        summary = Table(title="Verdicts per target (AZ)")
        for col in ("target", "technique (truth)", "status", "method", "n", "correct"):
            summary.add_column(col)
        groups: dict[tuple[str, str, str, str | None], int] = {}
        wrong = 0
        for r in rows:
            tech = truth.get(r["measurement_uid"], "?")
            key = (r["input"], tech, r["status"], r["method"])
            groups[key] = groups.get(key, 0) + 1
            if tech in EXPECTED and (r["status"], r["method"]) != EXPECTED[tech]:
                wrong += 1
        for (inp, tech, status, method), n in sorted(groups.items()):
            ok = EXPECTED.get(tech) == (status, method)
            summary.add_row(inp.split("//", 1)[-1].rstrip("/"), tech, status, method or "", str(n), "yes" if ok else "[red]NO[/]")
        console.print(summary)
        blocked = [r for r in rows if r["status"] == "blocked" and r["method"] == "tls"]
        if blocked:
            r = blocked[0]
            console.rule("[bold]4. Why? (ayiq net explain)")
            console.print(f"[bold]{r['input']}[/] from {r['probe_cc']} {r['probe_asn']} at {r['measurement_start_time']}")
            for i, line in enumerate(r["evidence"], 1):
                console.print(f"  {i}. {line}", markup=False)
    console.rule("[bold]5. Export")
    from typer.testing import CliRunner

    from ayiq.cli.main import app

    runner = CliRunner()
    for fmt in ("csv", "parquet"):
        out = workdir / f"verdicts.{fmt}"
        res = runner.invoke(app, ["net", "export", "--store", str(store_path), "--format", fmt, "--output", str(out)])
        console.print(res.output.strip() or f"exit {res.exit_code}")
    console.rule("[bold]6. When? (ayiq trends)")
    for cmd in (["trends", "changes", "--country", "AZ"], ["trends", "schedule", "--country", "AZ"]):
        res = runner.invoke(app, [*cmd, "--store", str(store_path)])
        console.print(res.output.rstrip() or f"exit {res.exit_code}", markup=False, highlight=False)
        if res.exit_code != 0:
            wrong += 1
    console.rule("[bold]7. The report to publish (ayiq report)")
    report = workdir / "report.html"
    res = runner.invoke(app, ["report", "--store", str(store_path), "--country", "AZ", "--output", str(report)])
    console.print(res.output.strip() or f"exit {res.exit_code}", markup=False, highlight=False)
    if res.exit_code != 0 or not report.is_file():
        wrong += 1
    judged = len(rows)
    console.rule("[bold]Result")
    console.print(f"{judged - wrong}/{judged} verdicts match the known truth; store: {store_path}; "
                  f"report: {workdir / 'report.html'}")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
