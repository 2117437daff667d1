"""Outputs of a check: documented JSON with schema names, timeline CSV, an escaped HTML report, exit codes."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import orjson
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.phone.check import check_ios_backup
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.report.write import write_outputs

runner = CliRunner()


def test_cli_outputs_on_mvt_backup(mvt: Path, test_stix: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["phone", "check-backup", str(mvt / "ios_backup"), "--iocs", str(test_stix), "-o", str(out)])
    assert r.exit_code == 1, r.output
    verdict = orjson.loads((out / "verdict.json").read_bytes())
    assert (verdict["schema"], verdict["version"]) == ("ayiq.phone.verdict", 1)
    assert verdict["verdict"] == "traces_found" and verdict["exit_code"] == 1
    assert verdict["alert_counts"] == {"critical": 3, "high": 0, "medium": 0, "low": 1, "info": 1}
    assert verdict["device"]["IMEI"] == "42"
    fam = {f["family"]: f for f in verdict["families"]}
    assert fam["TestMalware"]["verdict"] == "traces_found" and fam["TestMalware"]["matches"] == 3
    alerts = orjson.loads((out / "alerts.json").read_bytes())
    assert alerts["schema"] == "ayiq.phone.alerts"
    crit = [a for a in alerts["alerts"] if a["level"] == "critical"]
    assert {a["module"] for a in crit} == {"sms", "tcc", "whatsapp"}
    sms = next(a for a in crit if a["module"] == "sms")
    assert sms["indicator"]["family"] == "TestMalware" and sms["indicator"]["source"].endswith("test.stix2")
    assert sms["event_time"].startswith("2019-08-29 23:13:30")
    with (out / "timeline.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 5881 and rows == sorted(rows, key=lambda r: r["timestamp"])
    assert any(r["module"] == "sms" and r["alert_level"] == "critical" for r in rows)
    mod = orjson.loads((out / "modules" / "sms.json").read_bytes())
    assert mod["schema"] == "ayiq.phone.module_records" and mod["records"][0]["links"]
    html = (out / "report.html").read_text()
    assert "Traces consistent with <strong>TestMalware</strong>" in html
    assert "2019-08-29 23:13 UTC" in html and "What the levels mean" in html


def test_clean_exit_code(mvt: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["phone", "check-backup", str(mvt / "ios_backup"), "--iocs",
                            str(mvt / "stix2" / "cytrox.stix2"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    v = orjson.loads((tmp_path / "o" / "verdict.json").read_bytes())
    assert v["verdict"] == "no_traces_found" and "No trace" in v["summary"]


def test_bad_input_exit_code(tmp_path: Path) -> None:
    r = runner.invoke(app, ["phone", "check-backup", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["phone", "check-backup", str(tmp_path / "empty"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no Manifest.db" in r.output


def test_hostile_text_is_escaped(mvt: Path, tmp_path: Path, test_stix: Path) -> None:
    """A message with HTML/script and a spreadsheet formula stays inert in report.html and timeline.csv."""
    import shutil

    b = tmp_path / "b"
    shutil.copytree(mvt / "ios_backup", b)
    sms = b / "3d" / "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
    con = sqlite3.connect(sms)
    con.execute("UPDATE message SET text = ?", ("=HYPERLINK(\"x\") <script>alert(1)</script> https://evil.example.org/",))
    con.commit()
    con.close()
    outcome = check_ios_backup(b, IocIndex.from_paths([test_stix]))
    write_outputs(outcome, tmp_path / "o")
    html = (tmp_path / "o" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    text = (tmp_path / "o" / "timeline.csv").read_text()
    assert ",=HYPERLINK" not in text


def test_output_inside_evidence_is_refused(mvt: Path, tmp_path: Path) -> None:
    import shutil

    b = tmp_path / "b"
    shutil.copytree(mvt / "ios_backup", b)
    r = runner.invoke(app, ["phone", "check-backup", str(b), "-o", str(b / "results")])
    assert r.exit_code == 2 and "inside the evidence" in r.output
    assert not (b / "results").exists()
