"""ayiq trends changes | schedule | events | accuracy: time patterns of interference over the store's verdicts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ayiq.cli.common import StoreOpt, json_line, parse_day
from ayiq.core.errors import AyiqError
from ayiq.store import Store, open_store
from ayiq.store.queries import VerdictFilter
from ayiq.trends.bins import Hourly, hourly_counts

app = typer.Typer(help="When interference started and stopped, on what weekly schedule, around which events.",
                  no_args_is_help=True)

CountryOpt = Annotated[str | None, typer.Option("--country", help="Country code, e.g. AZ.")]
AsnOpt = Annotated[str | None, typer.Option("--asn", help="Network, e.g. AS29049.")]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Only targets containing this text.")]
MethodOpt = Annotated[str | None, typer.Option("--method", help="Only results whose blocking method is this.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="From this day (UTC), YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="To this day (UTC) included.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON lines (see docs/formats/trends-*.md).")]
TzOpt = Annotated[str | None, typer.Option("--tz", help="Time zone for schedules (default: the country's).")]
BinOpt = Annotated[int, typer.Option("--bin", min=1, max=24 * 7, help="Bin width in hours for change points.")]
ExecOpt = Annotated[str | None, typer.Option(
    "--executor", help="dask://HOST:PORT to aggregate a Parquet store's partitions on a Dask cluster.")]


def _filter(country: str | None, asn: str | None, target: str | None, since: str | None,
            until: str | None) -> VerdictFilter:
    return VerdictFilter(country=country, asn=asn, target=target, since=parse_day(since, "--since"),
                         until=parse_day(until, "--until"))


@contextmanager
def _hourly(store: Path | None, flt: VerdictFilter, tz: str | None, executor: str | None) -> Iterator[
        tuple[Store, Hourly]]:
    if tz:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(tz)
        except (ValueError, KeyError) as exc:
            raise AyiqError(f"unknown time zone {tz!r}: use an IANA name such as Asia/Baku") from exc
    st = open_store(store, read_only=True)
    try:
        if executor:
            from ayiq.core.executor import make_executor

            with make_executor(executor) as (pool, _n):
                yield st, hourly_counts(st, flt, tz=tz, executor=pool)
        else:
            yield st, hourly_counts(st, flt, tz=tz)
    finally:
        st.close()


@app.command("changes")
def changes_cmd(store: StoreOpt = None, country: CountryOpt = None, asn: AsnOpt = None, target: TargetOpt = None,
                method: MethodOpt = None, since: SinceOpt = None, until: UntilOpt = None, as_json: JsonOpt = False,
                tz: TzOpt = None, bin_hours: BinOpt = 24, executor: ExecOpt = None,
                baseline: Annotated[bool, typer.Option("--baseline", help="Also run OONI's CUSUM.")] = False) -> None:
    """Onsets and ends of interference per target and network, with the evidence behind each."""
    from ayiq.trends.changes import ChangeParams, attach_evidence, find_changes, find_cusum_changes

    with _hourly(store, _filter(country, asn, target, since, until), tz, executor) as (st, hourly):
        found = find_changes(hourly, ChangeParams(bin_hours=bin_hours))
        if baseline:
            found += find_cusum_changes(hourly)
        if method:
            found = [c for c in found if method in (c.method_before, c.method_after)]
        attach_evidence(st, found)
    if as_json:
        for c in found:
            typer.echo(json_line(c.as_json()))
        return
    table = Table(title=f"Change points ({len(found)}) in {len(hourly)} series", title_justify="left")
    table.add_column("series", overflow="fold", ratio=3)
    table.add_column("change", ratio=3)
    table.add_column("blocked share", ratio=1)
    table.add_column("method", ratio=2)
    table.add_column("confidence", ratio=1)
    table.add_column("evidence", ratio=1)
    for c in found:
        j = c.as_json()
        cusum = c.detector == "ooni-cusum"
        table.add_row(
            f"{escape(c.key.target)}\n{c.key.probe_asn} {c.key.probe_cc}",
            f"{c.kind}{' (cusum)' if cusum else ''} {j['time'][:16]} UTC\n{j['time_local'][11:16]} {c.zone}",
            "-" if cusum else f"{c.rate_before:.0%} -> {c.rate_after:.0%}",
            "-" if cusum else f"{c.method_before or '-'} -> {c.method_after or '-'}",
            "-" if cusum else f"{c.confidence:.3f}",
            f"{len(c.evidence)} rows",
        )
    Console().print(table)


@app.command("schedule")
def schedule_cmd(store: StoreOpt = None, country: CountryOpt = None, asn: AsnOpt = None,
                 target: TargetOpt = None, method: MethodOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None, as_json: JsonOpt = False, tz: TzOpt = None, executor: ExecOpt = None,
                 alpha: Annotated[float, typer.Option(help="False discovery rate across series.")] = 0.01,
                 show_all: Annotated[bool, typer.Option("--all", help="Also series with no schedule.")] = False
                 ) -> None:
    """Whether interference depends on the hour and weekday, in the network's local time zone."""
    from ayiq.trends.changes import find_changes
    from ayiq.trends.schedule import attach_schedule_evidence, find_schedules

    with _hourly(store, _filter(country, asn, target, since, until), tz, executor) as (st, hourly):
        results = find_schedules(hourly, find_changes(hourly), alpha=alpha)
        attach_schedule_evidence(st, results)
    if method:
        results = [r for r in results if r.method == method]
    shown = results if show_all else [r for r in results if r.significant]
    if as_json:
        for r in shown:
            typer.echo(json_line(r.as_json()))
        return
    tested = sum(1 for r in results if r.p_value is not None)
    table = Table(title=f"Weekly schedules: {sum(r.significant for r in results)} of {tested} series tested",
                  title_justify="left")
    for col in ("target", "network", "schedule", "adjusted p"):
        table.add_column(col)
    for r in shown:
        table.add_row(escape(r.key.target), f"{r.key.probe_asn} {r.key.probe_cc}", escape(r.words()),
                      "-" if r.q_value is None else f"{r.q_value:.2g}")
    Console().print(table)


