"""Scenario files: the built-ins load, mistakes are named, schedules follow the lab clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ayiq.core.errors import InputError
from ayiq.lab import builtin_names, load_scenario, scenario_from_dict
from ayiq.lab.scenario import parse_rate


def test_builtins_load_and_cover_every_technique() -> None:
    names = builtin_names()
    assert {"baseline", "all-techniques", "az-2020"} <= set(names)
    every = load_scenario("all-techniques")
    seen = {(k, getattr(t, k)) for t in every.targets for k in ("dns", "ip", "tls", "http", "udp")}
    for technique in [("dns", "inject"), ("dns", "nxdomain"), ("dns", "bogon"), ("dns", "localhost"),
                      ("ip", "blackhole"), ("tls", "drop"), ("tls", "rst"), ("http", "blockpage"),
                      ("http", "rst"), ("udp", "block")]:
        assert technique in seen
    assert {t.throttle_mode for t in every.targets if t.throttle_bps} == {"shaper", "policer"}
    assert any(t.schedule for t in every.targets)


def test_yaml_and_toml_give_the_same_scenario(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text('name = "s"\n[[target]]\nname = "a.lab"\ntls = "drop"\n'
                    'schedule = { days = ["fri"], hours = "19:00-23:00", utc_offset = "+04:00" }\n')
    yaml = tmp_path / "s.yaml"
    yaml.write_text("name: s\ntarget:\n  - name: a.lab\n    tls: drop\n"
                    "    schedule: {days: [fri], hours: '19:00-23:00', utc_offset: '+04:00'}\n")
    assert load_scenario(toml).targets == load_scenario(yaml).targets


@pytest.mark.parametrize(("raw", "message"), [
    ({"target": []}, "at least one"),
    ({"target": [{"name": "not a name"}]}, "DNS name"),
    ({"target": [{"name": "a.lab", "tls": "maybe"}]}, "tls = 'maybe'"),
    ({"target": [{"name": "a.lab", "address": "93.184.216.34"}]}, "target range"),
    ({"target": [{"name": "a.lab", "throttle": "fast"}]}, "rate"),
    ({"target": [{"name": "a.lab", "colour": "red"}]}, "unknown keys colour"),
    ({"target": [{"name": "a.lab"}, {"name": "a.lab"}]}, "twice"),
    ({"target": [{"name": "a.lab", "schedule": {"hours": "7pm"}}]}, "hours"),
])
def test_mistakes_are_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scenario_from_dict(raw)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="built-in"):
        load_scenario(tmp_path / "nope.toml")


def test_rates() -> None:
    assert parse_rate("512kbit") == 512_000 and parse_rate("2Mbit") == 2_000_000
    with pytest.raises(ValueError):
        parse_rate("1bit")


def test_schedule_windows_including_midnight() -> None:
    plus4 = dt.timezone(dt.timedelta(hours=4))
    s = scenario_from_dict({"target": [
        {"name": "eve.lab", "schedule": {"days": ["fri"], "hours": "19:00-23:00", "utc_offset": "+04:00"}},
        {"name": "night.lab", "schedule": {"days": ["fri"], "hours": "22:00-02:00", "utc_offset": "+04:00"}},
    ]})
    eve, night = s.target("eve.lab"), s.target("night.lab")
    friday = dt.datetime(2026, 11, 27, tzinfo=plus4)
    assert eve.active(friday.replace(hour=19)) and eve.active(friday.replace(hour=22, minute=59))
    assert not eve.active(friday.replace(hour=23)) and not eve.active(friday.replace(hour=18, minute=59))
    assert not eve.active(friday.replace(hour=20) + dt.timedelta(days=1))
    assert eve.active(dt.datetime(2026, 11, 27, 16, 30, tzinfo=dt.UTC))  # 20:30 at +04:00
    assert night.active(friday.replace(hour=23)) and night.active(friday.replace(hour=1) + dt.timedelta(days=1))
    assert not night.active(friday.replace(hour=1))  # Friday 01:00 belongs to Thursday's night
