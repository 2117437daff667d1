"""`lab up` is quick, `lab down` leaves nothing behind, and the lab cannot reach or be reached from the host."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ayiq.lab import ADDRESSES, HOSTS, Lab, LabUnavailable, check_support

CLIENTS = Path(__file__).with_name("clients.py")
AYIQ = Path(sys.executable).with_name("ayiq")


def _host_view() -> dict[str, str]:
    """What the host's own namespace looks like: links, addresses, routes, rules, qdiscs, namespaces."""
    def out(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    return {"links": out("ip", "-o", "link"), "addrs": out("ip", "-o", "addr"), "routes": out("ip", "route"),
            "nft": out("nft", "list", "ruleset"), "qdiscs": out("tc", "qdisc", "show"),
            "etc_netns": " ".join(sorted(os.listdir("/etc/netns"))) if os.path.isdir("/etc/netns") else ""}


def _netns() -> list[str]:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()


@pytest.mark.root
def test_up_is_fast_and_down_leaves_nothing(lab_support: None, lab_home: Path) -> None:
    before = _host_view()
    t0 = time.monotonic()
    lab = Lab.up("baseline")
    try:
        up_seconds = time.monotonic() - t0
        print(f"lab up in {up_seconds:.2f} s")
        assert up_seconds < 15
        assert all(ns in _netns() for ns in lab.namespaces)
        # The censor's rules and qdiscs exist inside the lab (and must go with it).
        rules = lab.exec(["nft", "list", "table", "inet", f"ayiq_{lab.run_id}"], host="isp")
        assert rules.returncode == 0 and "blackhole" in rules.stdout
        assert "htb" in lab.exec(["tc", "qdisc", "show", "dev", "i0"], host="isp").stdout
        assert "NFQUEUE" in lab.exec(["iptables", "-S", "FORWARD"], host="isp").stdout
        # Something left running inside the client host must be stopped by down() as well.
        stray = subprocess.Popen(lab.command(["sleep", "60"]), start_new_session=True)
        pids = [*lab.pids.values(), stray.pid]
        assert all(Path(f"/proc/{p}").exists() for p in pids)
    finally:
        problems = lab.down()
    stray.wait(timeout=5)
    assert problems == []
    assert not [ns for ns in _netns() if ns.startswith(f"ayiq-{lab.run_id}-")]
    for pid in lab.pids.values():
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not lab.state_dir.exists()
    assert _host_view() == before  # no link, address, route, nft rule, qdisc or /etc/netns entry left


@pytest.mark.root
def test_cli_up_status_exec_down(lab_support: None, lab_home: Path) -> None:
    env = dict(os.environ, AYIQ_HOME=str(lab_home / "cli"))

    def ayiq(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AYIQ), "lab", *args], capture_output=True, text=True, env=env, timeout=60)

    up = ayiq("up", "--scenario", "dns-tampering", "--clock-offset", "+3h")
    assert up.returncode == 0, up.stderr
    status = json.loads(ayiq("status", "--json").stdout)
    run_id = status["run_id"]
    try:
        assert all(status["namespaces"].values()) and all(status["processes"].values())
        lab_time = dt.datetime.fromisoformat(status["censor"]["lab_time"])
        shift = (lab_time - dt.datetime.now(dt.UTC)).total_seconds()
        assert abs(shift - 3 * 3600) < 60, shift  # --clock-offset +3h
        done = ayiq("exec", "--", sys.executable, str(CLIENTS),
                    json.dumps({"op": "dns", "name": "loop.lab", "resolver": ADDRESSES["resolver"],
                                "listen": 0.5}))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["answers"][0]["ips"] == ["127.0.0.1"]
        assert ayiq("exec", "--", "sh", "-c", "exit 7").returncode == 7
        assert ayiq("status").returncode == 0
    finally:
        down = ayiq("down")
    assert down.returncode == 0, down.stderr
    assert not [ns for ns in _netns() if ns.startswith(f"ayiq-{run_id}-")]
    gone = ayiq("status")
    assert gone.returncode == 2 and "no lab is up" in gone.stderr


@pytest.mark.root
def test_lab_is_isolated_from_the_host(lab: Lab) -> None:
    host = _host_view()
    lab_prefixes = ("198.18.", "198.19.")
    assert not any(p in host["addrs"] for p in lab_prefixes), "a lab address is on a host interface"
    assert not any(p in host["routes"] for p in lab_prefixes), "the host has a route into the lab"
    # No host link has its peer inside a lab namespace.
    assert f"ayiq-{lab.run_id}-" not in subprocess.run(["ip", "-d", "-o", "link"], capture_output=True,
                                                        text=True).stdout
    lab_ns = set(lab.namespaces)
    for ns in lab.namespaces:
        links = subprocess.run(["ip", "-n", ns, "-d", "-o", "link"], capture_output=True, text=True).stdout
        for line in links.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name == "lo":
                continue
            assert " veth " in line, f"{ns} has a non-veth link: {line}"
            peer_ns = line.split("link-netns ", 1)[1].split()[0] if "link-netns " in line else None
            assert peer_ns in lab_ns, f"{ns}/{name} is joined to {peer_ns or 'an unnamed (host?) namespace'}"
        routes = subprocess.run(["ip", "-n", ns, "route"], capture_output=True, text=True).stdout
        assert "default" not in routes
    # From every lab host, an address outside the lab has no route: the send fails before any packet leaves.
    for h in HOSTS:
        done = lab.exec([sys.executable, str(CLIENTS), json.dumps({"op": "connect_out", "ip": "192.0.2.1"})],
                        host=h)
        assert json.loads(done.stdout)["outcome"] == "unreachable", (h, done.stdout, done.stderr)


def test_not_root_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabUnavailable, match="needs root"):
        check_support()


@pytest.mark.root
@pytest.mark.parametrize("name", ["baseline", "az-2020", "dns-tampering"])
def test_builtin_scenarios_come_up(lab_support: None, lab_home: Path, name: str) -> None:
    with Lab.up(name) as lab:
        status = lab.status()
        assert all(status["namespaces"].values()) and all(status["processes"].values())
        if lab.scenario.clock is not None:  # the scenario's clock is the lab's clock
            assert abs((lab.lab_time() - lab.scenario.clock).total_seconds()) < 30
        assert set(status["censor"]["active"]) <= {t.name for t in lab.scenario.targets}
    assert not [ns for ns in _netns() if ns.startswith(f"ayiq-{lab.run_id}-")]
