"""DNS rules: bogon answers, and whether the probe's answers agree with the control's.

Agreement follows OONI: a shared address, a shared ASN, or an address the probe (or the test helper) completed
a valid TLS handshake with for the name. Bogons are judged with Python's ipaddress (not globally routable).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ayiq.net.judge.base import JSON, d, i, lst

# df-007 strings (and the test helper's older names) that mean "this name does not exist".
NXDOMAIN = frozenset({"dns_nxdomain_error", "dns_name_error", "dns_non_existing_domain"})
NO_ANSWER = frozenset({"dns_no_answer", "android_dns_cache_no_data"})


@lru_cache(maxsize=4096)
def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def is_ip(value: str) -> bool:
    return parse_ip(value) is not None


@lru_cache(maxsize=4096)
def bogon_kind(value: str) -> str | None:
    """Why an address cannot be a public web server ("loopback", "private", ...), or None if it can."""
    ip = parse_ip(value)
    if ip is None:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


@dataclass(slots=True)
class DnsComparison:
    """The outcome of comparing the probe's answers with the control's."""

    consistent: bool | None  # None: no control answers to compare with
    reason: str
    bogons: list[tuple[str, str]] = field(default_factory=list)
    control_bogon: bool = False


def compare(
    probe_addrs: list[str],
    probe_asns: dict[str, int],
    control_addrs: list[str],
    control_asns: dict[str, int],
    tls_valid: Iterable[str],
    control_nxdomain: bool,
) -> DnsComparison:
    """Compare answers for the same name. ``tls_valid``: probe addresses proven right by a valid TLS handshake."""
    bogons = [(a, k) for a in probe_addrs if (k := bogon_kind(a)) is not None]
    control_bogon = bool(control_addrs) and all(bogon_kind(a) is not None for a in control_addrs)
    shared = [a for a in probe_addrs if a in set(control_addrs)]
    if shared:
        return DnsComparison(True, f"shared address {shared[0]}", bogons, control_bogon)
    valid = [a for a in probe_addrs if a in set(tls_valid)]
    if valid and not bogons:
        return DnsComparison(True, f"{valid[0]} completed a valid TLS handshake for the name", bogons, control_bogon)
    if control_nxdomain:
        return DnsComparison(False, "the control says the name does not exist", bogons, control_bogon)
    if not control_addrs:
        return DnsComparison(None, "no control answers to compare", bogons, control_bogon)
    ctrl_asns = {n for a in control_addrs if (n := control_asns.get(a, 0))}
    for a in probe_addrs:
        n = probe_asns.get(a, 0)
        if n and n in ctrl_asns and bogon_kind(a) is None:
            return DnsComparison(True, f"{a} is in AS{n}, like the control's answers", bogons, control_bogon)
    return DnsComparison(False, "no shared address or network with the control", bogons, control_bogon)


def injection_note(tk: JSON, first: list[str]) -> str:
    """Ayiq's probe keeps late duplicate DNS replies: a second, different answer means the first was injected."""
    for dup in lst(tk.get("x_dns_duplicate_responses")):
        dup = d(dup)
        later = [v for a in lst(dup.get("answers")) if isinstance(v := d(a).get("ipv4") or d(a).get("ipv6"), str)]
        other = [a for a in later if a not in first]
        if other:
            ttl = i(dup.get("x_ip_ttl"))
            return (f"; a second reply ({other[0]}" + (f", IP TTL {ttl}" if ttl is not None else "")
                    + ") arrived after it: the first answer was injected on the path")
    return ""
