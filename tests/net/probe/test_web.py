"""The web test on loopback scenarios: OONI web_connectivity measurements, with the control's view."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from scenario import lab

from ayiq.net.probe import failures as F
from ayiq.net.probe.loopback import junk_handler
from ayiq.net.tests.web import web_connectivity

ENVELOPE = {"annotations", "data_format_version", "input", "measurement_start_time", "probe_asn", "probe_cc",
            "report_id", "software_name", "software_version", "test_keys", "test_name", "test_runtime",
            "test_start_time", "test_version"}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_web_connectivity_scenarios(tmp_path: Path) -> None:
    names = ["ok.test", "inject.test", "gone.test", "down.test", "junk.test"]

    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, names) as lb:
            lb.probe_zone.inject["inject.test"] = (["127.0.0.66"], 33)
            lb.probe_zone.nxdomain.add("gone.test")
            lb.probe_zone.a["down.test"] = lb.control_zone.a["down.test"] = ["127.0.0.77"]
            junk_port = await lb.add_server(junk_handler)
            cfg = lb.config()
            urls = {
                "ok": f"https://ok.test:{lb.port}/",
                "http": f"http://ok.test:{lb.http_port}/",
                "inject": f"https://inject.test:{lb.port}/",
                "gone": f"https://gone.test:{lb.port}/",
                "down": f"https://down.test:{lb.port}/",
                "junk": f"https://junk.test:{junk_port}/",
            }
            out = await asyncio.gather(*(web_connectivity(u, cfg) for u in urls.values()))
            return dict(zip(urls, out, strict=True))

    m = run(go())
    for meas in m.values():
        assert set(meas) >= ENVELOPE and meas["test_name"] == "web_connectivity"
        assert meas["software_name"] == "ayiq" and meas["probe_asn"] == "AS64500"
        assert len(meas["measurement_start_time"]) == 19 and meas["probe_ip"] == "127.0.0.1"
        json.dumps(meas)  # plain JSON all the way down

    ok = m["ok"]["test_keys"]
    assert ok["control_failure"] is None and ok["control"]["http_request"]["status_code"] == 200
    assert ok["dns_consistency"] == "consistent" and ok["blocking"] is False and ok["accessible"] is True
    assert ok["tcp_connect"][0]["status"]["success"] and ok["tls_handshakes"][0]["server_name"] == "ok.test"
    assert ok["requests"][0]["response"]["code"] == 200 and ok["x_title"] == "Welcome to the site"
    assert ok["body_length_match"] is True and ok["status_code_match"] is True and ok["title_match"] is True
    assert {q["query_type"] for q in ok["queries"]} == {"A", "AAAA"}

    assert m["http"]["test_keys"]["blocking"] is False and m["http"]["test_keys"]["tls_handshakes"] == []

    inj = m["inject"]["test_keys"]
    assert inj["queries"][0]["answers"][0]["ipv4"] == "127.0.0.66" and inj["queries"][0]["x_ip_ttl"] == 33
    late = inj["x_dns_duplicate_responses"]
    assert late and late[0]["answers"][0]["ipv4"] == "127.0.0.1" and late[0]["x_ip_ttl"] == 64
    assert inj["tcp_connect"][0]["status"]["failure"] == F.CONNECTION_REFUSED
    assert inj["dns_consistency"] == "inconsistent" and inj["blocking"] == "dns"

    gone = m["gone"]["test_keys"]
    assert gone["dns_experiment_failure"] == F.DNS_NXDOMAIN and gone["control"]["dns"]["failure"] is None
    assert gone["blocking"] == "dns" and gone["accessible"] is False

    down = m["down"]["test_keys"]  # nothing listens at the address for the probe nor the control
    assert down["http_experiment_failure"] == F.CONNECTION_REFUSED
    assert down["control"]["http_request"]["failure"] == F.CONNECTION_REFUSED
    assert down["blocking"] is False and down["accessible"] is False

    junk = m["junk"]["test_keys"]
    assert junk["tls_handshakes"][0]["failure"] == F.SSL_FAILED_HANDSHAKE
    assert junk["http_experiment_failure"] == F.SSL_FAILED_HANDSHAKE


def test_web_connectivity_without_control_and_bad_input(tmp_path: Path) -> None:
    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, ["ok.test"]) as lb:
            cfg = lb.config(control=None)
            good = await web_connectivity(f"https://ok.test:{lb.port}/", cfg)
            bad = await web_connectivity("ftp://ok.test/", cfg)
            return good, bad

    good, bad = run(go())
    assert good["test_keys"]["control_failure"].startswith("unknown_failure")
    assert good["test_keys"]["blocking"] is None and good["test_keys"]["requests"][0]["response"]["code"] == 200
    assert bad["test_keys"]["http_experiment_failure"].startswith("unknown_failure: not an http(s) URL")
