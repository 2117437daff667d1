"""Measurement campaigns: the probe run again and again on a schedule, each run judged into the store.

A schedule can only be measured by measuring on one, for days, through reboots and outages. The campaign keeps
a small state file (docs/formats/campaign-state.md) next to the store: the list, the schedule, the next slot and
every slot's outcome, written atomically before and after each step, so a campaign killed at any point resumes
where it stopped and never runs a slot twice. The clock and the probe runner are injected: the same loop runs
on the wall clock with the real probe, on the censorship lab's clock, or on a fake clock in tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from ayiq.core.errors import AyiqError, InputError

SCHEMA, VERSION = "ayiq.campaign", 1
# Outcomes of a slot. "missed": the campaign was not running during the slot (it is never run late once a
# later slot is due); "network_down": no route to the network when the slot came (retried at the next slot).
DONE, NETWORK_DOWN, FAILED, INTERRUPTED, MISSED = "done", "network_down", "failed", "interrupted", "missed"
OUTCOMES = (DONE, NETWORK_DOWN, FAILED, INTERRUPTED, MISSED)
PROBING, INGESTING = "probing", "ingesting"
# Used only for a route lookup (a UDP connect() sends nothing): a documentation address, reached via the
# default route when there is one.
ROUTE_PROBE_ADDRESS = "198.51.100.1"
STORE_ATTEMPTS, STORE_RETRY_SECONDS = 5, 2.0  # a reader may hold the DuckDB file for a moment
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, name: str) -> float:
    """``15m``, ``90s``, ``2h``, ``1d``, ``1h30m`` or plain seconds -> seconds."""
    text = value.strip().lower()
    if not text:
        raise AyiqError(f"{name} is empty: use e.g. 15m, 90s or 2h")
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in _DURATION_UNITS and number:
            total += float(number) * _DURATION_UNITS[ch]
            number = ""
        else:
            raise AyiqError(f"{name} {value!r} is not a duration: use e.g. 15m, 90s, 2h or 1h30m")
    if number:
        raise AyiqError(f"{name} {value!r}: the last number has no unit (s, m, h or d)")
    return total


# -- clocks ---------------------------------------------------------------------------------------------------


class Clock(Protocol):
    """The campaign's time. ``offset_seconds`` is how far it is from the wall clock (0 for the real one): a
    run's measurements are stamped with the campaign's time, so the lab's shifted days are the days stored."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None: ...

    def offset_seconds(self) -> float: ...


class SystemClock:
    """The wall clock. Sleeps wake at least once a minute, so a suspended laptop or a clock step is noticed."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(min(max(0.0, seconds), 60.0))

    def offset_seconds(self) -> float:
        return 0.0


class LabClock:
    """The censorship lab's clock, moved forward instead of waited for: days of schedule in seconds.

    The censor applies its scheduled rules for the new time before ``sleep`` returns (``Lab.set_clock``).
    """

    def __init__(self, lab: Any) -> None:
        self.lab = lab

    def now(self) -> datetime:
        return self.lab.lab_time()  # type: ignore[no-any-return]

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds > 0 and not stop.is_set():
            self.lab.set_clock(self.now() + timedelta(seconds=seconds))

    def offset_seconds(self) -> float:
        return (self.now() - datetime.now(UTC)).total_seconds()


# -- the schedule ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """Slot i is due at ``start + i * every + jitter_i``, jitter_i drawn in [0, jitter) from a generator seeded
    with (seed, i): the same on every restart, different from slot to slot."""

    start: datetime
    every: float
    jitter: float = 0.0
    seed: int = 0
    until: datetime | None = None
    max_runs: int | None = None

    def due(self, slot: int) -> datetime:
        extra = random.Random(f"{self.seed}:{slot}").uniform(0, self.jitter) if self.jitter else 0.0
        return self.start + timedelta(seconds=slot * self.every + extra)

    def exists(self, slot: int) -> bool:
        if self.max_runs is not None and slot >= self.max_runs:
            return False
        return self.until is None or self.due(slot) <= self.until

    def latest_due(self, now: datetime) -> int:
        """The last slot due at or before ``now`` (-1 if none yet)."""
        if now < self.start:
            return -1
        slot = int((now - self.start).total_seconds() // self.every)
        while slot >= 0 and self.due(slot) > now:
            slot -= 1
        return slot


# -- state ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SlotRecord:
    slot: int
    due: str
    status: str
    started: str | None = None
    finished: str | None = None
    measurements: int = 0
    new_in_store: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    file: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Current:
    """The slot being worked on; if the campaign dies, the next start finishes it from ``phase``."""

    slot: int
    due: str
    phase: str
    started: str
    file: str
    pid: int | None = None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def campaign_dir(store: Path, name: str) -> Path:
    """``<store>.campaigns/<name>/``: state.json, a lock file and the runs' JSONL files."""
    if not name or "/" in name or name.startswith("."):
        raise AyiqError(f"campaign name {name!r}: use letters, digits, '-' or '_'")
    return store.with_name(store.name + ".campaigns") / name


