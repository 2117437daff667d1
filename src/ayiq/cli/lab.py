"""`ayiq lab`: bring the censorship lab up and down, see its state, run commands on its client host."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ayiq.core.errors import AyiqError
from ayiq.lab import HOSTS, Lab, builtin_names, load_scenario

app = typer.Typer(help="The censorship lab: a client, a censoring ISP and an 'internet', as root, "
                       "in isolated network namespaces.", no_args_is_help=True)
IdOpt = Annotated[str | None, typer.Option("--id", help="Which lab, when several are up.")]
_OFFSET = re.compile(r"^([+-]?\d+(?:\.\d+)?)([smhd]?)$")


def parse_offset(text: str) -> float:
    """'+3h', '-2d', '90m', '3600' -> seconds."""
    m = _OFFSET.match(text.strip())
    if not m:
        raise AyiqError(f"clock offset {text!r} is not like +3h, -2d, 90m or 3600")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def parse_clock(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise AyiqError(f"clock {text!r} is not an ISO 8601 time like 2026-11-30T19:00:00+04:00") from exc
    if when.tzinfo is None:
        raise AyiqError(f"clock {text!r} needs a UTC offset, like 2026-11-30T19:00:00+04:00")
    return when


@app.command("up")
def up_cmd(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="A built-in name or a .toml/.yaml file.")]
    = "baseline",
    clock: Annotated[str | None, typer.Option("--clock", help="Start the lab clock at this time.")] = None,
    clock_offset: Annotated[str | None, typer.Option("--clock-offset", help="Shift the lab clock: +3h, -2d.")]
    = None,
) -> None:
    """Build the lab and start its servers and censor; prints the lab id when ready."""
    lab = Lab.up(scenario, clock=parse_clock(clock) if clock else None,
                 clock_offset=parse_offset(clock_offset) if clock_offset else None)
    console = Console()
    console.print(f"[bold green]lab {lab.run_id} up[/] in {lab.up_seconds:.1f} s "
                  f"(scenario {lab.scenario.name}); lab time {lab.lab_time().isoformat(timespec='seconds')}")
    console.print(f"client host: ayiq lab exec -- CMD   (namespace {lab.client_ns}); CA: {lab.ca_path}")


@app.command("status")
def status_cmd(run_id: IdOpt = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show the running lab: namespaces, processes, lab clock and active rules, target addresses."""
    lab = Lab.attach(run_id)
    status = lab.status()
    if as_json:
        status["addresses"] = lab.addresses
        typer.echo(json.dumps(status, indent=2))
        return
    console = Console()
    ok = all(status["namespaces"].values()) and all(status["processes"].values())
    console.print(f"lab [bold]{lab.run_id}[/] scenario {lab.scenario.name}: "
                  + ("[green]healthy[/]" if ok else "[red]broken[/] (run `ayiq lab down`)"))
    console.print(f"lab time {status['censor'].get('lab_time', '?')}")
    table = Table("target", "address", "kind", "treatment", "active now")
    active = set(status["censor"].get("active", []))
    for t in lab.scenario.targets:
        treatment = ", ".join(f"{k}={v}" for k, v in (("dns", t.dns), ("ip", t.ip), ("tls", t.tls),
                                                      ("http", t.http), ("udp", t.udp)) if v)
        if t.throttle_bps:
            treatment = ", ".join(filter(None, [treatment, f"throttle={t.throttle_bps} bit/s {t.throttle_mode}"]))
        table.add_row(t.name, t.address, t.kind, treatment or "-",
                      ("yes" if t.name in active else "no") if treatment else "-")
    console.print(table)


@app.command("down")
def down_cmd(run_id: IdOpt = None) -> None:
    """Stop the lab's processes and remove its namespaces and rules."""
    lab = Lab.attach(run_id)
    problems = lab.down()
    if problems:
        raise AyiqError(f"lab {lab.run_id} left things behind: {'; '.join(problems)}")
    Console().print(f"lab {lab.run_id} down")


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_cmd(
    ctx: typer.Context,
    run_id: IdOpt = None,
    host: Annotated[str, typer.Option("--host", help=f"Lab host: {', '.join(HOSTS)}.")] = "client",
) -> None:
    """Run a command on a lab host (the client by default): ayiq lab exec -- CMD ARGS."""
    if not ctx.args:
        raise AyiqError("give a command after --, e.g. ayiq lab exec -- curl http://news.lab/")
    lab = Lab.attach(run_id)
    done = lab.exec(ctx.args, host=host, timeout=None, capture_output=False)
    raise typer.Exit(done.returncode)


@app.command("clock")
def clock_cmd(when: Annotated[str, typer.Argument(help="New lab time, e.g. 2026-11-27T20:30:00+04:00")],
              run_id: IdOpt = None) -> None:
    """Move the running lab's clock (scheduled rules follow at once)."""
    lab = Lab.attach(run_id)
    lab.set_clock(parse_clock(when))
    Console().print(f"lab time {lab.lab_time().isoformat(timespec='seconds')}; "
                    f"active: {', '.join(lab.censor_status().get('active', [])) or 'none'}")


@app.command("scenarios")
def scenarios_cmd() -> None:
    """List the built-in scenarios."""
    table = Table("name", "targets", "description")
    for name in builtin_names():
        s = load_scenario(name)
        table.add_row(name, str(len(s.targets)), s.description)
    Console().print(table)



