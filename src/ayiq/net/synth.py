"""Seeded synthetic OONI web_connectivity measurements with known truth, for the demo, tests and benchmarks.

They follow web_connectivity 0.4.x's test_keys layout (queries, tcp_connect, tls_handshakes, requests, control)
and model what is reported from Azerbaijan: SNI filtering that times out after the ClientHello, RST injection on
plain HTTP, plus DNS tampering, IP blackholing, sites that are really down, and clean controls.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TECHNIQUES = ("ok", "tls_timeout", "http_reset", "dns_localhost", "dns_nxdomain", "tcp_blackhole", "down")
# What a correct judge must say for each technique: (status, method).
EXPECTED: dict[str, tuple[str, str | None]] = {
    "ok": ("ok", None),
    "tls_timeout": ("blocked", "tls"),
    "http_reset": ("blocked", "http-failure"),
    "dns_localhost": ("blocked", "dns"),
    "dns_nxdomain": ("blocked", "dns"),
    "tcp_blackhole": ("blocked", "tcp_ip"),
    "down": ("down", "tcp_ip"),  # down, and where: the control fails at the same layer
}

# Addresses must look public to a judge (documentation ranges are bogons, rightly "not on the Internet").
# They are only written into synthetic records; nothing ever connects to them.
NETWORKS = (("AZ", "AS29049", "Delta Telecom"), ("AZ", "AS28787", "Baktelecom"))


BAKU = ZoneInfo("Asia/Baku")


@dataclass(frozen=True, slots=True)
class Target:
    """A target and the technique it gets; optionally only from `since` on, or only in a local-time window
    (`hours` = [start, end) in Asia/Baku, on weekdays when `weekdays_only`): the "traffic jams" pattern."""

    url: str
    technique: str
    address: str
    asn: int
    since: datetime | None = None
    hours: tuple[int, int] | None = None
    weekdays_only: bool = False

    def technique_at(self, when: datetime) -> str:
        if self.since is not None and when < self.since:
            return "ok"
        if self.hours is not None:
            local = when.astimezone(BAKU)
            if not self.hours[0] <= local.hour < self.hours[1] or (self.weekdays_only and local.weekday() >= 5):
                return "ok"
        return self.technique


DEFAULT_TARGETS = (
    Target("https://www.azadliq.org/", "tls_timeout", "93.184.216.10", 64500),
    Target("https://www.meydan.tv/", "tls_timeout", "93.184.216.11", 64500,
           since=datetime(2026, 11, 8, 12, 0, tzinfo=UTC)),
    Target("http://www.azadliq.info/", "http_reset", "93.184.216.12", 64501, hours=(18, 23), weekdays_only=True),
    Target("http://turan.example/", "dns_localhost", "93.184.216.13", 64501),
    Target("https://abzas.example/", "dns_nxdomain", "93.184.216.14", 64502),
    Target("https://voa.example/", "tcp_blackhole", "93.184.216.15", 64502),
    Target("https://gone.example/", "down", "93.184.216.16", 64503),
    Target("https://www.wikipedia.org/", "ok", "93.184.216.17", 64503),
    Target("https://news.example.az/", "ok", "93.184.216.18", 64504),
)

_BODY = "<html><head><title>{title}</title></head><body>{text}</body></html>"


def _hostname(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def measurement(target: Target, when: datetime, cc: str, asn: str, rng: random.Random) -> dict[str, Any]:
    """One web_connectivity measurement of `target` as it would look under its technique."""
    host = _hostname(target.url)
    https = target.url.startswith("https")
    port = 443 if https else 80
    ip = target.address
    title = f"{host} - news"
    body = _BODY.format(title=title, text="lorem ipsum " * rng.randint(200, 260))
    tech = target.technique_at(when)
    t0 = round(rng.uniform(0.02, 0.3), 6)

    answers: list[dict[str, Any]] = [
        {"answer_type": "A", "ipv4": ip, "asn": target.asn, "as_org_name": "Example Hosting", "ttl": None}
    ]
    dns_failure: str | None = None
    if tech == "dns_localhost":
        answers = [{"answer_type": "A", "ipv4": "127.0.0.1", "asn": 0, "as_org_name": "", "ttl": None}]
    elif tech == "dns_nxdomain":
        answers, dns_failure = [], "dns_nxdomain_error"
    probe_ips = [a["ipv4"] for a in answers]

    tcp_failure = "generic_timeout_error" if tech in ("tcp_blackhole", "down") else None
    if tech == "dns_localhost":
        tcp_failure = "connection_refused"
    tcp = [
        {"ip": a, "port": port, "status": {"blocked": tcp_failure is not None, "failure": tcp_failure,
                                           "success": tcp_failure is None}, "t": t0 + 0.05}
        for a in probe_ips
    ]
    tls: list[dict[str, Any]] | None = None
    if https and tcp_failure is None and probe_ips:
        tls_failure = "generic_timeout_error" if tech == "tls_timeout" else None
        tls = [{
            "address": f"{a}:443", "server_name": host, "failure": tls_failure, "cipher_suite": "" if tls_failure
            else "TLS_AES_128_GCM_SHA256", "negotiated_protocol": "" if tls_failure else "h2",
            "tls_version": "" if tls_failure else "TLSv1.3", "peer_certificates": None, "no_tls_verify": False,
            "t": t0 + (10.0 if tls_failure else 0.12), "tags": [],
        } for a in probe_ips]

    http_failure: str | None = None
    if dns_failure:
        http_failure = dns_failure
    elif tcp_failure:
        http_failure = tcp_failure
    elif tech == "tls_timeout":
        http_failure = "generic_timeout_error"
    elif tech == "http_reset":
        http_failure = "connection_reset"
    requests: list[dict[str, Any]] = [{
        "failure": http_failure,
        "request": {"body": "", "body_is_truncated": False, "method": "GET", "tor": {"is_tor": False},
                    "url": target.url, "headers_list": [["Host", host]], "headers": {"Host": host}},
        "response": {"body": None if http_failure else body, "body_is_truncated": False,
                     "code": 0 if http_failure else 200,
                     "headers_list": [] if http_failure else [["Content-Type", "text/html"], ["Server", "nginx"]],
                     "headers": {} if http_failure else {"Content-Type": "text/html", "Server": "nginx"}},
        "t": t0 + 0.3,
    }]
    down = tech == "down"
    control = {
        "tcp_connect": {f"{ip}:{port}": {"status": not down, "failure": "generic_timeout_error" if down else None}},
        "tls_handshake": (
            {f"{ip}:443": {"server_name": host, "status": not down,
                           "failure": "generic_timeout_error" if down else None}} if https else {}
        ),
        "http_request": {
            "body_length": -1 if down else len(body), "failure": "generic_timeout_error" if down else None,
            "title": "" if down else title, "headers": {} if down else {"Content-Type": "text/html", "Server": "nginx"},
            "status_code": -1 if down else 200,
        },
        "dns": {"failure": None, "addrs": [ip]},
        "ip_info": {ip: {"asn": target.asn, "flags": 11}},
    }
    uid_seed = f"{target.url}|{when.isoformat()}|{asn}|{rng.random()}"
    short = hashlib.sha256(uid_seed.encode()).hexdigest()[:16]
    stamp = when.strftime("%Y%m%d%H%M%S")
    return {
        "annotations": {"engine_name": "ayiq-synth", "platform": "linux"},
        "data_format_version": "0.2.0",
        "id": hashlib.sha256(("id" + uid_seed).encode()).hexdigest()[:32],
        "measurement_uid": f"{stamp}.{when.microsecond:06d}_{cc}_webconnectivity_{short}",
        "input": target.url,
        "measurement_start_time": when.strftime("%Y-%m-%d %H:%M:%S"),
        "probe_asn": asn,
        "probe_cc": cc,
        "probe_ip": "127.0.0.1",
        "report_id": f"{stamp}Z_webconnectivity_{cc}_{asn[2:]}_n1_synthetic",
        "resolver_asn": asn,
        "software_name": "ayiq-synth",
        "software_version": "0.1.0",
        "test_name": "web_connectivity",
        "test_runtime": round(t0 + 1.0, 3),
        "test_start_time": when.strftime("%Y-%m-%d %H:%M:%S"),
        "test_version": "0.4.3",
        "test_keys": {
            "agent": "redirect", "client_resolver": "192.0.2.53", "retries": None, "socksproxy": None,
            "queries": [{
                "answers": answers, "engine": "system", "failure": dns_failure, "hostname": host, "query_type": "A",
                "resolver_hostname": None, "resolver_port": None, "resolver_address": "", "t": t0,
            }],
            "dns_experiment_failure": dns_failure,
            "control_failure": None,
            "control": control,
            "tcp_connect": tcp,
            "tls_handshakes": tls,
            "requests": requests,
            "http_experiment_failure": http_failure,
        },
    }


def generate(
    n: int, seed: int = 7, start: datetime | None = None, days: int = 14,
    targets: tuple[Target, ...] = DEFAULT_TARGETS,
) -> Iterator[tuple[dict[str, Any], str]]:
    """Yield `n` (measurement, technique applied) pairs spread over `days`, round-robin over targets and
    networks."""
    rng = random.Random(seed)
    t_start = start or datetime(2026, 11, 1, tzinfo=UTC)
    span = days * 86400
    for i in range(n):
        target = targets[i % len(targets)]
        cc, asn, _name = NETWORKS[(i // len(targets)) % len(NETWORKS)]
        when = t_start + timedelta(seconds=rng.uniform(0, span))
        yield measurement(target, when, cc, asn, rng), target.technique_at(when)