@dataclass
class CampaignState:
    name: str
    store: str
    list_file: str
    list_sha256: str
    schedule: Schedule
    probe_args: list[str]
    created: str
    clock: str = "system"
    status: str = "running"  # running, stopped, finished
    runs: list[SlotRecord] = field(default_factory=list)
    current: Current | None = None

    # -- derived ----------------------------------------------------------------------------------------------

    def next_slot(self) -> int:
        done = max((r.slot for r in self.runs), default=-1)
        if self.current is not None:
            done = max(done, self.current.slot - 1)
        return done + 1

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in OUTCOMES}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    # -- JSON ---------------------------------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        s = self.schedule
        nxt = self.next_slot()
        return {
            "schema": SCHEMA, "version": VERSION, "name": self.name, "store": self.store,
            "list": {"path": self.list_file, "sha256": self.list_sha256},
            "schedule": {"start": _iso(s.start), "every_seconds": s.every, "jitter_seconds": s.jitter,
                         "seed": s.seed, "until": _iso(s.until) if s.until else None, "max_runs": s.max_runs},
            "probe_args": self.probe_args, "clock": self.clock, "created": self.created, "status": self.status,
            "next": ({"slot": nxt, "due": _iso(s.due(nxt))} if s.exists(nxt) else None),
            "counts": self.counts(),
            "current": asdict(self.current) if self.current else None,
            "runs": [asdict(r) for r in self.runs],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any], path: Path) -> CampaignState:
        if obj.get("schema") != SCHEMA:
            raise InputError(path, f"not a campaign state file (schema {obj.get('schema')!r})")
        if obj.get("version") != VERSION:
            raise InputError(path, f"campaign state version {obj.get('version')!r} is not supported (want {VERSION})")
        try:
            sc = obj["schedule"]
            schedule = Schedule(start=_parse_time(sc["start"]), every=float(sc["every_seconds"]),
                                jitter=float(sc["jitter_seconds"]), seed=int(sc["seed"]),
                                until=_parse_time(sc["until"]) if sc.get("until") else None,
                                max_runs=int(sc["max_runs"]) if sc.get("max_runs") is not None else None)
            cur = obj.get("current")
            return cls(name=str(obj["name"]), store=str(obj["store"]), list_file=str(obj["list"]["path"]),
                       list_sha256=str(obj["list"]["sha256"]), schedule=schedule,
                       probe_args=[str(a) for a in obj["probe_args"]], created=str(obj["created"]),
                       clock=str(obj.get("clock", "system")), status=str(obj.get("status", "running")),
                       runs=[SlotRecord(**r) for r in obj["runs"]], current=Current(**cur) if cur else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"broken campaign state: {exc!r}") from exc


