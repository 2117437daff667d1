"""Localize: the hop where interference starts, from TTL-limited triggers (docs/formats/probe-localize.md).

For TTL 1..max, the forbidden trigger (target Host or SNI) and an innocuous control trigger go to the same
server. The control's outcomes show how far packets get (routers answering "expired", then the server); the
first TTL at which the trigger's outcome differs from the control's — a reset, an answer the control did not
get, silence where the control still expired, or an answer arriving with another IP TTL than the control's
(a middlebox's blockpage) — is where the censor sits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ayiq.net.probe.clock import Clock
from ayiq.net.probe.packets import PacketWatch
from ayiq.net.probe.ttl import client_hello_trigger, http_trigger, ttl_probe, udp_hop
from ayiq.net.tests.config import ProbeConfig, envelope, new_report_id
from ayiq.net.tests.web import resolve

TEST_NAME = "ayiq_localize"
TEST_VERSION = "0.1.0"
ICMP_RETRIES = 2


def locate(trigger: list[dict[str, Any]], control: list[dict[str, Any]]) -> dict[str, Any]:
    """(pure) hop of the server, first interfering TTL, the last router before it, and the censor's action."""
    server_hop = next((c["ttl"] for c in control if c["outcome"] in ("response", "closed")), None)
    first, action = None, None
    for t, c in zip(trigger, control, strict=True):
        if t["outcome"] != c["outcome"] and not (t["outcome"] == "expired" and c["outcome"] == "expired"):
            first, action = t, t["outcome"]
            break
        # both answered, but not from the same distance: a middlebox answered the trigger (a blockpage)
        tt, ct = t.get("x_response_ip_ttl"), c.get("x_response_ip_ttl")
        if t["outcome"] == c["outcome"] == "response" and tt is not None and ct is not None and tt != ct:
            first, action = t, "injected_response"
            break
    routers = {str(c["ttl"]): (c.get("icmp") or {}).get("router") for c in control if c["outcome"] == "expired"}
    out: dict[str, Any] = {"server_hop": server_hop, "interference_ttl": None, "interference": None,
                           "last_router_before": None, "at_server": None, "routers": routers}
    if first is not None:
        ttl = first["ttl"]
        out.update(interference_ttl=ttl, interference=action,
                   last_router_before=routers.get(str(ttl - 1)),
                   at_server=server_hop is not None and ttl >= server_hop)
    return out


async def localize(target: str, cfg: ProbeConfig, *, server: tuple[str, int] | None = None, kind: str = "http",
                   control_name: str = "example.org", max_ttl: int = 16, timeout: float = 2.0,
                   report_id: str | None = None, test_start_time: datetime | None = None) -> dict[str, Any]:
    """``target``: a URL or host name; ``kind``: ``http`` (Host header) or ``tls`` (ClientHello SNI);
    ``server``: where the triggers go (default: the target's first IPv4 address, port 80 or 443)."""
    clock = Clock()
    start = test_start_time or clock.started_at
    rid = report_id or new_report_id(TEST_NAME, cfg, start)
    parts = urlsplit(target if "://" in target else f"{'https' if kind == 'tls' else 'http'}://{target}")
    host = parts.hostname or target
    tk: dict[str, Any] = {"kind": kind, "target": host, "control_name": control_name, "server": None,
                          "trigger": [], "control": [], "queries": []}
    if server is None:
        queries, _d, addrs, failure = await resolve(host, cfg, clock, [])
        tk["queries"] = queries
        v4 = [a for a in addrs if ":" not in a]
        if not v4:
            tk.update(failure=failure or "dns_no_answer", **locate([], []))
            return envelope(TEST_NAME, TEST_VERSION, target, tk, clock, cfg, rid, start)
        server = (v4[0], parts.port or (443 if kind == "tls" else 80))
    make = http_trigger if kind == "http" else client_hello_trigger
    trig, ctrl = make(host), make(control_name)
    trigger: list[dict[str, Any]] = []
    control: list[dict[str, Any]] = []
    async with PacketWatch({server[0]}) as watch:
        await _ttl_loop(server, trig, ctrl, max_ttl, timeout, clock, trigger, control)
    tk.update(server=f"{server[0]}:{server[1]}", trigger=trigger, control=control, failure=None,
              x_packet_traits=watch.traits())
    tk.update(locate(trigger, control))
    return envelope(TEST_NAME, TEST_VERSION, target, tk, clock, cfg, rid, start)


async def _ttl_loop(server: tuple[str, int], trig: bytes, ctrl: bytes, max_ttl: int, timeout: float, clock: Clock,
                    trigger: list[dict[str, Any]], control: list[dict[str, Any]]) -> None:
    for ttl in range(1, max_ttl + 1):
        # one after the other, the router's name first: routers rate-limit ICMP (Linux: a burst of 6, then
        # one a second per destination), and expiries at once could lose one
        router = await udp_hop(server[0], ttl, timeout=min(timeout, 1.0))
        if router is None:  # silent, or out of ICMP tokens (Linux refills one a second): ask once more
            router = await udp_hop(server[0], ttl, timeout=min(timeout, 1.0))
        for attempt in range(ICMP_RETRIES + 1):
            t = await ttl_probe(server[0], server[1], trig, ttl, clock, timeout=timeout, tags=["trigger"])
            c = await ttl_probe(server[0], server[1], ctrl, ttl, clock, timeout=timeout, tags=["control"])
            # an expiry on one side and silence on the other may be a rate-limited ICMP, not a censor:
            # ask again (after the wait the silence took, the router has tokens again); a censor repeats
            if {t["outcome"], c["outcome"]} != {"expired", "timeout"} or attempt == ICMP_RETRIES:
                break
            t["x_retried"] = c["x_retried"] = attempt + 1
        if c["outcome"] == "expired" and not c.get("icmp"):
            c["icmp"] = {"icmp_type": 11, "icmp_code": 0, "router": router}
        trigger.append(t)
        control.append(c)
        if c["outcome"] in ("response", "closed") and t["outcome"] != "expired":
            break  # both reached the far end (or the trigger was stopped before it): nothing more to learn
