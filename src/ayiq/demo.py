"""`make demo`: the main job end to end on one machine.

As root with network namespaces (`--mode lab`, chosen by `auto`): the censorship lab comes up with a blocking
that starts mid-week and evening throttling on weekdays; a measurement campaign (`ayiq net campaign`) runs the
real probe against it every few hours of *lab* time (the lab clock is moved forward instead of waited for, so a
week takes about two minutes), is stopped half-way and resumed; every run is judged into a DuckDB file; the
verdicts are checked against what the censor was doing; trends and the HTML report follow.

Without root (`--mode synthetic`): generates web_connectivity measurements (known truth, including an onset
and a weekly "traffic jam" schedule), ingests and judges them, shows the verdicts and one evidence chain,
exports CSV and Parquet, finds when interference started and on what schedule, writes the HTML report, and
checks the verdicts against the truth.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ayiq.core.errors import AyiqError
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("build/demo"))
    ap.add_argument("--mode", choices=("auto", "lab", "synthetic"), default="auto",
                    help="lab: the censorship lab and a campaign (root); synthetic: generated measurements; "
                         "auto: lab when this machine can run it")
    ap.add_argument("-n", type=int, default=6000, help="synthetic: measurements to generate")
    ap.add_argument("--days", type=int, default=None, help="days of (synthetic or lab) time; default 21 / 7")
    ap.add_argument("--every", type=float, default=6.0, help="lab: hours of lab time between campaign runs")
    args = ap.parse_args(argv)
    workdir: Path = args.workdir
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    mode = args.mode
    if mode == "auto":
        reason = lab_unavailable() if args.days is None or 2 <= args.days <= 7 else "--days is beyond one week"
        mode = "synthetic" if reason else "lab"
        if reason:
            console.print(f"[yellow]The censorship lab is not available ({reason}): the demo uses measurements "
                          "it generates itself.[/]")
    if mode == "lab":
        if not 2 <= (args.days or 7) <= 7:
            ap.error("--days: the lab demo covers 2 to 7 days (one week of its weekly schedules)")
        from ayiq.lab.lab import LabError

        try:
            return lab_demo(workdir, days=args.days or 7, every_hours=args.every)
        except LabError as exc:
            if args.mode == "lab":
                console.print(f"[red]error:[/] {escape(str(exc))}")
                return 2
            console.print(f"[yellow]The censorship lab could not start ({exc}): the demo uses measurements it "
                          "generates itself.[/]")
            shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
    return synthetic_demo(workdir, args.n, args.days or 21)


def lab_unavailable() -> str | None:
    """Why this machine cannot run the lab (None when it can)."""
    from ayiq.lab.lab import LabError, check_support

    try:
        check_support()
    except LabError as exc:
        return str(exc)
    return None


def _run_trends(runner: Any, store_path: Path) -> int:
    """`ayiq trends changes` and `schedule` over the store, printed; returns how many of them failed."""
    from ayiq.cli.main import app

    failed = 0
    for cmd in (["trends", "changes", "--country", "AZ"], ["trends", "schedule", "--country", "AZ"]):
        res = runner.invoke(app, [*cmd, "--store", str(store_path)])
        console.print(res.output.rstrip() or f"exit {res.exit_code}", markup=False, highlight=False)
        failed += res.exit_code != 0
    return failed


def _write_report(runner: Any, store_path: Path, report: Path, *extra: str) -> int:
    """`ayiq report` into ``report``; returns 1 if it failed or wrote nothing."""
    from ayiq.cli.main import app

    res = runner.invoke(app, ["report", "--store", str(store_path), "--country", "AZ", "--output", str(report),
                              *extra])
    console.print(res.output.strip() or f"exit {res.exit_code}", markup=False, highlight=False)
    return int(res.exit_code != 0 or not report.is_file())


def synthetic_demo(workdir: Path, n: int, days: int) -> int:
    store_path = workdir / "ayiq.duckdb"

    console.rule("[bold]1. Generate measurements (synthetic, known truth)")
    inputs, truth = write_inputs(workdir, n, days)
    console.print(f"{len(truth)} web_connectivity measurements from two AZ networks over {days} days in "
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
    wrong += _run_trends(runner, store_path)
    console.rule("[bold]7. The report to publish (ayiq report)")
    report = workdir / "report.html"
    wrong += _write_report(runner, store_path, report)
    judged = len(rows)
    console.rule("[bold]Result")
    console.print(f"{judged - wrong}/{judged} verdicts match the known truth; store: {store_path}; "
                  f"report: {workdir / 'report.html'}")
    return 0 if wrong == 0 else 1


# -- the lab path -------------------------------------------------------------------------------------------

LAB_WEEK = datetime(2026, 11, 16, tzinfo=timezone(timedelta(hours=4)))  # a Monday, 00:00 in Baku
LAB_TOKEN = "ayiq-demo-lab-control-token"  # the lab's own control server: the lab has no route out


def lab_scenario(days: int) -> dict[str, Any]:
    """meydan.lab: TLS reset from the middle of the week on (an onset); azadliq.lab: throttled to 1 Mbit/s on
    weekdays 18:00-23:00 Baku (the "traffic jams"); open.lab untouched."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    onset = max(1, days // 2)
    return {"name": "demo-week", "description": "A blocking that starts mid-week and evening throttling.",
            "target": [
                {"name": "meydan.lab", "kind": "web", "tls": "rst",
                 "schedule": {"days": list(names[onset % 7:]) if days <= 7 else list(names),
                              "hours": "00:00-24:00", "utc_offset": "+04:00"}},
                {"name": "azadliq.lab", "kind": "web", "throttle": "1mbit",
                 "schedule": {"days": list(names[:5]), "hours": "18:00-23:00", "utc_offset": "+04:00"}},
                {"name": "open.lab", "kind": "web"}]}


