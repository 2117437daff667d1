"""`ayiq phone`: check phone backups and dumps for spyware traces, offline; manage indicator files.

Exit codes of the check commands: 0 no alert at medium level or above and everything found was read;
1 alerts to review; 2 error, nothing checked (bad input, missing or wrong password); 3 incomplete (no
medium+ alert, but some artefacts could not be read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ayiq.core.errors import AyiqError
from ayiq.phone.verdict import EXIT_ERROR, CheckOutcome

app = typer.Typer(help="Spyware forensics on phone backups and dumps (offline, read-only).", no_args_is_help=True)
iocs_app = typer.Typer(help="Indicator (STIX 2) files used by the checks.", no_args_is_help=True)
app.add_typer(iocs_app, name="iocs")

IocsOpt = Annotated[list[Path] | None, typer.Option("--iocs", help="STIX2 file or folder (repeatable; "
                                                    "default: your collection, see `ayiq phone iocs list`).")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Folder for verdict.json, alerts.json, "
                                         "timeline.csv, modules/ and report.html.")]
PwFileOpt = Annotated[Path | None, typer.Option("--password-file", help="File whose first line is the password.")]
PwEnvOpt = Annotated[str | None, typer.Option("--password-env", help="Environment variable holding the password.")]

# The check commands print with typer's own styling, not rich: rich (and its 3 MiB) stays out of a check.
LEVEL_STYLE: dict[str, dict[str, Any]] = {"critical": {"fg": "red", "bold": True}, "high": {"fg": "red"},
                                          "medium": {"fg": "yellow"}, "low": {"fg": "cyan"}, "info": {"dim": True}}
VERDICT_STYLE: dict[str, dict[str, Any]] = {"traces_found": {"fg": "red", "bold": True},
                                            "needs_review": {"fg": "yellow"}, "incomplete": {"fg": "magenta"}}
MAX_LISTED = 30


def _fail(exc: AyiqError) -> typer.Exit:
    """Check commands own their exit codes: an error is 2 here whichever way the command was called."""
    typer.echo(typer.style("error:", fg="red", bold=True) + f" {exc}", err=True)
    return typer.Exit(EXIT_ERROR)


def _finish(outcome: CheckOutcome, output: Path) -> None:
    from ayiq.phone.report.write import write_outputs

    write_outputs(outcome, output)
    v = outcome.as_json()
    typer.secho(v["summary"], **VERDICT_STYLE.get(v["verdict"], {"fg": "green"}))
    if outcome.alerts:
        shown = outcome.alerts[:MAX_LISTED]
        width = max(len(a.module) for a in shown)
        typer.secho(f"{'level':9} {'module':{width}} finding", bold=True)
        for a in shown:
            label = a.level.label
            typer.echo(typer.style(f"{label:9}", **LEVEL_STYLE[label]) + f" {a.module:{width}} {a.message}")
        if len(outcome.alerts) > MAX_LISTED:
            typer.echo(f"... and {len(outcome.alerts) - MAX_LISTED} more in alerts.json and report.html")
    typer.echo("counts: " + ", ".join(f"{k} {n}" for k, n in v["alert_counts"].items()))
    for e in outcome.errors:
        typer.echo(typer.style("could not read:", fg="magenta") + f" {e}", err=True)
    for w in outcome.source.warnings:
        typer.echo(typer.style("warning:", fg="yellow") + f" {w}", err=True)
    typer.echo(f"outputs in {output} (open report.html)")
    raise typer.Exit(outcome.exit_code)


@app.command("check-backup")
def check_backup(
    path: Annotated[Path, typer.Argument(help="iTunes/Finder backup folder (or its parent).")],
    output: OutputOpt,
    iocs: IocsOpt = None,
    password_file: PwFileOpt = None,
    password_env: PwEnvOpt = None,
) -> None:
    """Check an iOS backup, encrypted or not."""
    _check("ios_backup", path, output, iocs, password_file, password_env)


@app.command("check-fs")
def check_fs(
    path: Annotated[Path, typer.Argument(help="iOS filesystem dump (folder holding private/var/...).")],
    output: OutputOpt,
    iocs: IocsOpt = None,
) -> None:
    """Check an iOS full-filesystem dump (adds shutdown.log, netusage, favicons, caches)."""
    _check("ios_fs", path, output, iocs, None, None)


@app.command("check-androidqf")
def check_androidqf(
    path: Annotated[Path, typer.Argument(help="AndroidQF acquisition folder or zip.")],
    output: OutputOpt,
    iocs: IocsOpt = None,
    password_file: PwFileOpt = None,
    password_env: PwEnvOpt = None,
) -> None:
    """Check an AndroidQF acquisition (the password is for its backup.ab, if encrypted)."""
    _check("androidqf", path, output, iocs, password_file, password_env)


@app.command("check-android-backup")
def check_android_backup(
    path: Annotated[Path, typer.Argument(help="`adb backup` file (.ab) or its unpacked folder.")],
    output: OutputOpt,
    iocs: IocsOpt = None,
    password_file: PwFileOpt = None,
    password_env: PwEnvOpt = None,
) -> None:
    """Check an Android `adb backup` file (SMS and MMS)."""
    _check("android_backup", path, output, iocs, password_file, password_env)


@app.command("check-bugreport")
def check_bugreport(
    path: Annotated[Path, typer.Argument(help="Android bugreport zip or its unpacked folder.")],
    output: OutputOpt,
    iocs: IocsOpt = None,
) -> None:
    """Check an Android bugreport (app operations, packages, properties, crash reports)."""
    _check("bugreport", path, output, iocs, None, None)


def _check(kind: str, path: Path, output: Path, iocs: list[Path] | None, password_file: Path | None,
           password_env: str | None) -> None:
    from ayiq.phone import check

    runners = {"ios_backup": check.check_ios_backup, "ios_fs": check.check_ios_fs, "androidqf": check.check_androidqf,
               "android_backup": check.check_android_backup, "bugreport": check.check_bugreport}
    try:
        if output.resolve().is_relative_to(path.resolve()) and path.is_dir():
            raise AyiqError(f"{output}: the output folder is inside the evidence {path}; choose a folder outside it "
                            "(the evidence is never written to)")
        password = check.read_password(password_file, password_env)
        index = check.load_iocs(iocs or [])
        with check.work_dir(output):
            outcome = runners[kind](path, index, password)
    except AyiqError as exc:
        raise _fail(exc) from None
    _finish(outcome, output)


@iocs_app.command("list")
def iocs_list() -> None:
    """Show the indicator files of your collection."""
    from rich.console import Console
    from rich.table import Table

    from ayiq.phone.iocs.collection import collection_dir, list_collection

    console = Console()
    files = list_collection()
    t = Table(title=f"Indicators in {collection_dir()}")
    for c in ("file", "indicators", "families", "kinds"):
        t.add_column(c)
    for f in files:
        fams = ", ".join(list(f.families)[:3]) + ("..." if len(f.families) > 3 else "")
        t.add_row(Path(f.path).name, str(len(f.indicators)), fams, ", ".join(f"{k} {n}" for k, n in f.kinds.items()))
    console.print(t)
    if not files:
        console.print("No indicator files yet: run `ayiq phone iocs update` (online) or `ayiq phone iocs add FILE`.")


@iocs_app.command("add")
def iocs_add(file: Annotated[Path, typer.Argument(help="A STIX 2 file to add to your collection.")]) -> None:
    """Validate a STIX 2 file and copy it into your collection."""
    from ayiq.phone.iocs.collection import add_to_collection

    dest, loaded = add_to_collection(file)
    typer.echo(f"added {len(loaded.indicators)} indicators ({', '.join(loaded.families)}) as {dest}")


@iocs_app.command("update")
def iocs_update(
    from_dir: Annotated[Path | None, typer.Option("--from-dir", help="Use a local mirror of the index "
                                                  "(folder holding indicators.yaml) instead of going online.")] = None,
) -> None:
    """Download every file of MVT's public indicator index (goes online unless --from-dir)."""
    from ayiq.phone.iocs.update import update

    for entry, outcome in update(from_dir):
        typer.echo(f"{entry.name}: {outcome}")
