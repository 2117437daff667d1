"""Messaging tests on loopback: OONI-compatible test_keys for reachable and blocked apps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scenario import lab

from ayiq.core.errors import InputError
from ayiq.net.probe import failures as F
from ayiq.net.tests.messaging import MessagingEndpoints, messaging

NAMES = ["e1.wa.test", "e2.wa.test", "v.wa.test", "web.wa.test", "web.tg.test", "signal.test",
         "b-api.fb.test", "edge.fb.test", "star.fb.test"]


def test_messaging_apps_ok_and_blocked(tmp_path: Path) -> None:
    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path, NAMES) as lb:
            p, h = lb.port, lb.http_port
            ok = MessagingEndpoints(
                whatsapp_endpoints=["e1.wa.test", "e2.wa.test"], whatsapp_ports=[h, p],
                whatsapp_registration=f"https://v.wa.test:{p}/v2/register", whatsapp_web=f"https://web.wa.test:{p}/",
                telegram_datacenters=["127.0.0.1"], telegram_ports=[h], telegram_web=f"https://web.tg.test:{p}/",
                signal_urls=[f"https://signal.test:{p}/"], signal_ca_file=lb.certs.ca_file,
                facebook_services={"b_api": "b-api.fb.test", "edge": "edge.fb.test", "star": "star.fb.test"},
                facebook_port=p, facebook_prefixes=["127.0.0.1/32"])
            cfg = lb.config()
            good = await asyncio.gather(*(messaging(a, cfg, ok) for a in
                                          ("whatsapp", "telegram", "signal", "facebook_messenger")))
            # now the censor acts: endpoints and data centres unreachable, web and signal reset, a DNS lie
            for n in ("e1.wa.test", "e2.wa.test"):
                lb.probe_zone.a[n] = ["127.0.0.77"]
            lb.probe_zone.nxdomain.update({"web.tg.test", "signal.test"})
            lb.probe_zone.a["edge.fb.test"] = ["127.0.0.99"]
            ok.telegram_datacenters = ["127.0.0.77"]
            bad = await asyncio.gather(*(messaging(a, cfg, ok) for a in
                                         ("whatsapp", "telegram", "signal", "facebook_messenger")))
            return good, bad

    (wa, tg, sg, fb), (wa2, tg2, sg2, fb2) = asyncio.run(asyncio.wait_for(go(), 60))
    assert wa["test_name"] == "whatsapp" and wa["test_version"] == "0.10.0"
    w = wa["test_keys"]
    assert w["whatsapp_endpoints_status"] == "ok" and w["whatsapp_endpoints_blocked"] == []
    assert w["registration_server_status"] == "ok" and w["whatsapp_web_status"] == "ok"
    assert {r["request"]["url"] for r in w["requests"]} >= {w_url for w_url in
                                                             [r["request"]["url"] for r in w["requests"]]}
    assert tg["test_keys"]["telegram_tcp_blocking"] is False and tg["test_keys"]["telegram_http_blocking"] is False
    assert tg["test_keys"]["telegram_web_status"] == "ok"
    assert sg["test_keys"]["signal_backend_status"] == "ok" and sg["test_keys"]["signal_backend_failure"] is None
    f = fb["test_keys"]
    assert f["facebook_dns_blocking"] is False and f["facebook_tcp_blocking"] is False
    assert f["facebook_edge_dns_consistent"] is True and f["facebook_edge_reachable"] is True

    w2 = wa2["test_keys"]
    assert w2["whatsapp_endpoints_status"] == "blocked" and w2["whatsapp_endpoints_blocked"] == ["e1.wa.test", "e2.wa.test"]
    assert w2["registration_server_status"] == "ok"
    t2 = tg2["test_keys"]
    assert t2["telegram_tcp_blocking"] is True and t2["telegram_http_blocking"] is True
    assert t2["telegram_web_status"] == "blocked" and t2["telegram_web_failure"] == F.DNS_NXDOMAIN
    assert sg2["test_keys"]["signal_backend_status"] == "blocked"
    assert sg2["test_keys"]["signal_backend_failure"] == F.DNS_NXDOMAIN
    f2 = fb2["test_keys"]
    assert f2["facebook_edge_dns_consistent"] is False and f2["facebook_dns_blocking"] is True
    assert f2["facebook_b_api_reachable"] is True and f2["facebook_tcp_blocking"] is False


def test_messaging_endpoints_from_yaml(tmp_path: Path) -> None:
    good = tmp_path / "ep.yaml"
    good.write_text("telegram_datacenters: [192.0.2.1]\ntelegram_ports: [443]\n")
    ep = MessagingEndpoints.load(good)
    assert ep.telegram_datacenters == ["192.0.2.1"] and ep.whatsapp_ports == [443, 5222]
    bad = tmp_path / "bad.yaml"
    bad.write_text("telegram_dcs: [192.0.2.1]\n")
    with pytest.raises(InputError, match="unknown keys"):
        MessagingEndpoints.load(bad)
