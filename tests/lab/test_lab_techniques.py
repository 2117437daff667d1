"""Each technique of the all-techniques scenario, checked on the wire from the lab's client host."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

import pytest

from ayiq.lab import ADDRESSES, Lab, scenario_from_dict

pytestmark = [pytest.mark.root, pytest.mark.slow]
RESOLVER = ADDRESSES["resolver"]
Client = Callable[..., dict[str, Any]]


def test_open_site_works_over_http_and_https(lab: Lab, client: Client) -> None:
    ip = lab.addresses["open.lab"]
    http = client("http", ip=ip, host="open.lab")
    assert http["outcome"] == "ok" and http["status_line"].startswith("HTTP/1.1 200")
    assert "<title>open.lab</title>" in http["body"]
    tls = client("tls", ip=ip, sni="open.lab")
    assert tls["outcome"] == "ok" and tls["version"].startswith("TLS")
    answers = client("dns", name="open.lab", resolver=RESOLVER, listen=0.5)["answers"]
    assert [a["ips"] for a in answers] == [[ip]]


def test_dns_injection_forged_answer_arrives_first(lab: Lab, client: Client) -> None:
    answers = client("dns", name="dns-inject.lab", resolver=RESOLVER, listen=1.0)["answers"]
    assert len(answers) == 2, answers
    forged, real = answers
    assert forged["ips"] == ["10.10.34.36"] and forged["ip_ttl"] == 48
    assert real["ips"] == [lab.addresses["dns-inject.lab"]] and real["ip_ttl"] == 63  # one hop from inet
    assert forged["ms"] < real["ms"]


@pytest.mark.parametrize(("name", "rcode", "ips"), [
    ("nxdomain.lab", 3, []),
    ("bogon.lab", 0, ["10.10.34.35"]),
    ("localhost.lab", 0, ["127.0.0.1"]),
])
def test_dns_replacement_answers(client: Client, name: str, rcode: int, ips: list[str]) -> None:
    answers = client("dns", name=name, resolver=RESOLVER, listen=0.6)["answers"]
    # Only the forged answer: the real query never reached the resolver.
    assert [(a["rcode"], a["ips"]) for a in answers] == [(rcode, ips)]


def test_ip_blackhole_times_out(lab: Lab, client: Client) -> None:
    assert client("tcp", ip=lab.addresses["blackholed.lab"], port=80, timeout=1.0)["outcome"] == "timeout"
    assert client("tcp", ip=lab.addresses["open.lab"], port=80, timeout=1.0)["outcome"] == "ok"


def test_sni_drop_gets_no_server_hello_while_other_sni_on_same_ip_works(lab: Lab, client: Client) -> None:
    ip = lab.addresses["sni-drop.lab"]
    blocked = client("tls", ip=ip, sni="sni-drop.lab", timeout=1.5)
    assert blocked["outcome"] == "timeout"
    # TCP handshake came back (SYN-ACK) but nothing with payload: no ServerHello.
    assert blocked["server_packets"] and all(p["payload"] == 0 for p in blocked["server_packets"])
    other = client("tls", ip=ip, sni="open.lab")
    assert other["outcome"] == "ok"


def test_sni_rst_carries_middlebox_traits(lab: Lab, client: Client) -> None:
    ip = lab.addresses["sni-rst.lab"]
    result = client("tls", ip=ip, sni="sni-rst.lab")
    assert result["outcome"] == "reset"
    rsts = [p for p in result["server_packets"] if p["rst"]]
    assert rsts and all(p["ttl"] == 48 and p["ip_id"] == 13330 for p in rsts)
    # The real server's packets (SYN-ACK) crossed one router: TTL 63, not the middlebox's 48.
    assert any(not p["rst"] and p["ttl"] == 63 for p in result["server_packets"])
    assert client("tls", ip=ip, sni="open.lab")["outcome"] == "ok"


def test_http_host_reset(lab: Lab, client: Client) -> None:
    ip = lab.addresses["http-rst.lab"]
    result = client("http", ip=ip, host="http-rst.lab")
    assert result["outcome"] == "reset"
    assert any(p["rst"] and p["ttl"] == 48 and p["ip_id"] == 13330 for p in result["server_packets"])
    assert client("http", ip=ip, host="open.lab")["outcome"] == "ok"


def test_http_blockpage_injected(lab: Lab, client: Client) -> None:
    ip = lab.addresses["blockpage.lab"]
    result = client("http", ip=ip, host="blockpage.lab")
    assert result["status_line"].startswith("HTTP/1.1 403")
    assert lab.scenario.censor.blockpage == result["body"]
    injected = [p for p in result["server_packets"] if p["payload"] > 0]
    assert injected and all(p["ttl"] == 48 for p in injected)
    fine = client("http", ip=ip, host="open.lab")
    assert fine["status_line"].startswith("HTTP/1.1 200")


def test_udp_blocked_to_international_relay_while_tcp_works(lab: Lab, client: Client) -> None:
    intl, dom = lab.addresses["relay-international.lab"], lab.addresses["relay-domestic.lab"]
    assert client("udp", ip=intl, port=3478, stun=True, timeout=1.0)["outcome"] == "timeout"
    assert client("udp", ip=intl, port=3479, timeout=1.0)["outcome"] == "timeout"
    assert client("tcp", ip=intl, port=443, echo=True)["echo"] == "ping"
    stun = client("udp", ip=dom, port=3478, stun=True)
    assert stun["outcome"] == "ok" and stun["stun_success"]
    assert stun["mapped"].startswith(ADDRESSES["client"] + ":")
    assert client("udp", ip=dom, port=3479)["echo"] is True
    # A messaging service with UDP blocked keeps its TCP endpoints.
    msg = lab.addresses["messenger.lab"]
    assert client("udp", ip=msg, port=3478, stun=True, timeout=1.0)["outcome"] == "timeout"
    assert client("tcp", ip=msg, port=5222, echo=True)["echo"] == "ping"


def test_scheduled_rule_only_inside_its_window(lab: Lab, client: Client) -> None:
    ip = lab.addresses["jammed.lab"]
    plus4 = dt.timezone(dt.timedelta(hours=4))
    try:
        lab.set_clock(dt.datetime(2026, 11, 27, 20, 30, tzinfo=plus4))  # Friday 20:30: inside
        assert "jammed.lab" in lab.censor_status()["active"]
        assert client("tcp", ip=ip, port=80, timeout=1.0)["outcome"] == "timeout"
        lab.set_clock(dt.datetime(2026, 11, 27, 23, 5, tzinfo=plus4))  # Friday 23:05: after the window
        assert client("tcp", ip=ip, port=80, timeout=1.0)["outcome"] == "ok"
        lab.set_clock(dt.datetime(2026, 11, 25, 20, 30, tzinfo=plus4))  # Wednesday: not a jam day
        assert client("tcp", ip=ip, port=80, timeout=1.0)["outcome"] == "ok"
        lab.set_clock(dt.datetime(2026, 11, 28, 22, 59, tzinfo=plus4))  # Saturday 22:59: inside
        assert client("tcp", ip=ip, port=80, timeout=1.0)["outcome"] == "timeout"
    finally:
        lab.set_clock(dt.datetime(2026, 11, 25, 12, 0, tzinfo=plus4))


def test_control_place_is_outside_the_censor(lab: Lab, client: Client) -> None:
    # From the control host, censored targets answer normally: it does not sit behind the censor.
    tls = client("tls", on="control", ip=lab.addresses["sni-drop.lab"], sni="sni-drop.lab")
    assert tls["outcome"] == "ok"
    assert client("tcp", on="control", ip=lab.addresses["blackholed.lab"], port=80)["outcome"] == "ok"
    answers = client("dns", on="control", name="dns-inject.lab", resolver=RESOLVER, listen=0.5)["answers"]
    assert [a["ips"] for a in answers] == [[lab.addresses["dns-inject.lab"]]]
    # And the client can reach a server on the control host (through the censor, as a probe would).
    assert client("tcp", ip=ADDRESSES["control"], port=22, timeout=1.0)["outcome"] == "refused"


def test_make_lab_custom_scenario_and_dns_over_tcp(make_lab: Callable[..., Lab],
                                                   client_for: Callable[[Lab], Client]) -> None:
    lab = make_lab(scenario_from_dict({"target": [{"name": "news.lab", "tls": "rst"}]}))
    run = client_for(lab)
    assert run("tls", ip=lab.addresses["news.lab"], sni="news.lab")["outcome"] == "reset"
    # The resolver also answers over TCP (the censor only injects on UDP).
    done = lab.exec([sys.executable, "-c", (
        "import dns.message, dns.query;"
        "r = dns.query.tcp(dns.message.make_query('news.lab', 'A'), '198.18.53.53', timeout=2);"
        "print(r.answer[0][0].address)")])
    assert done.stdout.strip() == lab.addresses["news.lab"], done.stderr


def test_client_hello_split_over_segments_is_still_caught(lab: Lab, client: Client) -> None:
    # Cut before the SNI extension: the censor must reassemble, as real DPI does.
    rst = client("split_hello", ip=lab.addresses["sni-rst.lab"], sni="sni-rst.lab", cut=60)
    assert rst["outcome"] == "reset"
    dropped = client("split_hello", ip=lab.addresses["sni-drop.lab"], sni="sni-drop.lab", cut=60)
    assert dropped["outcome"] == "timeout"
    fine = client("split_hello", ip=lab.addresses["sni-drop.lab"], sni="open.lab", cut=60)
    assert fine["outcome"] == "ok" and fine["server_hello"]
