"""A real campaign in the censorship lab (root): the campaign runs on the lab's client every 3 s with the real
probe and control server, is killed with SIGKILL in the middle of a run, restarted, loses its network for a
while (the client's link goes down), and ends with every slot recorded once and every measurement stored once
in a real DuckDB file, judged as the scenario says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ayiq.lab import ADDRESSES, Lab, scenario_from_dict
from ayiq.lab.pytest_plugin import lab_home, lab_support, make_lab  # noqa: F401 - fixtures

pytestmark = [pytest.mark.root, pytest.mark.slow]
TOKEN = "lab-campaign-token-0123456789"
CLI = [sys.executable, "-m", "ayiq.cli.main"]
RUNS = 10
SCENARIO = {"name": "campaign", "target": [{"name": "open.lab", "kind": "web"},
                                          {"name": "blocked.lab", "kind": "web", "tls": "rst"}]}


@pytest.fixture()
def campaign_lab(make_lab: Callable[..., Lab], tmp_path: Path) -> Iterator[tuple[Lab, str, Path]]:  # noqa: F811
    lab = make_lab(scenario_from_dict(SCENARIO))
    tf = tmp_path / "token.txt"
    tf.write_text(TOKEN)
    addr = ADDRESSES["control"]
    proc = subprocess.Popen(lab.command([*CLI, "control", "serve", "--listen", f"{addr}:8080", "--token-file",
                                         str(tf), "--allow-private", "--resolver", ADDRESSES["resolver"],
                                         "--ca-file", str(lab.ca_path), "--timeout", "3"], host="control"),
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "control server on" not in proc.stderr.readline():
        pass
    try:
        yield lab, f"http://{addr}:8080/api/v1/web_connectivity", tf
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def _state(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _wait(path: Path, ok: Callable[[dict[str, Any]], bool], what: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = _state(path)
        if st and ok(st):
            return st
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}: {_state(path)}")


def test_campaign_in_the_lab_survives_sigkill_and_network_loss(campaign_lab: tuple[Lab, str, Path],
                                                               tmp_path: Path) -> None:
    lab, control, tf = campaign_lab
    lst = tmp_path / "list.csv"
    lst.write_text("url,category_code\nhttps://open.lab/,NEWS\nhttps://blocked.lab/,NEWS\n")
    store = tmp_path / "lab.duckdb"
    argv = lab.command([*CLI, "net", "campaign", "run", "--list", str(lst), "--store", str(store), "--every", "3s",
                        "--runs", str(RUNS), "--seed", "7", "--", "--tests", "web", "--control", control,
                        "--control-token-file", str(tf), "--resolver", ADDRESSES["resolver"],
                        "--no-system-resolver", "--ca-file", str(lab.ca_path), "--timeout", "2",
                        "--probe-cc", "AZ", "--probe-asn", "AS29049"])
    state = tmp_path / "lab.duckdb.campaigns" / "default" / "state.json"
    env = {**os.environ, "AYIQ_LAB_CA": str(lab.ca_path)}
    log = (tmp_path / "campaign.log").open("w")
    first = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    try:
        # SIGKILL while the third slot's probe is running (its child has started).
        _wait(state, lambda s: len(s["runs"]) >= 2 and bool(s["current"]) and bool(s["current"]["pid"]),
              "a probe run in progress after two slots")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = _state(state)
        assert killed["current"] is not None, killed  # the kill left a slot half done
        killed_slot = killed["current"]["slot"]

        second = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
        try:
            # Once the restarted campaign has finished a run, the client loses its link for one slot or more.
            _wait(state, lambda s: any(r["slot"] > killed_slot and r["status"] == "done" for r in s["runs"]),
                  "a run after the restart")
            lab.exec(["ip", "link", "set", "c0", "down"], check=True, timeout=10)
            try:
                _wait(state, lambda s: any(r["status"] == "network_down" for r in s["runs"]), "a network_down slot")
            finally:
                lab.exec(["ip", "link", "set", "c0", "up"], check=True, timeout=10)
                lab.exec(["ip", "route", "replace", "198.18.0.0/15", "via", ADDRESSES["isp_client_side"]],
                         check=True, timeout=10)
            second.wait(120)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        assert second.returncode == 0, (tmp_path / "campaign.log").read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        log.close()

    st = _state(state)
    runs = st["runs"]
    assert st["status"] == "finished" and st["current"] is None
    assert [r["slot"] for r in runs] == list(range(RUNS))  # every slot once, none twice
    by_status: dict[str, int] = {}
    for r in runs:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    assert runs[killed_slot]["status"] in ("interrupted", "done"), runs[killed_slot]
    assert by_status.get("network_down", 0) >= 1 and by_status.get("done", 0) >= 4, by_status
    down = next(r for r in runs if r["status"] == "network_down")
    assert "network is down" in down["error"] and down["measurements"] == 0
    con = duckdb.connect(str(store), read_only=True)
    try:
        (total, distinct), = con.execute("SELECT count(*), count(DISTINCT measurement_uid) FROM v_verdicts").fetchall()
        verdicts = dict(con.execute("SELECT input, list(DISTINCT status) FROM v_verdicts GROUP BY input").fetchall())
        per_report = con.execute("SELECT count(*) FROM v_verdicts GROUP BY report_id HAVING count(*) > 2").fetchall()
    finally:
        con.close()
    assert total == distinct == sum(r["measurements"] for r in runs)  # each run's measurements, stored once
    assert total >= 2 * by_status["done"]
    assert per_report == []  # at most one measurement per target and run: no slot was measured twice
    assert verdicts["https://open.lab/"] == ["ok"] and verdicts["https://blocked.lab/"] == ["blocked"], verdicts
