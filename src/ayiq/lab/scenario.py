"""Lab scenarios: which targets the lab's "internet" serves and how the censor treats each one.

A scenario is a small TOML or YAML file (documented in docs/lab.md); this module reads and checks it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ayiq.core.errors import InputError

KINDS = ("web", "messaging", "relay")
DNS_TREATMENTS = ("inject", "nxdomain", "bogon", "localhost")
TLS_TREATMENTS = ("drop", "rst")
HTTP_TREATMENTS = ("blockpage", "rst")
THROTTLE_MODES = ("shaper", "policer")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Where target addresses are handed out when a scenario does not pin them (benchmark range, lab only).
TARGET_NET = ipaddress.ip_network("198.18.64.0/18")
# The opt-in "routable" plan (scenario key ``addressing = "routable"``) mirrors the lab into 11.18.0.0/15, outside
# the bogon lists of tools such as OONI Probe; still lab-only: the namespaces have no route out.
ADDRESSINGS = ("benchmark", "routable")
TARGET_NETS = {"benchmark": TARGET_NET, "routable": ipaddress.ip_network("11.18.64.0/18")}
_NAME = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)$", re.IGNORECASE)
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DEFAULT_PORTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "web": ((80, 443), ()),
    "messaging": ((443, 5222), (3478,)),
    "relay": ((443,), (3478, 3479)),
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a target's treatment is on: some weekdays, a daily window of hours, in a fixed UTC offset."""

    days: tuple[int, ...]  # 0 = Monday
    start_minute: int
    end_minute: int  # may be below start: the window crosses midnight
    utc_offset: dt.timezone

    def active(self, when: dt.datetime) -> bool:
        local = when.astimezone(self.utc_offset)
        minute = local.hour * 60 + local.minute
        if self.start_minute <= self.end_minute:
            return local.weekday() in self.days and self.start_minute <= minute < self.end_minute
        # Crossing midnight: the part after midnight belongs to the previous day's window.
        if minute >= self.start_minute:
            return local.weekday() in self.days
        if minute < self.end_minute:
            return (local.weekday() - 1) % 7 in self.days
        return False


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    kind: str
    address: str
    region: str = "international"
    tcp_ports: tuple[int, ...] = ()
    udp_ports: tuple[int, ...] = ()
    dns: str | None = None
    dns_answer: str = "10.10.34.36"
    ip: str | None = None
    tls: str | None = None
    http: str | None = None
    throttle_bps: int | None = None
    throttle_mode: str = "shaper"
    udp: str | None = None
    schedule: Schedule | None = None

    def active(self, when: dt.datetime) -> bool:
        return self.schedule is None or self.schedule.active(when)


