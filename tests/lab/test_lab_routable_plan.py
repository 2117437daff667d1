"""The opt-in routable address plan (scenario ``addressing = "routable"``): the lab mirrored into 11.18.0.0/15
works like the default plan and is as isolated from the host as it."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from ayiq.lab import ADDRESSES, Lab
from ayiq.lab.scenario import scenario_from_dict

ROUTABLE = ipaddress.ip_network("11.18.0.0/15")
CONNECT = ("import socket,sys\n"
           "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close(); print('open')\n"
           "except OSError as e:\n print(type(e).__name__)\n")


def _scenario() -> dict[str, object]:
    return {"name": "routable-check", "addressing": "routable",
            "target": [{"name": "clean.example"}, {"name": "hole.example", "ip": "blackhole"},
                       {"name": "forged.example", "dns": "inject"}]}


def test_routable_plan_is_parsed_and_checked() -> None:
    s = scenario_from_dict(_scenario(), "routable.toml")
    assert s.addressing == "routable"
    assert all(ipaddress.ip_address(t.address) in ipaddress.ip_network("11.18.64.0/18") for t in s.targets)
    assert scenario_from_dict({"target": [{"name": "a.example"}]}).addressing == "benchmark"
    with pytest.raises(ValueError, match="addressing 'public'"):
        scenario_from_dict({"addressing": "public", "target": [{"name": "a.example"}]}, "x.toml")
    with pytest.raises(ValueError, match="must be in 11.18.64.0/18"):
        scenario_from_dict({"addressing": "routable", "target": [{"name": "a.example", "address": "198.18.64.9"}]})


@pytest.mark.root
def test_routable_lab_works_and_stays_isolated(lab_support: None, lab_home: Path) -> None:
    lab = Lab.up(scenario_from_dict(_scenario(), "routable-check"))
    try:
        addrs = lab.addresses
        assert lab.prefix == "11.18.0.0/15"
        assert all(ipaddress.ip_address(a) in ROUTABLE for a in addrs.values()), addrs
        # OONI scrubs the probe's own address from its reports: it must not be part of any server's address.
        assert not [a for k, a in addrs.items() if k != "client" and addrs["client"] in a]
        assert lab.exec(["ip", "-o", "addr", "show", "dev", "c0"]).stdout.count(addrs["client"] + "/") == 1

        def connect(name: str) -> str:
            return lab.exec([sys.executable, "-c", CONNECT, addrs[name], "80"], timeout=20).stdout.strip()

        assert connect("clean.example") == "open"
        assert connect("hole.example") in ("TimeoutError", "timeout")
        # The client resolves through the lab resolver at its routable address; the censor forges the answer.
        got = lab.exec([sys.executable, "-c", "import socket;print(socket.gethostbyname('forged.example'))"])
        assert got.stdout.strip() != addrs["forged.example"]
        assert lab.exec([sys.executable, "-c", "import socket;print(socket.gethostbyname('clean.example'))"]
                        ).stdout.strip() == addrs["clean.example"]
        # Isolation: no lab namespace has a default route or any route outside the lab's prefix.
        for host in ("client", "isp", "inet", "control"):
            routes = lab.exec(["ip", "-4", "route", "show"], host=host).stdout
            assert "default" not in routes
            for line in routes.splitlines():
                dst = line.split()[0]
                assert ipaddress.ip_network(dst, strict=False).subnet_of(ROUTABLE), (host, line)
            assert lab.exec(["ip", "route", "get", "192.0.2.1"], host=host).returncode != 0
        # ... and the host has no link, address or route into the lab: none of its routes names the lab's
        # prefix, and its route lookup for a lab address never goes through a lab device.
        host_routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
        for line in host_routes.splitlines():
            dst = line.split()[0]
            if dst != "default":
                net = ipaddress.ip_network(dst, strict=False)
                assert not net.overlaps(ROUTABLE), line
        host_addrs = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
        assert not [a for a in addrs.values() if f" {a}/" in host_addrs]
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        for dev in ("c0", "i0", "i1", "n0", "n1", "k0"):
            assert f": {dev}@" not in host_links and f": {dev}:" not in host_links
        for a in (addrs["client"], addrs["clean.example"], addrs["resolver"]):
            route = subprocess.run(["ip", "route", "get", a], capture_output=True, text=True).stdout
            assert not any(f" dev {d} " in route for d in ("c0", "i0", "i1", "n0", "n1", "k0")), route
        # The default plan is untouched for everyone else.
        assert ADDRESSES["client"] == "198.18.1.2"
    finally:
        problems = lab.down()
    assert problems == []
