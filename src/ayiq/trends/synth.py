"""Seeded synthetic verdict histories with known truth, for tests, the accuracy figures and the benchmark.

Each series (target x network) is clean, blocked in one or two episodes (onset and maybe end, at any minute of
any day), or interfered with on a weekly schedule in the network's local time. Measurements come from a few
probes per network that come and go (churn: uneven sampling with gaps), more in the evening than at night;
5% of verdicts are flipped (noise) and 2% are unusable failures. Rows are built column-wise with numpy so
millions of rows take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ayiq.store.base import Store
from ayiq.store.schema import MEASUREMENTS, VERDICTS
from ayiq.trends.zones import zone_for

DEFAULT_NETWORKS = (("AZ", "AS29049"), ("AZ", "AS28787"), ("AZ", "AS28849"), ("AZ", "AS57293"))
BLOCK_METHODS = ("tls", "dns", "tcp_ip", "http-failure")
_EVIDENCE = {
    "tls": "synthetic: TLS handshake timed out after ClientHello; the control completed it",
    "dns": "synthetic: DNS answer 127.0.0.1 is not the control's address",
    "tcp_ip": "synthetic: TCP connect timed out; the control connected",
    "http-failure": "synthetic: connection reset after the HTTP request; the control fetched the page",
    "throttling": "synthetic: throughput 12x lower than the decoy SNI's on the same server",
    None: "synthetic: the page loaded as it did from the control",
}
SCHEDULE_DAYS = ((0, 1, 2, 3, 4), (5, 6), (1, 3), (0, 1, 2, 3, 4, 5, 6), (4,))


@dataclass(frozen=True, slots=True)
class HistorySpec:
    seed: int = 7
    targets: int = 30
    networks: tuple[tuple[str, str], ...] = DEFAULT_NETWORKS
    days: int = 60
    start: datetime = datetime(2024, 9, 2, tzinfo=UTC)  # a Monday
    rate_per_hour: float = 1.6  # mean usable measurements per series-hour while all probes are up
    probes_per_network: int = 4
    noise: float = 0.05
    failure_rate: float = 0.02
    share_block: float = 0.3
    share_schedule: float = 0.2


@dataclass(frozen=True, slots=True)
class TrueChange:
    target: str
    probe_cc: str
    probe_asn: str
    kind: str  # "onset" or "end"
    time: datetime
    method: str


@dataclass(frozen=True, slots=True)
class TrueWindow:
    target: str
    probe_cc: str
    probe_asn: str
    days: tuple[int, ...]  # 0 = Monday, local time
    start_hour: int
    end_hour: int  # exclusive
    zone: str
    method: str


@dataclass(slots=True)
class Truth:
    spec: HistorySpec
    changes: list[TrueChange] = field(default_factory=list)
    windows: list[TrueWindow] = field(default_factory=list)
    series: list[tuple[str, str, str, str]] = field(default_factory=list)  # target, cc, asn, kind

    @property
    def series_days(self) -> int:
        return len(self.series) * self.spec.days


def target_names(count: int) -> list[str]:
    known = ["https://www.azadliq.org/", "https://www.meydan.tv/", "https://www.tiktok.com/",
             "https://web.whatsapp.com/", "https://web.telegram.org/", "https://www.voanews.com/",
             "https://abzas.org/", "https://www.turan.az/"]
    names = known[:count]
    names += [f"https://site{i:03d}.example.az/" for i in range(count - len(names))]
    return names


def _probe_rate(rng: np.random.Generator, spec: HistorySpec, local_hour: np.ndarray) -> np.ndarray:
    """Measurements per hour on one network: probes that come and go, busier in the evening."""
    hours = spec.days * 24
    total = np.zeros(hours)
    for _ in range(spec.probes_per_network):
        up = np.zeros(hours, dtype=bool)
        t, on = 0.0, bool(rng.random() < 0.75)
        while t < hours:
            length = rng.exponential(72.0 if on else 24.0)
            up[int(t) : int(t + length) + 1] = on
            t += length
            on = not on
        total += up * rng.uniform(0.6, 1.4)
    diurnal = 0.55 + 0.45 * np.sin((local_hour - 9) / 24 * 2 * np.pi) ** 2
    return total / spec.probes_per_network * spec.rate_per_hour * diurnal / 0.775


def generate_history(spec: HistorySpec) -> tuple[pa.Table, pa.Table, Truth]:
    rng = np.random.default_rng(spec.seed)
    truth = Truth(spec)
    hours = spec.days * 24
    t0 = int(spec.start.timestamp())
    names = target_names(spec.targets)
    cols: dict[str, list[np.ndarray]] = {"t": [], "target": [], "net": [], "status": [], "method": []}
    status_names = ["ok", "blocked", "failure"]
    method_names = [None, *BLOCK_METHODS, "throttling"]
    for ni, (cc, asn) in enumerate(spec.networks):
        zone = ZoneInfo(zone_for(cc))
        local = [datetime.fromtimestamp(t0 + h * 3600, UTC).astimezone(zone) for h in range(hours)]
        lhour = np.array([d.hour for d in local])
        ldow = np.array([d.weekday() for d in local])
        net_rate = _probe_rate(rng, spec, lhour)
        for ti, target in enumerate(names):
            lam = net_rate * rng.uniform(0.7, 1.3)
            counts = rng.poisson(lam)
            hour_of = np.repeat(np.arange(hours), counts)
            t = t0 + hour_of * 3600 + rng.uniform(0, 3600, hour_of.size)
            blocked = np.zeros(hour_of.size, dtype=bool)
            method = np.zeros(hour_of.size, dtype=np.int8)
            roll = rng.random()
            kind = "clean"
            if roll < spec.share_block:
                kind = "block"
                begin = rng.uniform(3 * 86400, (spec.days - 5) * 86400)
                for _episode in range(1 + int(rng.random() < 0.35)):
                    onset = t0 + begin
                    if onset > t0 + (spec.days - 3) * 86400:
                        break
                    end = onset + rng.uniform(2, 25) * 86400
                    m = int(rng.integers(len(BLOCK_METHODS)))
                    sel = (t >= onset) & (t < end)
                    blocked |= sel
                    method[sel] = m + 1
                    truth.changes.append(TrueChange(target, cc, asn, "onset", _dt(onset), BLOCK_METHODS[m]))
                    if end < t0 + (spec.days - 1) * 86400:
                        truth.changes.append(TrueChange(target, cc, asn, "end", _dt(end), BLOCK_METHODS[m]))
                    begin = end - t0 + rng.uniform(3, 10) * 86400
            elif roll < spec.share_block + spec.share_schedule:
                kind = "schedule"
                days = SCHEDULE_DAYS[int(rng.integers(len(SCHEDULE_DAYS)))]
                start_h = int(rng.integers(7, 20))
                end_h = min(24, start_h + int(rng.integers(2, 7)))
                in_window = np.isin(ldow, days) & (lhour >= start_h) & (lhour < end_h)
                blocked = in_window[hour_of]
                method[blocked] = len(method_names) - 1
                truth.windows.append(TrueWindow(target, cc, asn, days, start_h, end_h, zone.key, "throttling"))
            truth.series.append((target, cc, asn, kind))
            flip = rng.random(hour_of.size) < spec.noise
            observed = blocked ^ flip
            # A flipped "blocked" on a clean measurement still names a method, as a judge's false positive would.
            method = np.where(observed & (method == 0), 1 + rng.integers(0, len(BLOCK_METHODS), hour_of.size), method)
            method = np.where(observed, method, 0)
            status = observed.astype(np.int8)
            fail = rng.random(hour_of.size) < spec.failure_rate
            status[fail] = 2
            method[fail] = 0
            cols["t"].append(t)
            cols["target"].append(np.full(hour_of.size, ti, dtype=np.int32))
            cols["net"].append(np.full(hour_of.size, ni, dtype=np.int32))
            cols["status"].append(status)
            cols["method"].append(method.astype(np.int8))
    t = np.concatenate(cols["t"])
    order = np.argsort(t, kind="stable")
    t = t[order]
    tgt = np.concatenate(cols["target"])[order]
    net = np.concatenate(cols["net"])[order]
    status = np.concatenate(cols["status"])[order]
    method = np.concatenate(cols["method"])[order]
    return (*_tables(spec, t, tgt, net, status, method, names, status_names, method_names), truth)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(round(epoch), UTC)


def _tables(spec: HistorySpec, t: np.ndarray, tgt: np.ndarray, net: np.ndarray, status: np.ndarray,
            method: np.ndarray, names: list[str], status_names: list[str],
            method_names: list[str | None]) -> tuple[pa.Table, pa.Table]:
    size = t.size
    now = datetime.now(UTC)
    micros = (t * 1e6).astype(np.int64)
    ts = pa.array(micros, pa.timestamp("us", tz="UTC"))
    ids = pc.cast(pa.array(np.arange(size, dtype=np.int64)), pa.string())
    uid = pc.binary_join_element_wise(f"synth-{spec.seed}-", ids, "")
    month = pc.strftime(ts, format="%Y-%m")
    ccs = pa.array([cc for cc, _ in spec.networks]).take(pa.array(net))
    asns = pa.array([asn for _, asn in spec.networks]).take(pa.array(net))
    inputs = pa.array(names).take(pa.array(tgt))
    reports = pc.binary_join_element_wise(f"synth-history-{spec.seed}-", asns, "")
    nulls_s = pa.nulls(size, pa.string())
    nulls_i = pa.nulls(size, pa.int64())
    measurements = pa.Table.from_arrays(
        [uid, reports, pa.array(["web_connectivity"]).take(pa.array(np.zeros(size, np.int32))),
         pa.array(["0.4.3"]).take(pa.array(np.zeros(size, np.int32))),
         pa.array(["ayiq-synth-history"]).take(pa.array(np.zeros(size, np.int32))),
         pa.array(["1"]).take(pa.array(np.zeros(size, np.int32))),
         ccs, asns, inputs, ts, month, pa.array([f"synth-history:seed={spec.seed}"]).take(
             pa.array(np.zeros(size, np.int32))),
         nulls_s, nulls_s, nulls_s, nulls_i, nulls_i, pa.array(np.full(size, int(now.timestamp() * 1e6)),
                                                                pa.timestamp("us", tz="UTC"))],
        schema=MEASUREMENTS,
    )
    st = pa.array(status_names).take(pa.array(status))
    mt = pa.array(method_names, pa.string()).take(pa.array(method))
    ev_text = [_EVIDENCE[m] for m in method_names] + ["synthetic: the probe's run failed (no usable observation)"]
    ev_idx = np.where(status == 2, len(method_names), method).astype(np.int32)
    evidence = pa.array([[e] for e in ev_text], pa.list_(pa.string())).take(pa.array(ev_idx))
    is_blocked = pa.array(status == 1)
    verdicts = pa.Table.from_arrays(
        [uid, st, mt, pa.array(np.where(status == 1, 0.9, 0.8)), evidence, nulls_s, is_blocked,
         pa.array(np.zeros(size, dtype=bool)), pa.array(status == 2),
         pa.array(["synth-history"]).take(pa.array(np.zeros(size, np.int32))),
         pa.array(["1"]).take(pa.array(np.zeros(size, np.int32))), month,
         pa.array(np.full(size, int(now.timestamp() * 1e6)), pa.timestamp("us", tz="UTC"))],
        schema=VERDICTS,
    )
    return measurements, verdicts


def write_history(store: Store, spec: HistorySpec, chunk: int = 1_000_000) -> Truth:
    """Generate a history and append it to `store` in chunks (one ingest-log task per chunk)."""
    measurements, verdicts, truth = generate_history(spec)
    for i in range(0, max(1, measurements.num_rows), chunk):
        store.append(measurements.slice(i, chunk), verdicts.slice(i, chunk),
                     f"synth-history-{spec.seed}-{i // chunk}", f"synth-history:seed={spec.seed}")
    return truth


__all__ = ["HistorySpec", "TrueChange", "TrueWindow", "Truth", "generate_history", "write_history"]