@dataclass(frozen=True, slots=True)
class Censor:
    """Traits of the middlebox, visible in what it injects."""

    rst_ttl: int = 48
    rst_ip_id: int = 0x3412
    blockpage: str = (
        "<html><head><title>Access denied</title></head>"
        "<body>This site is blocked by decision of the authorities (ayiq lab).</body></html>"
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    targets: tuple[Target, ...]
    censor: Censor = field(default_factory=Censor)
    clock: dt.datetime | None = None
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    addressing: str = "benchmark"

    def target(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)


def parse_rate(text: str) -> int:
    """'512kbit' -> 512000 bits per second (tc's units, decimal)."""
    m = _RATE.match(text.strip())
    if not m:
        raise ValueError(f"rate {text!r} is not like '512kbit' or '2mbit'")
    scale = {"bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}[m.group(2).lower()]
    bps = int(float(m.group(1)) * scale)
    if not 8_000 <= bps <= 10_000_000_000:
        raise ValueError(f"rate {text!r} is outside 8kbit..10gbit")
    return bps


def _schedule(raw: Any, where: str) -> Schedule:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: schedule must be a table with days, hours and utc_offset")
    days_raw = raw.get("days", list(DAYS))
    if not isinstance(days_raw, list) or not days_raw:
        raise ValueError(f"{where}: schedule.days must be a list like ['fri', 'sat']")
    days = []
    for d in days_raw:
        key = str(d).lower()[:3]
        if key not in DAYS:
            raise ValueError(f"{where}: unknown day {d!r} (use mon..sun)")
        days.append(DAYS.index(key))
    m = _HOURS.match(str(raw.get("hours", "00:00-24:00")))
    if not m:
        raise ValueError(f"{where}: schedule.hours must be like '19:00-23:00'")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{where}: schedule.hours {m.group(0)!r} is not a valid time window")
    offset_text = str(raw.get("utc_offset", "+00:00"))
    om = re.match(r"^([+-])(\d{2}):(\d{2})$", offset_text)
    if not om:
        raise ValueError(f"{where}: schedule.utc_offset must be like '+04:00'")
    sign = 1 if om.group(1) == "+" else -1
    offset = dt.timezone(sign * dt.timedelta(hours=int(om.group(2)), minutes=int(om.group(3))))
    return Schedule(tuple(sorted(set(days))), h1 * 60 + m1, h2 * 60 + m2, offset)


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise ValueError(f"{where}: {key} = {value!r}; use one of {', '.join(allowed)}")
    return str(value)


def _ports(raw: Any, default: tuple[int, ...], where: str) -> tuple[int, ...]:
    if raw is None:
        return default
    if not isinstance(raw, list) or not all(isinstance(p, int) and 0 < p < 65536 for p in raw):
        raise ValueError(f"{where}: ports must be a list of numbers 1..65535")
    return tuple(raw)


def _target(raw: Any, index: int, used: set[str], net: ipaddress.IPv4Network | ipaddress.IPv6Network = TARGET_NET
            ) -> Target:
    where = f"target #{index + 1}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a table")
    name = str(raw.get("name", "")).lower()
    if not _NAME.match(name):
        raise ValueError(f"{where}: name {name!r} is not a DNS name like 'news.example'")
    where = f"target {name}"
    kind = str(raw.get("kind", "web"))
    if kind not in KINDS:
        raise ValueError(f"{where}: kind {kind!r}; use one of {', '.join(KINDS)}")
    address = raw.get("address")
    if address is None:
        address = str(net[10 + index])
    addr = ipaddress.ip_address(str(address))
    if addr not in net:
        raise ValueError(f"{where}: address {addr} must be in {net} (the lab's target range)")
    tcp_default, udp_default = _DEFAULT_PORTS[kind]
    region = str(raw.get("region", "international"))
    if region not in ("domestic", "international"):
        raise ValueError(f"{where}: region must be domestic or international")
    throttle = raw.get("throttle")
    throttle_bps = parse_rate(str(throttle)) if throttle is not None else None
    dns_answer = str(ipaddress.ip_address(str(raw.get("dns_answer", "10.10.34.36"))))
    schedule = _schedule(raw["schedule"], where) if "schedule" in raw else None
    known = {"name", "kind", "address", "region", "tcp_ports", "udp_ports", "dns", "dns_answer", "ip", "tls",
             "http", "throttle", "throttle_mode", "udp", "schedule"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if name in used:
        raise ValueError(f"{where}: the name appears twice")
    used.add(name)
    return Target(
        name=name, kind=kind, address=str(addr), region=region,
        tcp_ports=_ports(raw.get("tcp_ports"), tcp_default, where),
        udp_ports=_ports(raw.get("udp_ports"), udp_default, where),
        dns=_choice(raw, "dns", DNS_TREATMENTS, where), dns_answer=dns_answer,
        ip=_choice(raw, "ip", ("blackhole",), where),
        tls=_choice(raw, "tls", TLS_TREATMENTS, where),
        http=_choice(raw, "http", HTTP_TREATMENTS, where),
        throttle_bps=throttle_bps,
        throttle_mode=_choice(raw, "throttle_mode", THROTTLE_MODES, where) or "shaper",
        udp=_choice(raw, "udp", ("block",), where),
        schedule=schedule,
    )


def scenario_from_dict(raw: dict[str, Any], source: str = "") -> Scenario:
    name = str(raw.get("name") or Path(source).stem or "unnamed")
    targets_raw = raw.get("target", raw.get("targets", []))
    if not isinstance(targets_raw, list) or not targets_raw:
        raise ValueError("a scenario needs at least one [[target]]")
    if len(targets_raw) > 200:
        raise ValueError("a scenario may name at most 200 targets")
    used: set[str] = set()
    addressing = str(raw.get("addressing", "benchmark"))
    if addressing not in ADDRESSINGS:
        raise ValueError(f"{source or 'scenario'}: addressing {addressing!r}; use one of {', '.join(ADDRESSINGS)}")
    targets = tuple(_target(t, i, used, TARGET_NETS[addressing]) for i, t in enumerate(targets_raw))
    addresses = [t.address for t in targets]
    censor_raw = raw.get("censor", {}) or {}
    if not isinstance(censor_raw, dict):
        raise ValueError("[censor] must be a table")
    defaults = Censor()
    ttl = int(censor_raw.get("rst_ttl", defaults.rst_ttl))
    ip_id = int(censor_raw.get("rst_ip_id", defaults.rst_ip_id))
    if not (1 <= ttl <= 255 and 0 <= ip_id <= 0xFFFF):
        raise ValueError("[censor] rst_ttl must be 1..255 and rst_ip_id 0..65535")
    censor = Censor(ttl, ip_id, str(censor_raw.get("blockpage", defaults.blockpage)))
    clock = raw.get("clock")
    clock_dt: dt.datetime | None = None
    if clock is not None:
        clock_dt = clock if isinstance(clock, dt.datetime) else dt.datetime.fromisoformat(str(clock))
        if clock_dt.tzinfo is None:
            raise ValueError("clock needs a UTC offset, like 2026-11-30T19:00:00+04:00")
    if len(set(addresses)) != len(addresses):
        raise ValueError("two targets share one address; give each its own")
    return Scenario(name, str(raw.get("description", "")), targets, censor, clock_dt, source, raw, addressing)


def load_scenario(spec: str | Path) -> Scenario:
    """A built-in scenario by name, or a .toml/.yaml file."""
    path = Path(spec)
    if not path.suffix and str(spec) in builtin_names():
        text = resources.files("ayiq.lab.scenarios").joinpath(f"{spec}.toml").read_text("utf-8")
        source, suffix = f"builtin:{spec}", ".toml"
    else:
        if not path.is_file():
            raise InputError(path, f"no such scenario file, and not a built-in ({', '.join(builtin_names())})")
        text, source, suffix = path.read_text("utf-8"), str(path), path.suffix.lower()
    try:
        raw = yaml.safe_load(text) if suffix in (".yaml", ".yml") else tomllib.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("the file must hold a table/mapping at top level")
        return scenario_from_dict(raw, source)
    except (ValueError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InputError(source, f"bad scenario: {exc}") from exc


def builtin_names() -> list[str]:
    files = resources.files("ayiq.lab.scenarios").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))