def load_state(path: Path) -> CampaignState:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no campaign here (start one with `ayiq net campaign run`)") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the campaign state: {exc.strerror or exc}") from exc
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise InputError(path, f"the campaign state is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InputError(path, "the campaign state is not a JSON object")
    return CampaignState.from_json(obj, path)


def save_state(path: Path, state: CampaignState) -> None:
    """Write atomically and durably: a kill at any instant leaves the old or the new state, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(json.dumps(state.as_json(), indent=1).encode())
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One campaign process per state file (the lock goes with the process, even on SIGKILL)."""
    folder.mkdir(parents=True, exist_ok=True)
    fh: IO[bytes] = (folder / "lock").open("ab")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AyiqError(f"campaign {folder.name!r} is already running (lock {folder / 'lock'})") from None
        yield
    finally:
        fh.close()


# -- probe runners ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ProbeOutcome:
    status: str  # done, network_down, failed, interrupted
    error: str | None = None


class ProbeRunner(Protocol):
    """Measure once, appending OONI-format measurements to ``out``; return when done or when ``stop`` is set.
    ``on_start(pid)`` names a child process, so a restarted campaign can stop one left behind."""

    def __call__(self, out: Path, stop: threading.Event, on_start: Callable[[int], None]) -> ProbeOutcome: ...


def route_exists(address: str, port: int = 53) -> bool:
    """Whether the system has a route to ``address``: a UDP connect() sends no packet, it only looks the route
    up, and fails at once (ENETUNREACH) when the network is down."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((address, port))
        except OSError:
            return False
    return True


def preflight_addresses(probe_args: Sequence[str]) -> list[str]:
    """Addresses whose route tells whether the network is up: --resolver and the --control host (when an IP),
    else the system's first nameserver."""
    import ipaddress
    from urllib.parse import urlsplit

    found: list[str] = []
    args = list(probe_args)
    for i, a in enumerate(args):
        key, eq, val = a.partition("=")
        value = val if eq else (args[i + 1] if i + 1 < len(args) else "")
        if key == "--resolver":
            host = value.strip("[]").rsplit(":", 1)[0] if value.count(":") == 1 or value.startswith("[") else value
            found.append(host.strip("[]"))
        elif key == "--control":
            found.append(urlsplit(value).hostname or "")
    out = []
    for host in found:
        try:
            out.append(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    if not out and "--resolver" not in args:
        # The system's nameserver, unless it is a local stub (127.0.0.53 answers whether the network is up or not):
        # then any address outside this machine tells whether there is a route out at all.
        remote = [a for a in system_nameservers() if not ipaddress.ip_address(a).is_loopback]
        out.extend(remote[:1] or [ROUTE_PROBE_ADDRESS])
    return out


def system_nameservers() -> list[str]:
    """The nameservers the system is configured with (resolv.conf), as the probe's default resolver."""
    import ipaddress

    try:
        import dns.resolver

        names = [str(n) for n in dns.resolver.Resolver(configure=True).nameservers]
    except Exception:  # noqa: BLE001 - no resolv.conf: nothing to check the route to
        return []
    out = []
    for n in names:
        with contextlib.suppress(ValueError):
            out.append(str(ipaddress.ip_address(n)))
    return out


def _die_with_parent() -> None:
    """In the probe child: get SIGINT if the campaign dies (SIGKILL included), so no probe outlives it."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG: the probe keeps what it measured


@dataclass
class SubprocessProbe:
    """Runs ``ayiq net probe --list FILE --output OUT --no-store ARGS`` as a child (a crash or a hang of one run
    cannot take the campaign down); ``prefix`` runs it elsewhere, e.g. ``ip netns exec NS``."""

    list_file: Path
    probe_args: Sequence[str] = ()
    prefix: Sequence[str] = ()
    timeout: float = 3600.0
    check_route: bool = True
    env: dict[str, str] | None = None

    def argv(self, out: Path) -> list[str]:
        return [*self.prefix, sys.executable, "-m", "ayiq.cli.main", "net", "probe", "--list", str(self.list_file),
                "--output", str(out), "--no-store", *self.probe_args]

    def __call__(self, out: Path, stop: threading.Event, on_start: Callable[[int], None]) -> ProbeOutcome:
        if self.check_route:
            addrs = preflight_addresses(self.probe_args)
            if addrs and not any(route_exists(a) for a in addrs):
                return ProbeOutcome(NETWORK_DOWN, f"no route to {', '.join(addrs)}: the network is down")
        env = dict(os.environ, **(self.env or {}))
        err_path = out.with_suffix(".stderr")
        with err_path.open("wb") as err:
            proc = subprocess.Popen(self.argv(out), stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
            on_start(proc.pid)
            deadline = time.monotonic() + self.timeout
            timed_out = False
            while proc.poll() is None:
                if stop.is_set() or time.monotonic() > deadline:
                    timed_out = not stop.is_set()
                    proc.send_signal(signal.SIGINT)  # the probe keeps what it measured and exits
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    break
                time.sleep(0.05)
        tail = err_path.read_text("utf-8", "replace").strip().splitlines()[-3:]
        if stop.is_set():
            return ProbeOutcome(INTERRUPTED, "stopped by a signal")
        if timed_out:
            return ProbeOutcome(FAILED, f"the probe took longer than {self.timeout:.0f} s")
        if proc.returncode == 0:
            err_path.unlink(missing_ok=True)
            return ProbeOutcome(DONE)
        if proc.returncode == 130:
            return ProbeOutcome(INTERRUPTED, " | ".join(tail) or "the probe was interrupted")
        return ProbeOutcome(FAILED, f"the probe exited with {proc.returncode}: {' | '.join(tail)}"[:500])


# -- the loop -------------------------------------------------------------------------------------------------


def keep_whole_lines(path: Path) -> int:
    """Drop a half-written last line (a probe killed mid-write); returns the number of whole lines kept."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    return data.count(b"\n")


def shift_times(path: Path, offset: float) -> None:
    """Stamp a run's measurements with the campaign's clock (the lab's shifted time): measurement and test start
    times move by ``offset`` seconds, and ``annotations.x_clock_offset_seconds`` says by how much."""
    if not offset or not path.is_file():
        return
    fmt = "%Y-%m-%d %H:%M:%S"
    lines = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            m = json.loads(line)
            annotations = m.setdefault("annotations", {})
            if "x_clock_offset_seconds" in annotations:  # shifted already (a resumed slot)
                lines.append(line)
                continue
            for key in ("measurement_start_time", "test_start_time"):
                if isinstance(m.get(key), str):
                    t = datetime.strptime(m[key], fmt).replace(tzinfo=UTC) + timedelta(seconds=offset)
                    m[key] = t.strftime(fmt)
            annotations["x_clock_offset_seconds"] = str(round(offset, 3))
        except (ValueError, TypeError, AttributeError):  # not a measurement: left as it is, ingest says why
            lines.append(line)
            continue
        lines.append(json.dumps(m, separators=(",", ":")).encode())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(b"".join(line + b"\n" for line in lines))
    tmp.replace(path)


IngestFn = Callable[[Path, Path], tuple[int, int, dict[str, int], list[str]]]


def ingest_run(store: Path, file: Path) -> tuple[int, int, dict[str, int], list[str]]:
    """Judge one run's measurements into the store, like `ayiq net ingest` (idempotent by file and by uid)."""
    from ayiq.net.ingest import ingest

    rep = ingest([file], store=store, executor="serial")
    return rep.records, rep.new_records, dict(rep.statuses), list(rep.errors)


def _alive_child(pid: int, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@dataclass
class Campaign:
    """One campaign: its folder (state + runs), its store, a clock and a probe runner."""

    folder: Path
    store: Path
    clock: Clock
    probe: ProbeRunner
    ingest: IngestFn = ingest_run
    log: Callable[[str], None] = lambda _msg: None
    state: CampaignState | None = None

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    @property
    def runs_dir(self) -> Path:
        return self.folder / "runs"

    def _save(self) -> None:
        assert self.state is not None
        save_state(self.state_path, self.state)

    def open(self, *, name: str, list_file: Path, every: float, jitter: float = 0.0, seed: int | None = None,
             until: datetime | None = None, max_runs: int | None = None, probe_args: Sequence[str] = (),
             clock_name: str = "system") -> CampaignState:
        """Resume the campaign in ``folder`` or create it; a resumed campaign must be the same campaign."""
        if every <= 0:
            raise AyiqError("--every must be longer than 0 s")
        if jitter < 0 or jitter >= every:
            raise AyiqError(f"--jitter must be at least 0 and shorter than --every ({every:.0f} s)")
        if not list_file.is_file():
            raise InputError(list_file, "the test list does not exist")
        digest = sha256_file(list_file)
        if self.state_path.exists():
            st = load_state(self.state_path)
            sc = st.schedule
            mismatch = [what for what, old, new in (
                ("--list", st.list_file, str(list_file.resolve())), ("--every", sc.every, every),
                ("--jitter", sc.jitter, jitter), ("probe options", st.probe_args, list(probe_args)),
                ("--seed", sc.seed, sc.seed if seed is None else seed))
                if old != new]
            if mismatch:
                raise InputError(self.state_path, f"campaign {st.name!r} exists with other {', '.join(mismatch)}; "
                                 "run it as it was, or start another with --name")
            if st.list_sha256 != digest:
                self.log(f"the test list {list_file} changed since the last run: the new one is used")
                st.list_sha256 = digest
            # --until / --runs may be changed on resume (to extend or shorten the campaign).
            st.schedule = Schedule(sc.start, sc.every, sc.jitter, sc.seed,
                                   until if until is not None else sc.until,
                                   max_runs if max_runs is not None else sc.max_runs)
            st.status = "running"
        else:
            now = self.clock.now()
            st = CampaignState(
                name=name, store=str(self.store.resolve()), list_file=str(list_file.resolve()), list_sha256=digest,
                schedule=Schedule(now, every, jitter, seed if seed is not None else random.SystemRandom().randrange(2**31),
                                  until, max_runs),
                probe_args=list(probe_args), created=_iso(datetime.now(UTC)), clock=clock_name)
        self.state = st
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._save()
        return st

    def run(self, stop: threading.Event | None = None) -> CampaignState:
        """Run due slots until the schedule ends or ``stop`` is set. Returns the final state."""
        stop = stop or threading.Event()
        st = self.state
        if st is None:
            raise AyiqError("open the campaign first")
        if st.current is not None:
            self._recover(st.current)
        sc = st.schedule
        while not stop.is_set():
            nxt = st.next_slot()
            if not sc.exists(nxt):
                st.status = "finished"
                break
            now = self.clock.now()
            latest = sc.latest_due(now)
            if latest < nxt:
                self.clock.sleep((sc.due(nxt) - now).total_seconds(), stop)
                continue
            # Slots whose time passed while the campaign was not running are recorded as missed, not run late.
            last = latest
            while not sc.exists(last):
                last -= 1
            for slot in range(nxt, last):
                st.runs.append(SlotRecord(slot, _iso(sc.due(slot)), MISSED))
            if last > nxt:
                self.log(f"slots {nxt}-{last - 1} were missed while the campaign was not running")
            self._run_slot(last, stop)
        else:
            st.status = "stopped"
        if st.status != "finished" and not sc.exists(st.next_slot()):
            st.status = "finished"
        self._save()
        return st

    def _run_slot(self, slot: int, stop: threading.Event) -> None:
        st = self.state
        assert st is not None
        due = st.schedule.due(slot)
        out = self.runs_dir / f"slot-{slot:06d}.jsonl"
        out.unlink(missing_ok=True)
        st.current = Current(slot, _iso(due), PROBING, _iso(self.clock.now()), str(out))
        self._save()
        self.log(f"slot {slot} (due {_iso(due)}): probing")

        def on_start(pid: int) -> None:
            assert st.current is not None
            st.current.pid = pid
            self._save()

        try:
            outcome = self.probe(out, stop, on_start)
        except Exception as exc:  # noqa: BLE001 - one broken run must never end the campaign
            outcome = ProbeOutcome(FAILED, f"{type(exc).__name__}: {exc}"[:500])
        self._finish(outcome)

    def _finish(self, outcome: ProbeOutcome) -> None:
        st = self.state
        assert st is not None and st.current is not None
        cur = st.current
        out = Path(cur.file)
        rec = SlotRecord(cur.slot, cur.due, outcome.status, cur.started, None, error=outcome.error)
        lines = keep_whole_lines(out)
        if lines:
            if cur.phase == PROBING:
                shift_times(out, self.clock.offset_seconds())
                cur.phase, cur.pid = INGESTING, None
                self._save()
            rec.measurements = lines
            rec.file = str(out.relative_to(self.folder)) if out.is_relative_to(self.folder) else str(out)
            for attempt in range(STORE_ATTEMPTS):
                try:
                    _n, new, statuses, errors = self.ingest(self.store, out)
                    rec.new_in_store, rec.verdicts = new, statuses
                    if errors:
                        rec.error = "; ".join(errors)[:500]
                    break
                except Exception as exc:  # noqa: BLE001 - e.g. another process holds the DuckDB file
                    if attempt + 1 < STORE_ATTEMPTS:
                        time.sleep(STORE_RETRY_SECONDS)
                        continue
                    rec.status = FAILED
                    rec.error = (f"could not store the measurements ({exc}); they are kept in {out}: "
                                 f"`ayiq net ingest {out}` stores them")[:500]
        rec.finished = _iso(self.clock.now())
        st.runs.append(rec)
        st.current = None
        self._save()
        self.log(f"slot {rec.slot}: {rec.status}" + (f", {rec.measurements} measurements ({rec.new_in_store} new)"
                                                     if rec.measurements else "")
                 + (f" — {rec.error}" if rec.error else ""))

    def _recover(self, cur: Current) -> None:
        """The campaign died inside a slot. Stop a probe it left behind, keep what it measured (never measure
        the slot again), and finish storing it."""
        if cur.pid and _alive_child(cur.pid, cur.file):
            with contextlib.suppress(ProcessLookupError):
                os.kill(cur.pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while _alive_child(cur.pid, cur.file) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive_child(cur.pid, cur.file):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(cur.pid, signal.SIGKILL)
        status = DONE if cur.phase == INGESTING else INTERRUPTED
        self.log(f"slot {cur.slot} was cut short by the last stop ({cur.phase}): keeping what it measured")
        self._finish(ProbeOutcome(status, None if status == DONE else "the campaign stopped during this run"))


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``: the current run keeps what it measured, the state is saved, and the
    loop ends. Handlers are restored afterwards."""
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    for sig in old:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


__all__ = ["Campaign", "CampaignState", "LabClock", "ProbeOutcome", "Schedule", "SubprocessProbe", "SystemClock",
           "campaign_dir", "load_state", "parse_duration", "stop_on_signals"]
