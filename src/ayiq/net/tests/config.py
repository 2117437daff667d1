"""What a probe run is configured with, and the OONI envelope every measurement is wrapped in.

The envelope never carries the probe's own IP: ``probe_ip`` is OONI's scrubbed placeholder ``127.0.0.1``;
network and country come from the user (``--probe-asn``/``--probe-cc``), defaulting to OONI's "unknown"
values ``AS0``/``ZZ``.
"""

from __future__ import annotations

import platform
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ayiq import __version__
from ayiq.net.control.client import ControlClient
from ayiq.net.probe.clock import Clock, ooni_time

DATA_FORMAT_VERSION = "0.2.0"
SCRUBBED_IP = "127.0.0.1"  # OONI's placeholder for a removed probe IP


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    resolver: tuple[str, int] | None = None  # DNS-over-UDP resolver; None: system resolver only
    system_resolver: bool = True  # also ask getaddrinfo (the user's real path to names)
    control: ControlClient | None = None
    ca_file: str | None = None  # extra trusted CA (labs, tests)
    dns_timeout: float = 4.0
    late_window: float = 0.5  # keep listening this long after the first DNS answer
    connect_timeout: float = 10.0
    http_timeout: float = 15.0
    max_body: int = 1 << 20
    max_redirects: int = 10
    max_addresses: int = 8
    probe_asn: str = "AS0"
    probe_cc: str = "ZZ"
    probe_network_name: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


def new_report_id(test_name: str, cfg: ProbeConfig, when: datetime | None = None) -> str:
    """OONI's report id shape: ``20240214T090617Z_webconnectivity_IT_30722_n1_<16 random chars>``."""
    when = when or datetime.now(UTC)
    asn = cfg.probe_asn.removeprefix("AS") or "0"
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    rand = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"{when:%Y%m%dT%H%M%SZ}_{test_name.replace('_', '')}_{cfg.probe_cc}_{asn}_n1_{rand}"


def envelope(test_name: str, test_version: str, target: str | None, test_keys: dict[str, Any], clock: Clock,
             cfg: ProbeConfig, report_id: str, test_start_time: datetime) -> dict[str, Any]:
    resolver_ip = cfg.resolver[0] if cfg.resolver else None
    return {
        "annotations": {"engine_name": "ayiq", "engine_version": __version__, "platform": sys.platform,
                        "architecture": platform.machine(), **cfg.annotations},
        "data_format_version": DATA_FORMAT_VERSION,
        "input": target,
        "measurement_start_time": ooni_time(clock.started_at),
        "probe_asn": cfg.probe_asn,
        "probe_cc": cfg.probe_cc,
        "probe_ip": SCRUBBED_IP,
        "probe_network_name": cfg.probe_network_name,
        "report_id": report_id,
        "resolver_asn": "AS0",
        "resolver_ip": resolver_ip,
        "resolver_network_name": None,
        "software_name": "ayiq",
        "software_version": __version__,
        "test_helpers": ({"backend": {"address": cfg.control.url, "type": cfg.control.url.split(":", 1)[0]}}
                         if cfg.control else {}),
        "test_keys": test_keys,
        "test_name": test_name,
        "test_runtime": clock.now(),
        "test_start_time": ooni_time(test_start_time),
        "test_version": test_version,
    }