@dataclass
class WebThenThrottle:
    """One campaign run: the web and SNI tests on every target, then the throttle test on the throttling suspect
    (the throttle test transfers for seconds, so it runs only where it is needed)."""

    web: Any
    throttle: Any

    def __call__(self, out: Path, stop: Any, on_start: Any) -> Any:
        first = self.web(out, stop, on_start)
        if first.status != "done":
            return first
        return self.throttle(out, stop, on_start)


def _start_control(lab: Any, args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(lab.command([sys.executable, "-m", "ayiq.cli.main", "control", "serve", *args],
                                        host="control"), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "control server on" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AyiqError("the lab's control server did not start")


def lab_demo(workdir: Path, days: int = 7, every_hours: float = 6.0) -> int:
    from typer.testing import CliRunner

    from ayiq.lab import ADDRESSES, Lab, scenario_from_dict
    from ayiq.net.campaign import Campaign, LabClock, SubprocessProbe, campaign_dir
    from ayiq.net.probe.loopback import make_certs

    started = time.monotonic()
    store_path = workdir / "ayiq.duckdb"
    scenario = scenario_from_dict(lab_scenario(days))
    console.rule("[bold]1. The censorship lab (network namespaces; no route out)")
    lab = Lab.up(scenario, clock=LAB_WEEK)
    controls: list[subprocess.Popen[str]] = []
    wrong = 0
    try:
        console.print(f"lab {lab.run_id} up in {lab.up_seconds:.1f} s; lab time {lab.lab_time():%a %Y-%m-%d %H:%M %Z}")
        for t in scenario.targets:
            what = (f"TLS {t.tls}" if t.tls else f"throttled to {t.throttle_bps / 1e6:g} Mbit/s" if t.throttle_bps
                    else "untouched")
            when = ""
            if t.schedule:
                when = f" on {','.join(('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[d] for d in t.schedule.days)}"
                when += f" {t.schedule.start_minute // 60:02d}:00-{t.schedule.end_minute // 60:02d}:00 (+04:00)"
            console.print(f"  {t.name}: {what}{when}")
        token = workdir / "control-token.txt"
        token.write_text(LAB_TOKEN, encoding="utf-8")
        certs = make_certs(workdir / "control-certs", ["control.lab"])
        ctl = ADDRESSES["control"]
        controls.append(_start_control(lab, ["--listen", f"{ctl}:8080", "--token-file", str(token),
                                             "--allow-private", "--resolver", ADDRESSES["resolver"],
                                             "--ca-file", str(lab.ca_path), "--timeout", "3"]))
        controls.append(_start_control(lab, ["--listen", f"{ctl}:443", "--token-file", str(token),
                                             "--tls-cert", certs.cert_file, "--tls-key", certs.key_file]))

        console.rule(f"[bold]2. A campaign: the probe every {every_hours:g} h of lab time for {days} days")
        web_list, thr_list = workdir / "targets.csv", workdir / "throttle-targets.csv"
        web_list.write_text("url,category_code\n" + "".join(f"https://{t.name}/,NEWS\n" for t in scenario.targets))
        thr_list.write_text("url,category_code\nhttps://azadliq.lab/,NEWS\n")
        common = ["--resolver", ADDRESSES["resolver"], "--no-system-resolver", "--ca-file", str(lab.ca_path),
                  "--timeout", "2", "--probe-cc", "AZ", "--probe-asn", "AS29049", "--control-token-file", str(token)]
        prefix = lab.command([])  # run on the lab's client, behind the censor
        # The route check runs in this (host) namespace, not the client's: the lab client is never "down".
        probe = WebThenThrottle(
            SubprocessProbe(web_list, ["--tests", "web,sni", "--control", f"http://{ctl}:8080/api/v1/web_connectivity",
                                       "--sni-decoy", f"{lab.addresses['open.lab']}:443", "--control-sni", "open.lab",
                                       *common], prefix=prefix, timeout=120, check_route=False),
            SubprocessProbe(thr_list, ["--tests", "throttle", "--throttle-server", f"{ctl}:443", "--throttle-mb",
                                       "200", "--throttle-seconds", "1", *common], prefix=prefix, timeout=120,
                            check_route=False))
        runs = int(days * 24 // every_hours)

        def log(msg: str) -> None:
            console.print(f"  [dim]{lab.lab_time():%a %m-%d %H:%M}[/] {msg}", highlight=False)

        folder = campaign_dir(store_path, "demo-lab")
        spec = {"name": "demo-lab", "list_file": web_list, "every": every_hours * 3600,
                "jitter": every_hours * 3600 / 2, "seed": 2026, "clock_name": "lab"}
        camp = Campaign(folder, store_path, LabClock(lab), probe, log=log)
        camp.open(**spec, max_runs=runs // 2)  # type: ignore[arg-type]
        camp.run()
        console.print(f"[bold]stopped after {runs // 2} slots (as if the laptop had been closed); run again, it "
                      "resumes where it stopped:[/]")
        camp = Campaign(folder, store_path, LabClock(lab), probe, log=log)
        st = camp.open(**spec, max_runs=runs)  # type: ignore[arg-type]
        st = camp.run()
        counts = {k: v for k, v in st.counts().items() if v}
        console.print(f"campaign {st.status}: {counts}; state file {camp.state_path}")
        if st.status != "finished" or counts.get("done", 0) < runs * 0.8:
            wrong += 1
        wrong += _check_lab_verdicts(store_path, scenario)
    finally:
        for proc in controls:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)
        problems = lab.down()
        console.print(f"lab {lab.run_id} down" + (f" (problems: {problems})" if problems else ""))

    runner = CliRunner()
    console.rule("[bold]4. When? (ayiq trends)")
    wrong += _run_trends(runner, store_path)
    console.print(f"One week at one run every {every_hours:g} h puts at most one measurement in each weekday x hour "
                  "cell: the evening throttling shows in the verdicts above, but `trends schedule` only calls a "
                  "weekly schedule significant after several weeks of runs (the synthetic demo, "
                  "`--mode synthetic`, has three).", highlight=False)
    console.rule("[bold]5. The report to publish (ayiq report)")
    report = workdir / "report.html"
    wrong += _write_report(runner, store_path, report, "--title", "Ayiq lab demo: a week behind the censor")
    console.rule("[bold]Result")
    console.print(f"lab demo in {time.monotonic() - started:.0f} s; store: {store_path}; report: {report}")
    return 0 if wrong == 0 else 1


def _check_lab_verdicts(store_path: Path, scenario: Any) -> int:
    """Every verdict against what the censor was doing at that (lab) time; returns 1 if too many disagree."""
    console.rule("[bold]3. Verdicts against what the censor was doing")
    targets = {f"https://{t.name}/": t for t in scenario.targets}
    with open_store(store_path, read_only=True) as st:
        rows = st.con.execute(
            "SELECT input, test_name, measurement_start_time, status, method FROM v_verdicts ORDER BY 3").fetchall()
    groups: dict[tuple[str, str, bool, str], int] = {}
    agree = 0
    for inp, test, when, status, method in rows:
        t = targets[inp]
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        on = t.active(when) and bool(t.throttle_bps if test == "ayiq_throttle" else t.tls)
        expected = "blocked" if on else "ok"
        got = f"{status}" + (f"/{method}" if method else "")
        agree += status == expected
        key = (inp.split("//", 1)[1].rstrip("/"), test, on, got)
        groups[key] = groups.get(key, 0) + 1
    table = Table(title=f"{len(rows)} measurements, judged")
    for col in ("target", "test", "censor on (truth)", "verdict", "n", "as expected"):
        table.add_column(col)
    for (name, test, on, got), n in sorted(groups.items()):
        ok = got.split("/", 1)[0] == ("blocked" if on else "ok")
        table.add_row(name, test, "yes" if on else "no", got, str(n), "yes" if ok else "[red]NO[/]")
    console.print(table)
    console.print(f"{agree}/{len(rows)} verdicts match what the censor was doing", highlight=False)
    return 0 if rows and agree >= 0.9 * len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
