"""The `ayiq net` commands on a real store: verdicts table and JSON, explain, export, rejudge."""

from __future__ import annotations

import functools
import http.server
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import orjson
import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.net.synth import EXPECTED, generate

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("cli")
    src = d / "m.jsonl"
    truth = {}
    with src.open("wb") as fh:
        for m, tech in generate(90, seed=5):
            truth[m["measurement_uid"]] = tech
            fh.write(orjson.dumps(m) + b"\n")
    path = d / "s.duckdb"
    res = runner.invoke(app, ["net", "ingest", str(src), "--store", str(path), "--executor", "serial", "--json"])
    assert res.exit_code == 0, res.output
    report = orjson.loads(res.output)
    assert report["schema"] == "ayiq.ingest_report" and report["records"] == 90
    return path, truth


def test_verdicts_json_lines_match_truth(store: tuple[Path, dict[str, str]]) -> None:
    path, truth = store
    res = runner.invoke(app, ["net", "verdicts", "--store", str(path), "--json"])
    assert res.exit_code == 0, res.output
    rows = [orjson.loads(line) for line in res.output.splitlines()]
    assert len(rows) == 90
    for r in rows:
        assert r["schema"] == "ayiq.verdict"
        assert {"measurement_uid", "input", "probe_cc", "probe_asn", "test_name", "measurement_start_time",
                "status", "method", "confidence", "evidence", "anomaly", "confirmed", "failure"} <= set(r)
        assert (r["status"], r["method"]) == EXPECTED[truth[r["measurement_uid"]]], r


def test_verdict_filters(store: tuple[Path, dict[str, str]]) -> None:
    path, truth = store
    res = runner.invoke(app, ["net", "verdicts", "--store", str(path), "--json", "--method", "tls",
                              "--asn", "AS29049", "--since", "2026-11-03", "--until", "2026-11-10"])
    rows = [orjson.loads(line) for line in res.output.splitlines()]
    assert rows and all(r["method"] == "tls" and r["probe_asn"] == "AS29049" for r in rows)
    assert all("2026-11-03" <= r["measurement_start_time"][:10] <= "2026-11-10" for r in rows)
    res = runner.invoke(app, ["net", "verdicts", "--store", str(path), "--country", "AZ"])
    assert res.exit_code == 0 and "blocked" in res.output


def test_explain_shows_the_evidence_chain(store: tuple[Path, dict[str, str]]) -> None:
    path, truth = store
    uid = next(u for u, t in truth.items() if t == "tls_timeout")
    res = runner.invoke(app, ["net", "explain", uid, "--store", str(path)])
    assert res.exit_code == 0, res.output
    assert "blocked" in res.output and "tls" in res.output and "evidence" in res.output
    res = runner.invoke(app, ["net", "explain", "nope", "--store", str(path)])
    assert res.exit_code != 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export(store: tuple[Path, dict[str, str]], tmp_path: Path, fmt: str) -> None:
    path, _ = store
    out = tmp_path / f"v.{fmt}"
    res = runner.invoke(app, ["net", "export", "--store", str(path), "--format", fmt, "--output", str(out),
                              "--status", "blocked"])
    assert res.exit_code == 0, res.output
    reader = "read_csv_auto" if fmt == "csv" else "read_parquet"
    ((n, statuses),) = duckdb.sql(f"SELECT count(*), list(DISTINCT status) FROM {reader}('{out}')").fetchall()
    assert n > 0 and statuses == ["blocked"]


def test_rejudge_is_stable(store: tuple[Path, dict[str, str]]) -> None:
    path, _ = store
    q = "SELECT measurement_uid, status, method FROM verdicts ORDER BY 1"

    def read() -> list[tuple[object, ...]]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(q).fetchall()

    before = read()
    res = runner.invoke(app, ["net", "rejudge", "--store", str(path)])
    assert res.exit_code == 0, res.output
    assert read() == before


def _ayiq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ayiq.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_missing_input_is_one_clear_line(tmp_path: Path) -> None:
    res = _ayiq("net", "ingest", str(tmp_path / "nope.jsonl"), "--store", str(tmp_path / "s.duckdb"))
    assert res.returncode == 2
    assert "nope.jsonl: no such file or folder" in res.stderr and "Traceback" not in res.stderr


def test_reading_a_store_that_does_not_exist(tmp_path: Path) -> None:
    res = _ayiq("net", "verdicts", env={"AYIQ_STORE": str(tmp_path / "none.duckdb")})
    assert res.returncode == 2 and "no store here yet" in res.stderr


def test_bad_file_exit_code_and_message(tmp_path: Path) -> None:
    bad = tmp_path / "photo.json"
    bad.write_bytes(b"\xff\xd8\xff\xe0 JFIF")
    res = _ayiq("net", "ingest", str(bad), "--store", str(tmp_path / "s.duckdb"), "--executor", "serial")
    assert res.returncode == 2 and "photo.json" in res.stderr and "not JSON" in res.stderr


def test_fingerprints_update_from_a_loopback_server(tmp_path: Path) -> None:
    """`update` downloads each CSV and replaces the local copy atomically (served here from 127.0.0.1)."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "fingerprints_dns.csv").write_text("name,scope,location_found,pattern_type,pattern\n")
    (served / "fingerprints_http.csv").write_text("name,scope,location_found,pattern_type,pattern\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as srv:
        port = srv.server_address[1]
        th = threading.Thread(target=srv.serve_forever, daemon=True)
        th.start()
        try:
            dest = tmp_path / "fps"
            res = runner.invoke(app, ["net", "fingerprints", "update", "--source", f"http://127.0.0.1:{port}/",
                                      "--dest", str(dest)])
        finally:
            srv.shutdown()
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in dest.iterdir()) == ["fingerprints_dns.csv", "fingerprints_http.csv"]
