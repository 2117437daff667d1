"""`ayiq net campaign run|status` for real: the probe as a child process measuring a loopback web server every
two seconds, each run judged into a DuckDB file; SIGTERM stops it cleanly and a restart resumes it."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

CLI = [sys.executable, "-m", "ayiq.cli.main"]


@pytest.fixture()
def web_server() -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


def _args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    lst = tmp_path / "list.csv"
    lst.write_text(f"url,category_code\n{url},NEWS\n")
    # --resolver on loopback: the campaign checks its route (the network is "up"); the target is an IP.
    return [*CLI, "net", "campaign", "run", "--list", str(lst), "--store", str(tmp_path / "s.duckdb"),
            "--every", "2s", "--seed", "3", *extra, "--", "--tests", "web", "--resolver", "127.0.0.1:9",
            "--no-system-resolver", "--timeout", "2"]


def _status(tmp_path: Path) -> dict[str, object]:
    done = subprocess.run([*CLI, "net", "campaign", "status", "--store", str(tmp_path / "s.duckdb"), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _stored(tmp_path: Path) -> tuple[int, int]:
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    try:
        (n, d), = con.execute("SELECT count(*), count(DISTINCT measurement_uid) FROM v_verdicts").fetchall()
    finally:
        con.close()
    return int(n), int(d)


def test_campaign_runs_the_probe_on_schedule_and_stores_each_run(tmp_path: Path, web_server: str) -> None:
    done = subprocess.run(_args(tmp_path, web_server, "--runs", "3"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    st = _status(tmp_path)
    assert st["schema"] == "ayiq.campaign" and st["status"] == "finished"
    runs = st["runs"]
    assert isinstance(runs, list) and [r["slot"] for r in runs] == [0, 1, 2]
    assert {r["status"] for r in runs} <= {"done", "missed"} and runs[0]["status"] == "done"
    done_runs = [r for r in runs if r["status"] == "done"]
    assert all(r["measurements"] == 1 and r["verdicts"] for r in done_runs)
    assert _stored(tmp_path) == (len(done_runs), len(done_runs))
    starts = [r["started"] for r in done_runs]
    assert starts == sorted(starts)
    table = subprocess.run([*CLI, "net", "campaign", "status", "--store", str(tmp_path / "s.duckdb")],
                           capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0 and "finished" in table.stdout and "done" in table.stdout


def test_sigterm_stops_cleanly_and_a_restart_resumes(tmp_path: Path, web_server: str) -> None:
    args = _args(tmp_path, web_server, "--runs", "4")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tmp_path / "s.duckdb.campaigns" / "default" / "state.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["runs"]:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    first = json.loads(state.read_text())
    assert first["status"] == "stopped" and first["current"] is None
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    st = _status(tmp_path)
    slots = [r["slot"] for r in st["runs"]]  # type: ignore[union-attr]
    assert slots == [0, 1, 2, 3] and st["status"] == "finished"
    n_done = sum(r["status"] == "done" for r in st["runs"])  # type: ignore[union-attr]
    assert n_done >= 2 and _stored(tmp_path) == (n_done, n_done)


def test_campaign_refuses_probe_options_it_sets_itself(tmp_path: Path) -> None:
    lst = tmp_path / "list.csv"
    lst.write_text("url\nhttp://127.0.0.1:9/\n")
    done = subprocess.run([*CLI, "net", "campaign", "run", "--list", str(lst), "--every", "1m", "--store",
                           str(tmp_path / "s.duckdb"), "--", "--output", "x.jsonl"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--output" in done.stderr
    missing = subprocess.run([*CLI, "net", "campaign", "status", "--store", str(tmp_path / "s.duckdb")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "state.json" in missing.stderr
