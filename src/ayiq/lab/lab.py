"""Bring the censorship lab up and down: namespaces, links, servers, the censor, and the run's state file.

Every namespace, process and file of a run carries its id (``ayiq-<8 hex>-``) and is removed by exactly
that name or pid. No link ever touches the host's own namespace: the lab is unreachable from it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ayiq.core.errors import AyiqError
from ayiq.core.paths import data_dir
from ayiq.lab.pki import make_lab_pki
from ayiq.lab.scenario import Scenario, load_scenario

STATE_SCHEMA, STATE_VERSION = "lab-state", 1
HOSTS = ("client", "isp", "inet", "control")
# Fixed addressing inside the lab (198.18.0.0/15 is the benchmark range; nothing here leaves the lab).
ADDRESSES = {
    "client": "198.18.1.2",
    "isp_client_side": "198.18.1.1",
    "isp_inet_side": "198.18.2.1",
    "inet": "198.18.2.2",
    "inet_control_side": "198.19.0.1",
    "control": "198.19.0.2",
    "resolver": "198.18.53.53",
}
# The opt-in "routable" plan (scenario ``addressing = "routable"``): the same layout mirrored into 11.18.0.0/15,
# which tools with a bogon list (OONI Probe) accept as public. Still lab-only: no namespace has a route out.
ROUTABLE_ADDRESSES = {k: "11." + v.removeprefix("198.") for k, v in ADDRESSES.items()}
# addressing -> (host addresses, the lab's whole prefix, the client's subnet)
PLANS = {"benchmark": (ADDRESSES, "198.18.0.0/15", "198.18.1.0/24"),
         "routable": (ROUTABLE_ADDRESSES, "11.18.0.0/15", "11.18.1.0/24")}
READY_TIMEOUT = 20.0


class LabError(AyiqError):
    """The lab cannot be brought up, found or used."""


class LabUnavailable(LabError):
    """This machine cannot run the lab at all: not Linux, not root, or no network namespaces."""


class LabSetupMissing(LabError):
    """The machine could run the lab but a tool or package it needs is not installed."""


def check_support() -> None:
    """Raise LabUnavailable (cannot run here) or LabSetupMissing (install something) with the reason."""
    if sys.platform != "linux":
        raise LabUnavailable("the lab needs Linux network namespaces")
    if os.geteuid() != 0:
        raise LabUnavailable("the lab needs root (network namespaces, nftables, tc); run it with sudo")
    if shutil.which("ip") is None:
        raise LabSetupMissing("the `ip` tool (iproute2) is missing; run `make system-deps` as root")
    probe = f"ayiq-{secrets.token_hex(4)}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        raise LabUnavailable(f"network namespaces are not supported here: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    missing = [tool for tool in ("nft", "iptables", "tc") if shutil.which(tool) is None]
    if missing:
        raise LabSetupMissing(f"missing tools: {', '.join(missing)}; run `make system-deps` as root")


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def labs_root() -> Path:
    root = data_dir() / "lab"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class Lab:
    """A running lab. Use ``with Lab.up("all-techniques") as lab: lab.exec([...])``."""

    run_id: str
    state_dir: Path
    scenario: Scenario
    pids: dict[str, int]
    started: float
    up_seconds: float = 0.0

    # -- names and addresses ------------------------------------------------------------------------------

    def ns(self, host: str) -> str:
        if host not in HOSTS:
            raise LabError(f"unknown lab host {host!r}; hosts are {', '.join(HOSTS)}")
        return f"ayiq-{self.run_id}-{host}"

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(h) for h in HOSTS]

    @property
    def client_ns(self) -> str:
        return self.ns("client")

    @property
    def control_ns(self) -> str:
        return self.ns("control")

    @property
    def addresses(self) -> dict[str, str]:
        """Lab hosts and every target name -> IPv4 address."""
        out = dict(self.host_addresses)
        out.update({t.name: t.address for t in self.scenario.targets})
        return out

    @property
    def host_addresses(self) -> dict[str, str]:
        """The lab hosts' addresses in this lab's plan (``ADDRESSES`` unless the scenario says otherwise)."""
        return PLANS[self.scenario.addressing][0]

    @property
    def prefix(self) -> str:
        """The lab's whole address range in this lab's plan: 198.18.0.0/15, or 11.18.0.0/15 when routable."""
        return PLANS[self.scenario.addressing][1]

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    # -- bringing it up -----------------------------------------------------------------------------------

    @classmethod
    def up(cls, scenario: Scenario | str | Path = "baseline", *, clock: dt.datetime | None = None,
           clock_offset: float | None = None) -> Lab:
        """Build the namespaces, start the servers and the censor; ready when this returns."""
        check_support()
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        t0 = time.monotonic()
        run_id = secrets.token_hex(4)
        state_dir = labs_root() / run_id
        state_dir.mkdir(parents=True)
        lab = cls(run_id, state_dir, scenario, {}, time.time())
        lab._write_state("starting")
        try:
            lab._build_topology()
            # An explicit clock or offset wins over the scenario's clock; none of them: real time.
            when = clock if clock is not None else (scenario.clock if clock_offset is None else None)
            offset = clock_offset or 0.0
            if when is not None:
                offset = (when - dt.datetime.now(dt.UTC)).total_seconds()
            lab._write_clock(offset, 0)
            lab._start_processes()
            lab.up_seconds = time.monotonic() - t0
            lab._write_state("up")
        except BaseException:
            lab.down()
            raise
        return lab

    def _build_topology(self) -> None:
        for host in HOSTS:
            _ip("netns", "add", self.ns(host))
            self._write_state("starting")  # record each namespace as soon as it exists
        client, isp, inet, control = (self.ns(h) for h in HOSTS)
        # veth pairs are created directly inside the lab namespaces: no end ever exists in the host's one.
        _ip("link", "add", "c0", "netns", client, "type", "veth", "peer", "name", "i0", "netns", isp)
        _ip("link", "add", "i1", "netns", isp, "type", "veth", "peer", "name", "n0", "netns", inet)
        _ip("link", "add", "n1", "netns", inet, "type", "veth", "peer", "name", "k0", "netns", control)
        a, prefix, client_net = PLANS[self.scenario.addressing]
        for ns, dev, addr in ((client, "c0", a["client"]), (isp, "i0", a["isp_client_side"]),
                              (isp, "i1", a["isp_inet_side"]), (inet, "n0", a["inet"]),
                              (inet, "n1", a["inet_control_side"]), (control, "k0", a["control"])):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            # Wire-sized packets (no 64 KB GSO bursts) so the censor's queues behave as on a real link.
            _ip("-n", ns, "link", "set", dev, "gso_max_segs", "1", "up")
        for ns in self.namespaces:
            _ip("-n", ns, "link", "set", "lo", "up")
            self._sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        for ns in (isp, inet):
            self._sysctl(ns, "net.ipv4.ip_forward", "1")
        # Only lab prefixes are routed; no namespace has a default route.
        _ip("-n", client, "route", "add", prefix, "via", a["isp_client_side"])
        _ip("-n", isp, "route", "add", prefix, "via", a["inet"])
        _ip("-n", inet, "route", "add", client_net, "via", a["isp_inet_side"])
        _ip("-n", control, "route", "add", prefix, "via", a["inet_control_side"])
        _ip("-n", inet, "addr", "add", f"{a['resolver']}/32", "dev", "lo")
        for t in self.scenario.targets:
            _ip("-n", inet, "addr", "add", f"{t.address}/32", "dev", "lo")
        for host in ("client", "control"):
            etc = Path("/etc/netns") / self.ns(host)
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(f"# Ayiq lab {self.run_id}\nnameserver {a['resolver']}\n")

    @staticmethod
    def _sysctl(ns: str, key: str, value: str) -> None:
        done = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"],
                              capture_output=True, text=True)
        if done.returncode != 0 and "ipv6" not in key:
            raise LabError(f"sysctl {key} in {ns}: {done.stderr.strip()}")

    def _start_processes(self) -> None:
        names = [t.name for t in self.scenario.targets]
        _, cert, key = make_lab_pki(self.state_dir, self.run_id, names + ["control.lab"],
                                    [t.address for t in self.scenario.targets])
        zone = {t.name: t.address for t in self.scenario.targets}
        zone["control.lab"] = self.host_addresses["control"]
        inet_cfg = {"targets": [{"name": t.name, "kind": t.kind, "address": t.address,
                                 "tcp_ports": list(t.tcp_ports), "udp_ports": list(t.udp_ports)}
                                for t in self.scenario.targets],
                    "zone": zone, "resolver": self.host_addresses["resolver"], "cert": str(cert), "key": str(key)}
        (self.state_dir / "inet.json").write_text(json.dumps(inet_cfg), "utf-8")
        (self.state_dir / "censor.json").write_text(json.dumps(
            {"run_id": self.run_id, "source": self.scenario.source, "scenario": self.scenario.raw},
            default=str), "utf-8")
        procs = {
            "inet": self._spawn("inet", ["-m", "ayiq.lab.inet", str(self.state_dir / "inet.json")]),
            "censor": self._spawn("isp", ["-m", "ayiq.lab.censor", str(self.state_dir)]),
        }
        self.pids = {k: p.pid for k, p in procs.items()}
        self._write_state("starting")
        deadline = time.monotonic() + READY_TIMEOUT
        for role, proc in procs.items():
            assert proc.stdout is not None
            while True:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
                line = proc.stdout.readline() if ready else b""
                if line.strip() == b"ready":
                    break
                if not ready or not line:
                    log = (self.state_dir / f"{role}.log").read_text("utf-8", "replace")[-600:]
                    raise LabError(f"the lab's {role} process did not start: {log.strip() or 'no output'}")
            proc.stdout.close()

    def _spawn(self, host: str, args: list[str]) -> subprocess.Popen[bytes]:
        role = "censor" if host == "isp" else host
        log = (self.state_dir / f"{role}.log").open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        return subprocess.Popen(["ip", "netns", "exec", self.ns(host), sys.executable, *args],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)

    # -- state ---------------------------------------------------------------------------------------------

    def _write_state(self, phase: str) -> None:
        state = {
            "schema": STATE_SCHEMA, "version": STATE_VERSION, "run_id": self.run_id, "phase": phase,
            "started": dt.datetime.fromtimestamp(self.started, dt.UTC).isoformat(),
            "up_seconds": round(self.up_seconds, 3),
            "scenario": {"name": self.scenario.name, "source": self.scenario.source},
            "namespaces": {h: self.ns(h) for h in HOSTS}, "pids": self.pids,
            "addresses": self.addresses, "ca": str(self.ca_path),
            "etc_netns": [str(Path("/etc/netns") / self.ns(h)) for h in ("client", "control")],
        }
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2), "utf-8")
        tmp.replace(self.state_dir / "state.json")

    def _write_clock(self, offset: float, generation: int) -> None:
        tmp = self.state_dir / "clock.json.tmp"
        tmp.write_text(json.dumps({"schema": "lab-clock", "version": 1, "offset_seconds": offset,
                                   "generation": generation}), "utf-8")
        tmp.replace(self.state_dir / "clock.json")

    @classmethod
    def attach(cls, run_id: str | None = None) -> Lab:
        """The running lab with this id, or the only one running."""
        root = labs_root()
        ids = sorted(p.parent.name for p in root.glob("*/state.json"))
        if run_id is None:
            if not ids:
                raise LabError("no lab is up; start one with `ayiq lab up`")
            if len(ids) > 1:
                raise LabError(f"several labs are up ({', '.join(ids)}); pick one with --id")
            run_id = ids[0]
        path = root / run_id / "state.json"
        if not path.is_file():
            raise LabError(f"no lab with id {run_id!r} (running: {', '.join(ids) or 'none'})")
        state = json.loads(path.read_text("utf-8"))
        cfg = json.loads((root / run_id / "censor.json").read_text("utf-8")) if (
            root / run_id / "censor.json").is_file() else None
        from ayiq.lab.scenario import scenario_from_dict

        scenario = (scenario_from_dict(cfg["scenario"], cfg.get("source", "")) if cfg
                    else load_scenario(state["scenario"]["source"].removeprefix("builtin:")))
        lab = cls(run_id, root / run_id, scenario, {k: int(v) for k, v in state["pids"].items()},
                  dt.datetime.fromisoformat(state["started"]).timestamp(), float(state.get("up_seconds", 0)))
        return lab

    # -- using it ------------------------------------------------------------------------------------------

    def command(self, cmd: Sequence[str], host: str = "client") -> list[str]:
        """The argv that runs ``cmd`` inside a lab host (for Popen or asyncio subprocesses)."""
        return ["ip", "netns", "exec", self.ns(host), *cmd]

    def exec(self, cmd: Sequence[str], host: str = "client", *, timeout: float | None = 60,
             check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command on a lab host (the client by default) and wait for it; output captured as text."""
        kwargs.setdefault("capture_output", True)
        env = dict(os.environ, AYIQ_LAB_ID=self.run_id, AYIQ_LAB_CA=str(self.ca_path))
        env.update(kwargs.pop("env", {}) or {})
        return subprocess.run(self.command(cmd, host), text=True, timeout=timeout, check=check, env=env,
                              **kwargs)

    def lab_time(self) -> dt.datetime:
        from ayiq.lab.censor import lab_now

        return lab_now(self.state_dir)[0]

    def set_clock(self, when: dt.datetime, *, timeout: float = 5.0) -> None:
        """Shift the lab clock to ``when``; returns once the censor has applied its rules for that time."""
        if when.tzinfo is None:
            raise LabError("the lab clock needs an aware datetime (with a UTC offset)")
        clock = json.loads((self.state_dir / "clock.json").read_text("utf-8"))
        generation = int(clock.get("generation", 0)) + 1
        self._write_clock((when - dt.datetime.now(dt.UTC)).total_seconds(), generation)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.censor_status().get("generation") == generation:
                return
            time.sleep(0.02)
        raise LabError("the censor did not take the new clock within the timeout")

    def censor_status(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state_dir / "censor-status.json").read_text("utf-8")))
        except (OSError, ValueError):
            return {}

    def censor_events(self) -> list[dict[str, Any]]:
        path = self.state_dir / "censor-events.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]

    def throttle_stats(self) -> dict[str, dict[str, int]]:
        """Per throttled target, its queue's counters on the link towards the client (ground truth for
        throttling tests): bytes and packets sent, packets dropped (a policer drops, a shaper queues)."""
        done = self.exec(["tc", "-s", "-j", "qdisc", "show", "dev", "i0"], host="isp", timeout=10)
        by_class = {q.get("parent"): q for q in json.loads(done.stdout or "[]")}
        throttled = [t for t in self.scenario.targets if t.throttle_bps]
        out: dict[str, dict[str, int]] = {}
        for i, t in enumerate(throttled):
            q = by_class.get(f"1:{0x10 + i:x}", {})
            out[t.name] = {"bytes": int(q.get("bytes", 0)), "packets": int(q.get("packets", 0)),
                           "drops": int(q.get("drops", 0))}
        return out

    def status(self) -> dict[str, Any]:
        present = set(_netns_list())
        return {
            "run_id": self.run_id, "scenario": self.scenario.name,
            "namespaces": {ns: ns in present for ns in self.namespaces},
            "processes": {role: _alive(pid, self.run_id) for role, pid in self.pids.items()},
            "censor": self.censor_status(),
        }

    # -- taking it down ------------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop this run's processes and delete its namespaces and files, by exact name/pid; returns problems."""
        problems: list[str] = []
        for role, pid in self.pids.items():
            if _alive(pid, self.run_id):
                _terminate(pid)
                if _alive(pid, self.run_id):
                    problems.append(f"{role} process {pid} did not stop")
        present = set(_netns_list())
        for ns in self.namespaces:
            if ns not in present:
                continue
            # Anything still running inside our namespace (e.g. a command started with `lab exec`).
            listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for word in listed.stdout.split():
                if word.isdigit():
                    _terminate(int(word))
            done = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if done.returncode != 0:
                problems.append(f"{ns}: {done.stderr.strip()}")
        for host in ("client", "control"):
            etc = Path("/etc/netns") / self.ns(host)
            if etc.is_dir():
                shutil.rmtree(etc, ignore_errors=True)
        if self.state_dir.is_dir() and self.state_dir.parent == labs_root():
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return problems

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()


def _netns_list() -> list[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def _alive(pid: int, run_id: str) -> bool:
    """True if ``pid`` is running and is ours (its command line names this run), so reuse is not hit."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return run_id.encode() in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z"


def _terminate(pid: int, grace: float = 3.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                waited, _ = os.waitpid(pid, os.WNOHANG)
                if waited == pid:
                    return
            except ChildProcessError:
                if not Path(f"/proc/{pid}").exists():
                    return
                stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
                if not stat or stat.rsplit(")", 1)[1].split()[0] == "Z":
                    return
            time.sleep(0.02)
