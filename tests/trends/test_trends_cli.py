"""`ayiq trends ...`: Rich tables for people, JSON lines with a documented schema for programs."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.trends.synth import Truth

runner = CliRunner()


def _lines(out: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.splitlines() if line.strip()]


def test_changes_json_and_table(history: tuple[Path, Truth]) -> None:
    path, truth = history
    res = runner.invoke(app, ["trends", "changes", "--store", str(path), "--asn", "AS29049", "--json"])
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    expected = [c for c in truth.changes if c.probe_asn == "AS29049"]
    assert len(rows) == len(expected)
    assert all(r["schema"] == "ayiq.trends.change" and r["probe_asn"] == "AS29049" for r in rows)
    assert all(str(r["time"]).endswith("+00:00") and r["timezone"] == "Asia/Baku" for r in rows)
    assert all(r["evidence"] for r in rows)
    table = runner.invoke(app, ["trends", "changes", "--store", str(path), "--target", "azadliq"])
    assert table.exit_code == 0 and "Change points" in table.stdout


def test_method_filter_and_baseline(history: tuple[Path, Truth]) -> None:
    path, truth = history
    res = runner.invoke(app, ["trends", "changes", "--store", str(path), "--method", "dns", "--json"])
    rows = _lines(res.stdout)
    assert rows and all("dns" in (r["method_before"], r["method_after"]) for r in rows)
    res = runner.invoke(app, ["trends", "changes", "--store", str(path), "--asn", "AS28787", "--baseline",
                              "--json"])
    assert {r["detector"] for r in _lines(res.stdout)} == {"binomial-pelt", "ooni-cusum"}


def test_schedule_json(history: tuple[Path, Truth]) -> None:
    path, truth = history
    res = runner.invoke(app, ["trends", "schedule", "--store", str(path), "--json"])
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    assert len(rows) == len(truth.windows)
    assert all(r["schema"] == "ayiq.trends.schedule" and r["significant"] for r in rows)
    assert all("Asia/Baku, p < 0.001" in str(r["words"]) for r in rows)


def test_events_and_errors(tmp_path: Path, history: tuple[Path, Truth]) -> None:
    path, truth = history
    onset = truth.changes[0]
    cal = tmp_path / "cal.csv"
    cal.write_text(f"date,name\n{onset.time.date()},Trial of a journalist\n")
    res = runner.invoke(app, ["trends", "events", "--store", str(path), "--calendar", str(cal), "--all",
                              "--json"])
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    assert rows and all(r["schema"] == "ayiq.trends.event" for r in rows)
    bad = runner.invoke(app, ["trends", "changes", "--store", str(path), "--since", "yesterday"])
    assert bad.exit_code != 0
    missing = runner.invoke(app, ["trends", "changes", "--store", str(tmp_path / "none.duckdb")])
    assert missing.exit_code != 0


def test_accuracy_command_prints_ours_beside_cusum() -> None:
    res = runner.invoke(app, ["trends", "accuracy", "--seed", "5", "--targets", "6", "--days", "30", "--json"])
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    assert [r["detector"] for r in rows[:2]] == ["binomial-pelt", "ooni-cusum"]
    assert rows[2]["schema"] == "ayiq.trends.schedule_accuracy"


def test_schedule_evidence_inside_and_outside(history: tuple[Path, Truth]) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    path, truth = history
    w = truth.windows[0]
    res = runner.invoke(app, ["trends", "schedule", "--store", str(path), "--asn", w.probe_asn, "--json"])
    row = next(r for r in _lines(res.stdout) if r["target"] == w.target)
    ev = row["evidence"]
    assert {e["side"] for e in ev} == {"inside", "outside"}  # type: ignore[union-attr,index]
    for e in ev:  # type: ignore[union-attr]
        local = datetime.fromisoformat(e["time"]).astimezone(ZoneInfo("Asia/Baku"))
        inside = local.weekday() in w.days and w.start_hour <= local.hour < w.end_hour
        assert inside == (e["side"] == "inside")
        assert e["status"] == ("blocked" if inside else "ok")
