"""The campaign loop on a fake clock: schedule, jitter, resume after a stop or a crash at every step, missed
slots, network loss, --until. Runs take no real time; measurements are real OONI-format records, ingested and
judged into a real DuckDB file."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from ayiq.core.errors import AyiqError, InputError
from ayiq.net.campaign import (
    DONE,
    FAILED,
    INTERRUPTED,
    MISSED,
    NETWORK_DOWN,
    Campaign,
    ProbeOutcome,
    Schedule,
    campaign_dir,
    ingest_run,
    load_state,
    locked,
    parse_duration,
)
from ayiq.net.synth import DEFAULT_TARGETS, measurement

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday
TARGETS = DEFAULT_TARGETS[:3]


class FakeClock:
    """Time moves only when the campaign sleeps (or a test moves it)."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.sleeps.append(seconds)
        self.t += timedelta(seconds=max(0.0, seconds))

    def offset_seconds(self) -> float:
        return 0.0


class RecordingProbe:
    """Writes one real web_connectivity measurement per target, stamped with the fake clock's time.
    ``plan[call] `` changes what a call does: "down", "crash", "error", "die-after-writing", "stop"."""

    def __init__(self, clock: FakeClock, plan: dict[int, str] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.clock, self.plan, self.stop = clock, plan or {}, stop
        self.calls: list[datetime] = []
        self.rng = random.Random(5)

    def write(self, out: Path, count: int) -> None:
        with out.open("ab") as fh:
            for target in TARGETS[:count]:
                fh.write(orjson.dumps(measurement(target, self.clock.now(), "AZ", "AS29049", self.rng)) + b"\n")

    def __call__(self, out: Path, stop: threading.Event, on_start: Callable[[int], None]) -> ProbeOutcome:
        call = len(self.calls)
        self.calls.append(self.clock.now())
        what = self.plan.get(call)
        if what == "down":
            return ProbeOutcome(NETWORK_DOWN, "no route to 198.18.53.53: the network is down")
        if what == "error":
            raise OSError("the probe could not start")
        if what == "die-after-writing":  # the campaign process dies mid-run: a half-written last line
            self.write(out, 2)
            with out.open("ab") as fh:
                fh.write(b'{"test_name": "web_conn')
            raise SystemExit("killed")
        self.write(out, len(TARGETS))
        if what == "stop":
            assert self.stop is not None
            self.stop.set()
        return ProbeOutcome(DONE)


def make(tmp_path: Path, clock: FakeClock, probe: RecordingProbe, **kw: object) -> Campaign:
    store = tmp_path / "ayiq.duckdb"
    camp = Campaign(campaign_dir(store, "test"), store, clock, probe, **kw)  # type: ignore[arg-type]
    return camp


def open_(camp: Campaign, tmp_path: Path, **kw: object) -> None:
    lst = tmp_path / "list.csv"
    if not lst.exists():
        lst.write_text("url,category_code\n" + "".join(f"{t.url},NEWS\n" for t in TARGETS))
    args: dict[str, object] = {"name": "test", "list_file": lst, "every": 900.0, "jitter": 180.0, "seed": 11,
                               "max_runs": 5}
    args.update(kw)
    camp.open(**args)  # type: ignore[arg-type]


def store_uids(tmp_path: Path) -> tuple[int, int]:
    con = duckdb.connect(str(tmp_path / "ayiq.duckdb"), read_only=True)
    try:
        (total, distinct), = con.execute("SELECT count(*), count(DISTINCT measurement_uid) FROM v_verdicts").fetchall()
    finally:
        con.close()
    return int(total), int(distinct)


def test_parse_duration() -> None:
    assert parse_duration("15m", "--every") == 900
    assert parse_duration("1h30m", "--every") == 5400
    assert parse_duration("2.5", "--every") == 2.5
    for bad in ("", "15x", "m", "15m3"):
        with pytest.raises(AyiqError, match="--every"):
            parse_duration(bad, "--every")


def test_slots_follow_the_schedule_with_seeded_jitter_and_land_in_the_store(tmp_path: Path) -> None:
    clock = FakeClock()
    probe = RecordingProbe(clock)
    camp = make(tmp_path, clock, probe)
    open_(camp, tmp_path)
    st = camp.run()
    assert st.status == "finished"
    assert [r.slot for r in st.runs] == [0, 1, 2, 3, 4] and {r.status for r in st.runs} == {DONE}
    sched = Schedule(START, 900, 180, 11, None, 5)
    dues = [sched.due(i) for i in range(5)]
    assert probe.calls == dues  # each run starts exactly when its slot is due
    offsets = [(d - START).total_seconds() - 900 * i for i, d in enumerate(dues)]
    assert all(0 <= o < 180 for o in offsets) and len(set(offsets)) == 5  # jitter in [0, 3m), slot by slot
    assert Schedule(START, 900, 180, 12).due(1) != dues[1]  # the seed matters ...
    assert Schedule(START, 900, 180, 11).due(3) == dues[3]  # ... and is all that matters
    total, distinct = store_uids(tmp_path)
    assert total == distinct == 5 * len(TARGETS)
    assert sum(r.measurements for r in st.runs) == sum(r.new_in_store for r in st.runs) == 15
    # judged like `ayiq net ingest`: the generator's techniques give their known verdicts
    assert st.runs[0].verdicts == {"blocked": 1, "ok": 2}  # azadliq.org cut; meydan.tv not yet; no jam at 10:00
    on_disk = json.loads(camp.state_path.read_text())
    assert on_disk["schema"] == "ayiq.campaign" and on_disk["next"] is None and on_disk["counts"]["done"] == 5


def test_a_stopped_campaign_resumes_at_the_next_slot_and_never_repeats_one(tmp_path: Path) -> None:
    clock = FakeClock()
    stop = threading.Event()
    probe = RecordingProbe(clock, {2: "stop"}, stop)
    camp = make(tmp_path, clock, probe)
    open_(camp, tmp_path)
    st = camp.run(stop)
    assert st.status == "stopped" and [r.slot for r in st.runs] == [0, 1, 2]
    assert load_state(camp.state_path).as_json()["next"]["slot"] == 3
    clock.t += timedelta(minutes=1)  # restarted a minute later: slot 3 is not due yet
    probe2 = RecordingProbe(clock)
    again = make(tmp_path, clock, probe2)
    open_(again, tmp_path)
    st = again.run()
    assert st.status == "finished" and [r.slot for r in st.runs] == [0, 1, 2, 3, 4]
    assert probe2.calls == [Schedule(START, 900, 180, 11).due(i) for i in (3, 4)]
    assert store_uids(tmp_path) == (15, 15)


def test_slots_passed_while_not_running_are_missed_not_run_late(tmp_path: Path) -> None:
    clock = FakeClock()
    stop = threading.Event()
    camp = make(tmp_path, clock, RecordingProbe(clock, {0: "stop"}, stop))
    open_(camp, tmp_path, max_runs=8)
    camp.run(stop)
    clock.t = START + timedelta(minutes=15 * 4 + 5)  # back after an hour: slots 1-3 passed; 4 is due (or 3)
    probe = RecordingProbe(clock)
    again = make(tmp_path, clock, probe)
    open_(again, tmp_path, max_runs=8)
    st = again.run()
    by_slot = {r.slot: r.status for r in st.runs}
    assert sorted(by_slot) == list(range(8))
    sched = Schedule(START, 900, 180, 11)
    latest = sched.latest_due(START + timedelta(minutes=65))
    assert all(by_slot[s] == MISSED for s in range(1, latest))
    assert [by_slot[s] for s in range(latest, 8)] == [DONE] * (8 - latest)
    assert probe.calls[0] == START + timedelta(minutes=65)  # the latest due slot runs at once, late
    assert store_uids(tmp_path)[0] == (1 + 8 - latest) * len(TARGETS)


def test_network_down_and_a_broken_run_are_recorded_and_the_loop_goes_on(tmp_path: Path) -> None:
    clock = FakeClock()
    probe = RecordingProbe(clock, {1: "down", 2: "error"})
    camp = make(tmp_path, clock, probe)
    open_(camp, tmp_path)
    st = camp.run()
    assert [r.status for r in st.runs] == [DONE, NETWORK_DOWN, FAILED, DONE, DONE]
    assert "network is down" in (st.runs[1].error or "") and "could not start" in (st.runs[2].error or "")
    assert st.runs[1].measurements == 0 and st.status == "finished"
    assert store_uids(tmp_path) == (9, 9)


def test_a_campaign_killed_mid_run_keeps_the_whole_lines_and_does_not_measure_the_slot_again(tmp_path: Path) -> None:
    clock = FakeClock()
    camp = make(tmp_path, clock, RecordingProbe(clock, {1: "die-after-writing"}))
    open_(camp, tmp_path)
    with pytest.raises(SystemExit):
        camp.run()
    cur = load_state(camp.state_path).current
    assert cur is not None and cur.slot == 1 and cur.phase == "probing"
    probe = RecordingProbe(clock)
    again = make(tmp_path, clock, probe)
    open_(again, tmp_path)
    st = again.run()
    assert [(r.slot, r.status) for r in st.runs] == [(0, DONE), (1, INTERRUPTED), (2, DONE), (3, DONE), (4, DONE)]
    assert st.runs[1].measurements == 2 and st.current is None
    assert len(probe.calls) == 3  # slots 2, 3, 4: slot 1 was not measured twice
    assert store_uids(tmp_path) == (14, 14)  # the half line was dropped, not stored as a broken record


def test_a_campaign_killed_while_storing_finishes_storing_without_duplicates(tmp_path: Path) -> None:
    clock = FakeClock()
    calls = {"n": 0}

    def dies_after_commit(store: Path, file: Path) -> tuple[int, int, dict[str, int], list[str]]:
        result = ingest_run(store, file)
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("killed after the commit, before the state said so")
        return result

    camp = make(tmp_path, clock, RecordingProbe(clock), ingest=dies_after_commit)
    open_(camp, tmp_path)
    with pytest.raises(SystemExit):
        camp.run()
    cur = load_state(camp.state_path).current
    assert cur is not None and cur.phase == "ingesting"
    probe = RecordingProbe(clock)
    again = make(tmp_path, clock, probe)
    open_(again, tmp_path)
    st = again.run()
    assert [(r.slot, r.status) for r in st.runs] == [(i, DONE) for i in range(5)]
    assert len(probe.calls) == 3 and store_uids(tmp_path) == (15, 15)


def test_until_ends_the_campaign(tmp_path: Path) -> None:
    clock = FakeClock()
    camp = make(tmp_path, clock, RecordingProbe(clock))
    open_(camp, tmp_path, max_runs=None, until=START + timedelta(minutes=50))
    st = camp.run()
    assert st.status == "finished"
    sched = Schedule(START, 900, 180, 11)
    assert [r.slot for r in st.runs] == [i for i in range(6) if sched.due(i) <= START + timedelta(minutes=50)]


def test_resume_refuses_another_campaign_and_bad_state_names_the_file(tmp_path: Path) -> None:
    clock = FakeClock()
    camp = make(tmp_path, clock, RecordingProbe(clock))
    open_(camp, tmp_path)
    with pytest.raises(InputError, match="--every"):
        open_(make(tmp_path, clock, RecordingProbe(clock)), tmp_path, every=600.0)
    camp.state_path.write_text('{"schema": "ayiq.campaign", "version": 1, "name": "x"}')
    with pytest.raises(InputError, match="state.json"):
        load_state(camp.state_path)
    camp.state_path.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        load_state(camp.state_path)
    with pytest.raises(InputError, match="does not exist"):
        open_(make(tmp_path / "other", clock, RecordingProbe(clock)), tmp_path, list_file=tmp_path / "missing.csv")
    with pytest.raises(AyiqError, match="jitter"):
        open_(make(tmp_path / "other", clock, RecordingProbe(clock)), tmp_path, jitter=900.0)


def test_one_process_per_campaign(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    with locked(folder), pytest.raises(AyiqError, match="already running"), locked(folder):
        pass
    with locked(folder):  # released with its holder
        pass


def test_the_network_check_looks_up_routes_to_the_probe_s_own_servers() -> None:
    from ayiq.net.campaign import preflight_addresses, route_exists

    args = ["--resolver", "198.18.53.53", "--control", "http://198.19.0.2:8080/api/v1/web_connectivity"]
    assert preflight_addresses(args) == ["198.18.53.53", "198.19.0.2"]
    assert preflight_addresses(["--resolver=10.0.0.1:5353"]) == ["10.0.0.1"]
    assert preflight_addresses(["--resolver", "[::1]:53"]) == ["::1"]
    assert preflight_addresses(["--resolver", "127.0.0.1:9", "--control", "https://ctl.example.org/"]) == ["127.0.0.1"]
    fallback = preflight_addresses(["--tests", "web"])  # the system's resolver, or a route out
    assert len(fallback) == 1 and not fallback[0].startswith("127.")
    assert route_exists("127.0.0.1")


def test_until_takes_a_day_or_a_time() -> None:
    from ayiq.cli.campaign import _until

    assert _until("2026-12-31") == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert _until("2026-12-31T12:00:00") == datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert _until("2026-12-31T12:00:00+04:00") == datetime(2026, 12, 31, 8, tzinfo=UTC)
    assert _until(None) is None
    with pytest.raises(AyiqError, match="--until"):
        _until("next week")


def test_shift_times_moves_measurements_to_the_campaign_clock_once(tmp_path: Path) -> None:
    from ayiq.net.campaign import shift_times

    run = tmp_path / "run.jsonl"
    m = {"measurement_start_time": "2026-11-29 00:10:00", "test_start_time": "2026-11-29 00:09:59",
         "annotations": {"engine_name": "ayiq"}, "test_keys": {}}
    run.write_bytes(orjson.dumps(m) + b"\n" + b"not json\n")
    shift_times(run, -86400 * 13 + 0.4)
    shift_times(run, -86400 * 13 + 0.4)  # a resumed slot: not shifted twice
    first, second = run.read_bytes().splitlines()
    got = orjson.loads(first)
    assert got["measurement_start_time"] == "2026-11-16 00:10:00" and got["test_start_time"] == "2026-11-16 00:09:59"
    assert got["annotations"] == {"engine_name": "ayiq", "x_clock_offset_seconds": "-1123199.6"}
    assert second == b"not json"  # left for ingest to report as broken