@app.command("events")
def events_cmd(calendar: Annotated[Path, typer.Option("--calendar", help="CSV with columns date,name.")],
               store: StoreOpt = None, country: CountryOpt = None, asn: AsnOpt = None, target: TargetOpt = None,
               since: SinceOpt = None, until: UntilOpt = None, as_json: JsonOpt = False,
               before: Annotated[int, typer.Option(help="Days before the date in the event window.")] = 1,
               after: Annotated[int, typer.Option(help="Days after the date in the event window.")] = 1,
               baseline: Annotated[int, typer.Option(help="Baseline days before the window.")] = 14,
               alpha: Annotated[float, typer.Option(help="Show rows with adjusted p below this.")] = 0.05,
               show_all: Annotated[bool, typer.Option("--all", help="Every event x series row.")] = False) -> None:
    """Interference around each event of a calendar, against the days before it."""
    from ayiq.trends.events import event_effects, read_calendar

    events = read_calendar(calendar)
    with _hourly(store, _filter(country, asn, target, since, until), None, None) as (_st, hourly):
        effects = event_effects(hourly, events, before=before, after=after, baseline=baseline)
    shown = effects if show_all else [e for e in effects if e.q_value < alpha]
    if as_json:
        for e in shown:
            typer.echo(json_line(e.as_json()))
        return
    table = Table(title=f"{len(events)} events, {len(effects)} event x series comparisons, "
                        f"{sum(e.q_value < alpha for e in effects)} with adjusted p < {alpha}", title_justify="left")
    for col in ("event", "date", "target", "network", "blocked (event)", "blocked (baseline)", "Cliff's delta",
                "adjusted p"):
        table.add_column(col)
    for e in shown:
        table.add_row(escape(e.event.name), e.event.day.isoformat(), escape(e.key.target),
                      f"{e.key.probe_asn} {e.key.probe_cc}", f"{e.rate_event:.0%}", f"{e.rate_baseline:.0%}",
                      f"{e.cliffs_delta:+.2f}", f"{e.q_value:.2g}")
    Console().print(table)


@app.command("accuracy")
def accuracy_cmd(seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
                 targets: Annotated[int, typer.Option(help="Targets per network.")] = 30,
                 days: Annotated[int, typer.Option(help="Days of history.")] = 60,
                 as_json: JsonOpt = False) -> None:
    """Run the detectors on a seeded synthetic history with known truth; print ours beside OONI's CUSUM."""
    from ayiq.trends.accuracy import score_changes, score_schedules
    from ayiq.trends.changes import find_changes, find_cusum_changes
    from ayiq.trends.schedule import find_schedules
    from ayiq.trends.synth import HistorySpec, write_history

    with tempfile.TemporaryDirectory(prefix="ayiq-acc-") as tmp, open_store(Path(tmp) / "h.duckdb") as st:
        truth = write_history(st, HistorySpec(seed=seed, targets=targets, days=days))
        hourly = hourly_counts(st)
        ours = find_changes(hourly)
        rows = [score_changes(ours, truth, hourly, 24, "binomial-pelt").as_json(),
                score_changes(find_cusum_changes(hourly), truth, hourly, 24, "ooni-cusum").as_json()]
        sched = score_schedules(find_schedules(hourly, ours), truth).as_json()
    if as_json:
        for r in [*rows, sched]:
            typer.echo(json_line(r))
        return
    table = Table(title=f"Change points on a synthetic history (seed {seed}, {truth.series_days} series-days)",
                  title_justify="left")
    for col in ("detector", "true changes", "found within 1 day", "false", "false per 1000 series-days",
                "median error (h)"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["detector"], str(r["true_changes"]), str(r["found"]), str(r["false"]),
                      f"{r['false_per_1000_series_days']:.2f}", str(r["median_abs_error_hours"]))
    console = Console()
    console.print(table)
    console.print(f"Schedules: {sched['found']} of {sched['true_windows']} windows found within one hour; "
                  f"{sched['false_series']} series wrongly called scheduled.")
