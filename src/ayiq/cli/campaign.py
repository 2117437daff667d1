"""`ayiq net campaign`: run the probe on a schedule for days, through restarts and outages; see where it is."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ayiq.cli.common import StoreOpt, json_line, parse_day
from ayiq.core.errors import AyiqError, InputError
from ayiq.core.paths import default_store
from ayiq.net.campaign import (
    Campaign,
    SubprocessProbe,
    SystemClock,
    campaign_dir,
    load_state,
    locked,
    parse_duration,
    stop_on_signals,
)

app = typer.Typer(help="Repeated probe runs on a schedule (resumable; every run judged into the store).",
                  no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)
RESERVED = ("--list", "--output", "-o", "--no-store", "--store")
NameOpt = Annotated[str, typer.Option("--name", help="Campaign name (its state lives next to the store).")]


def _until(value: str | None) -> datetime | None:
    when = parse_day(value, "--until")
    if when is None:
        return None
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    assert isinstance(when, date)
    return datetime.combine(when + timedelta(days=1), time(0), UTC) - timedelta(microseconds=1)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_cmd(
    ctx: typer.Context,
    list_file: Annotated[Path, typer.Option("--list", help="Citizen Lab test list (CSV with a url column).")],
    every: Annotated[str, typer.Option("--every", help="Time between runs, e.g. 15m, 1h, 90s.")],
    jitter: Annotated[str, typer.Option("--jitter", help="Random delay added to each run, below --every, e.g. 3m.")] = "0",
    until: Annotated[str | None, typer.Option("--until", help="Stop after this date (UTC day) or ISO time.")] = None,
    runs: Annotated[int | None, typer.Option("--runs", min=1, help="Stop after this many slots.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the jitter (default: random, then kept).")] = None,
    name: NameOpt = "default",
    probe_timeout: Annotated[str, typer.Option("--probe-timeout", help="Longest one run may take.")] = "1h",
    store: StoreOpt = None,
) -> None:
    """Run `ayiq net probe` on the list every --every (plus --jitter) until --until or --runs; each run is judged
    into the store. Probe options go after `--`, e.g. `-- --control URL --probe-cc AZ --probe-asn AS29049`.
    Stopped or killed, it resumes where it stopped when run again with the same options."""
    probe_args = list(ctx.args)
    for a in probe_args:
        if a.split("=", 1)[0] in RESERVED:
            raise AyiqError(f"probe option {a!r} is set by the campaign itself; leave it out")
    store_path = Path(store) if store else default_store()
    folder = campaign_dir(store_path, name)
    every_s = parse_duration(every, "--every")
    jitter_s = parse_duration(jitter, "--jitter")
    timeout_s = parse_duration(probe_timeout, "--probe-timeout")
    stop = threading.Event()

    def log(msg: str) -> None:
        err.print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z [{name}] {msg}", markup=False)

    with locked(folder):
        camp = Campaign(folder, store_path, SystemClock(),
                        SubprocessProbe(list_file.resolve(), probe_args, timeout=timeout_s), log=log)
        st = camp.open(name=name, list_file=list_file, every=every_s, jitter=jitter_s, seed=seed,
                       until=_until(until), max_runs=runs, probe_args=probe_args)
        log(f"state {camp.state_path}; {len(st.runs)} slots recorded; store {store_path}")
        with stop_on_signals(stop):
            st = camp.run(stop)
    counts = {k: v for k, v in st.counts().items() if v}
    log(f"{st.status}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "no slot yet"))
    if st.status == "stopped":
        raise typer.Exit(130)


@app.command("status")
def status_cmd(
    name: NameOpt = "default",
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The state file as one JSON line (ayiq.campaign v1).")] = False,
    last: Annotated[int, typer.Option("--last", min=0, help="Show this many recent slots.")] = 10,
) -> None:
    """Where a campaign is: its schedule, the next slot, and what each slot gave."""
    store_path = Path(store) if store else default_store()
    path = campaign_dir(store_path, name) / "state.json"
    if not path.exists():
        raise InputError(path, f"no campaign named {name!r} for this store")
    st = load_state(path)
    if as_json:
        typer.echo(json_line(st.as_json()))
        return
    obj = st.as_json()
    out = Console()
    t = Table(title=f"Campaign {st.name} ({st.status})", show_header=False)
    sc = obj["schedule"]
    t.add_row("list", Text(st.list_file))
    t.add_row("every / jitter", f"{sc['every_seconds']:g} s / {sc['jitter_seconds']:g} s (seed {sc['seed']})")
    t.add_row("from / until", f"{sc['start']} / {sc['until'] or '-'}" + (f" ({sc['max_runs']} slots)"
                                                                        if sc["max_runs"] else ""))
    t.add_row("next slot", f"{obj['next']['slot']} at {obj['next']['due']}" if obj["next"] else "none (finished)")
    t.add_row("slots", ", ".join(f"{k} {v}" for k, v in obj["counts"].items() if v) or "none yet")
    t.add_row("in progress", f"slot {st.current.slot} ({st.current.phase})" if st.current else "-")
    t.add_row("measurements", str(sum(r.measurements for r in st.runs)))
    out.print(t)
    if last and st.runs:
        r_t = Table(title=f"Last {min(last, len(st.runs))} slots")
        for col in ("slot", "due (UTC)", "status", "measurements", "verdicts", "error"):
            r_t.add_column(col, overflow="fold")
        for r in st.runs[-last:]:
            r_t.add_row(str(r.slot), r.due[:19], r.status, str(r.measurements),
                        ", ".join(f"{k} {v}" for k, v in sorted(r.verdicts.items())), Text((r.error or "")[:80]))
        out.print(r_t)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
