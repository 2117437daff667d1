"""Localize in network namespaces this test builds: client - r1 - r2 - r3 - server, a censor on r2.

Needs root (namespaces, iptables); skipped otherwise. Traffic stays inside the namespaces.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from ayiq.net.tests.localize import locate

pytestmark = pytest.mark.root

SUBNET = "10.231"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=20)


@pytest.fixture()
def chain() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("iptables") is None:
        pytest.skip("needs root, ip and iptables (network namespaces)")
    rid = secrets.token_hex(3)
    hosts = ["cli", "r1", "r2", "r3", "srv"]
    ns = {h: f"ayiqp-{rid}-{h}" for h in hosts}
    made: list[str] = []
    try:
        for h in hosts:
            _run("ip", "netns", "add", ns[h])
            made.append(ns[h])
            _run("ip", "-n", ns[h], "link", "set", "lo", "up")
        for i, (a, b) in enumerate(zip(hosts, hosts[1:], strict=False), start=1):
            va, vb = f"ap{rid}{i}a", f"ap{rid}{i}b"
            _run("ip", "link", "add", va, "netns", ns[a], "type", "veth", "peer", "name", vb, "netns", ns[b])
            _run("ip", "-n", ns[a], "addr", "add", f"{SUBNET}.{i}.1/24", "dev", va)
            _run("ip", "-n", ns[b], "addr", "add", f"{SUBNET}.{i}.2/24", "dev", vb)
            _run("ip", "-n", ns[a], "link", "set", va, "up")
            _run("ip", "-n", ns[b], "link", "set", vb, "up")
        # cli x.1.1; r1 x.1.2 / x.2.1; r2 x.2.2 / x.3.1; r3 x.3.2 / x.4.1; srv x.4.2
        _run("ip", "-n", ns["cli"], "route", "add", "default", "via", f"{SUBNET}.1.2")
        _run("ip", "-n", ns["srv"], "route", "add", "default", "via", f"{SUBNET}.4.1")
        for k, r in enumerate(("r1", "r2", "r3"), start=1):
            for sysctl in ("net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000"):
                _run("ip", "netns", "exec", ns[r], "sysctl", "-qw", sysctl)
            for net in range(1, 5):
                if net in (k, k + 1):
                    continue
                via = f"{SUBNET}.{k}.1" if net < k else f"{SUBNET}.{k + 1}.2"
                _run("ip", "-n", ns[r], "route", "add", f"{SUBNET}.{net}.0/24", "via", via)
        # the censor: r2 resets TCP flows whose packets name blocked.test
        _run("ip", "netns", "exec", ns["r2"], "iptables", "-A", "FORWARD", "-p", "tcp", "-m", "string",
             "--string", "blocked.test", "--algo", "bm", "-j", "REJECT", "--reject-with", "tcp-reset")
        server = subprocess.Popen(["ip", "netns", "exec", ns["srv"], sys.executable, "-m", "http.server", "--bind",
                                   f"{SUBNET}.4.2", "8080"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            yield ns
        finally:
            server.terminate()
            server.wait(5)
    finally:
        for n in made:
            subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=20)


def test_localize_finds_the_censors_hop(chain: dict[str, str]) -> None:
    code = (
        "import asyncio, json\n"
        "from ayiq.net.tests.config import ProbeConfig\n"
        "from ayiq.net.tests.localize import localize\n"
        f"m = asyncio.run(localize('blocked.test', ProbeConfig(), server=('{SUBNET}.4.2', 8080), max_ttl=6,"
        " timeout=1.5))\n"
        "print(json.dumps(m))\n"
    )
    done = subprocess.run(["ip", "netns", "exec", chain["cli"], sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    m = json.loads(done.stdout)
    tk = m["test_keys"]
    assert m["test_name"] == "ayiq_localize"
    assert [c["outcome"] for c in tk["control"]] == ["expired", "expired", "expired", "response"]
    assert [t["outcome"] for t in tk["trigger"]][:3] == ["expired", "expired", "reset"]
    assert tk["server_hop"] == 4 and tk["interference_ttl"] == 3 and tk["interference"] == "reset"
    assert tk["routers"] == {"1": f"{SUBNET}.1.2", "2": f"{SUBNET}.2.2", "3": f"{SUBNET}.3.2"}
    assert tk["last_router_before"] == f"{SUBNET}.2.2" and tk["at_server"] is False
    # the injected RST comes from r2 (one router away: TTL 63); the server's SYN-ACKs from 3 routers away (61)
    traits = tk["x_packet_traits"]
    assert traits["error"] is None and traits["rst_ttl_mismatch"] is True
    assert {p["ttl"] for p in traits["packets"] if p["kind"] == "syn_ack"} == {61}
    assert {p["ttl"] for p in traits["packets"] if p["kind"] == "rst"} == {63}
    assert all("dst" not in p for p in traits["packets"])  # the probe's own address is never written


def test_locate_is_pure() -> None:
    def row(ttl: int, outcome: str, router: str | None = None) -> dict[str, object]:
        return {"ttl": ttl, "outcome": outcome, "icmp": {"router": router} if router else None}

    control = [row(1, "expired", "a"), row(2, "expired", "b"), row(3, "response")]
    dropped = [row(1, "expired", "a"), row(2, "timeout"), row(3, "timeout")]
    out = locate(dropped, control)
    assert out["interference_ttl"] == 2 and out["interference"] == "timeout" and out["last_router_before"] == "a"
    assert locate(control, control)["interference_ttl"] is None and locate(control, control)["server_hop"] == 3
