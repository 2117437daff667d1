"""Each web_connectivity rule on a small hand-built measurement (the shape of v0.4, no tags)."""

from __future__ import annotations

import base64
import copy
from typing import Any

from ayiq.core.verdict import Method, Status
from ayiq.net.judge import Fingerprints, Judge

IP = "93.184.216.34"


def wc(url: str = "https://www.example.com/", **tk: Any) -> dict[str, Any]:
    """A clean, accessible v0.4-style measurement; keyword arguments replace test_keys fields."""
    https = url.startswith("https")
    port = 443 if https else 80
    keys: dict[str, Any] = {
        "queries": [{"hostname": "www.example.com", "query_type": "A", "failure": None,
                     "answers": [{"answer_type": "A", "ipv4": IP, "asn": 15133}]}],
        "tcp_connect": [{"ip": IP, "port": port, "status": {"success": True, "failure": None}}],
        "tls_handshakes": ([{"address": f"{IP}:443", "server_name": "www.example.com", "failure": None}]
                           if https else []),
        "requests": [{"request": {"url": url}, "failure": None,
                      "response": {"code": 200, "body": "<html><title>Example Domain</title>" + "x" * 1400,
                                   "headers": {"Content-Type": "text/html", "X-Cache": "HIT"}}}],
        "control": {"dns": {"addrs": [IP], "failure": None},
                    "tcp_connect": {f"{IP}:{port}": {"status": True, "failure": None}},
                    "tls_handshake": {f"{IP}:443": {"status": True, "failure": None}},
                    "http_request": {"status_code": 200, "body_length": 1435, "title": "Example Domain",
                                     "headers": {"Content-Type": "text/html", "X-Cache": "HIT"}, "failure": None}},
        "control_failure": None,
    }
    keys.update(tk)
    return {"test_name": "web_connectivity", "test_version": "0.4.3", "probe_cc": "AZ", "input": url,
            "test_keys": keys}


def test_clean_measurement_is_ok() -> None:
    v = Judge()(wc())
    assert v.status is Status.OK and not v.anomaly


def test_sni_timeout_after_clienthello_is_tls_blocking() -> None:
    m = wc()
    m["test_keys"]["tls_handshakes"][0]["failure"] = "generic_timeout_error"
    m["test_keys"]["requests"] = [{"request": {"url": m["input"]}, "failure": "generic_timeout_error", "response": None}]
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.TLS)
    assert v.evidence[-1] == (f"TLS handshake with {IP}:443 (SNI www.example.com) timed out after the ClientHello; "
                              "the control completed it")


def test_tcp_blocked_when_control_connects() -> None:
    m = wc()
    m["test_keys"]["tcp_connect"][0]["status"] = {"success": False, "failure": "connection_refused"}
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.TCP_IP)


def test_site_down_when_control_fails_the_same_way() -> None:
    m = wc()
    m["test_keys"]["tcp_connect"][0]["status"] = {"success": False, "failure": "generic_timeout_error"}
    m["test_keys"]["control"]["tcp_connect"][f"{IP}:443"] = {"status": False, "failure": "generic_timeout_error"}
    assert Judge()(m).status is Status.DOWN


def test_private_answer_is_dns_blocking() -> None:
    m = wc()
    m["test_keys"]["queries"][0]["answers"] = [{"answer_type": "A", "ipv4": "10.10.34.34"}]
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.DNS)
    assert "private address" in v.evidence[0]


def test_other_address_in_same_asn_is_consistent() -> None:
    m = wc(url="http://www.example.com/")
    m["test_keys"]["queries"][0]["answers"] = [{"answer_type": "A", "ipv4": "93.184.216.99", "asn": 15133}]
    m["test_keys"]["tcp_connect"][0]["ip"] = "93.184.216.99"
    m["test_keys"]["control"]["ip_info"] = {IP: {"asn": 15133, "flags": 11}}
    v = Judge()(m)
    assert v.status is Status.OK
    assert "AS15133" in v.evidence[0]


def test_geo_block_over_valid_tls_is_not_censorship() -> None:
    m = wc()
    m["test_keys"]["requests"][0]["response"] = {"code": 451, "body": "Unavailable For Legal Reasons", "headers": {}}
    v = Judge()(m)
    assert v.status is Status.OK
    assert "geo-block" in v.evidence[-1]


def test_451_over_plain_http_stays_ambiguous_blocking() -> None:
    m = wc(url="http://www.example.com/")
    m["test_keys"]["requests"][0]["response"] = {"code": 451, "body": "Blocked by court order", "headers": {}}
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.HTTP_DIFF)
    assert v.confidence <= 0.5


def test_cloudflare_challenge_is_ok() -> None:
    m = wc(url="http://www.example.com/")
    m["test_keys"]["requests"][0]["response"] = {
        "code": 403, "headers": {"Server": "cloudflare", "CF-RAY": "1-FRA"},
        "body": "<title>Just a moment...</title><div id=cf-challenge>"}
    assert Judge()(m).status is Status.OK


def test_base64_blockpage_body_is_confirmed(fingerprints: Fingerprints) -> None:
    m = wc(url="http://www.example.com/")
    page = b"<html>contact it-security-operations@etisalat.ae</html>"
    m["test_keys"]["requests"][0]["response"] = {
        "code": 200, "headers": {}, "body": {"format": "base64", "data": base64.b64encode(page).decode()}}
    v = Judge(fingerprints)(m)
    assert (v.status, v.method, v.confirmed, v.blockpage_fingerprint) == (
        Status.BLOCKED, Method.BLOCKPAGE, True, "ooni.ae_3")


def test_timeout_mid_body_is_http_failure() -> None:
    m = wc(url="http://www.example.com/")
    m["test_keys"]["requests"][0]["failure"] = "generic_timeout_error"
    m["test_keys"]["requests"][0]["response"]["body_is_truncated"] = True
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.HTTP_FAILURE)
    assert "stalled" in v.evidence[-1]


def test_control_failure_is_inconclusive_with_failure_flag() -> None:
    m = wc(url="http://www.example.com/", control={}, control_failure="connection_refused")
    v = Judge()(m)
    assert v.status is Status.INCONCLUSIVE and v.failure and not v.anomaly
    assert "connection_refused" in v.evidence[-1]


def test_unknown_test() -> None:
    v = Judge()({"test_name": "future_test", "test_keys": {}})
    assert v.status is Status.INCONCLUSIVE and v.evidence == ("no judge for test future_test",)


def _whatsapp(endpoint_ok: list[bool]) -> dict[str, Any]:
    return {"test_name": "whatsapp", "test_keys": {
        "requests": [{"request": {"url": "https://web.whatsapp.com/"}, "failure": None},
                     {"request": {"url": "https://v.whatsapp.net/v2/register"}, "failure": None}],
        "tcp_connect": [{"ip": f"1.1.1.{n}", "port": 443,
                         "status": {"success": ok, "failure": None if ok else "generic_timeout_error"}}
                        for n, ok in enumerate(endpoint_ok)]}}


def test_whatsapp_blocked_only_when_all_endpoints_fail() -> None:
    assert Judge()(_whatsapp([True, False, False])).status is Status.OK
    v = Judge()(_whatsapp([False, False, False]))
    assert (v.status, v.method) == (Status.BLOCKED, Method.TCP_IP)


def test_facebook_dns_outside_as32934_is_dns_blocking() -> None:
    m: dict[str, Any] = {"test_name": "facebook_messenger", "test_keys": {"queries": [
        {"hostname": "edge-mqtt.facebook.com", "answers": [{"ipv4": "157.240.1.1", "asn": 32934}]},
        {"hostname": "b-api.facebook.com", "answers": [{"ipv4": "10.10.34.36", "asn": 0}]}]}}
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.DNS)
    ok = copy.deepcopy(m)
    ok["test_keys"]["queries"][1]["answers"][0] = {"ipv4": "157.240.1.2", "asn": 32934}
    assert Judge()(ok).status is Status.OK


def _throttle(ratio: float, p: float, tb: float, failure: str | None = None) -> dict[str, Any]:
    ok: dict[str, Any] = {"failure": None, "bytes": 1, "duration": 1.0, "samples": []}
    return {"test_name": "ayiq_throttle", "test_keys": {
        "target": {**ok, "failure": failure}, "control": ok, "ratio": ratio, "ks_pvalue": p,
        "throttled": None, "pattern": "shaper-like",
        "target_stats": {"goodput_bps": tb}, "control_stats": {"goodput_bps": 20e6}}}


def test_throttle_follows_wehe_rule() -> None:
    v = Judge()(_throttle(0.1, 1e-6, 2e6))
    assert (v.status, v.method) == (Status.BLOCKED, Method.THROTTLING)
    assert "2.00 Mbit/s with the target SNI vs 20.00" in v.evidence[0]
    assert Judge()(_throttle(0.95, 1e-6, 19e6)).status is Status.OK  # < 10% slower: not throttling
    assert Judge()(_throttle(0.5, 0.2, 10e6)).status is Status.OK  # not significant
    assert Judge()(_throttle(0.0, 0.0, 0.0, failure="generic_timeout_error")).status is Status.BLOCKED


def _voice(domestic_loss: float, intl_loss: float | None) -> dict[str, Any]:
    def relay(loss: float | None) -> dict[str, Any]:
        return {"stun": {"failure": None}, "stream": {"loss": loss, "failure": None if loss is not None else
                                                      "generic_timeout_error"}}
    return {"test_name": "ayiq_voice", "test_keys": {
        "signalling": {"tcp_connect": [{"status": {"success": True, "failure": None}}], "tls_handshakes": []},
        "relays": {"domestic": relay(domestic_loss), "international": relay(intl_loss)}}}


def test_voice_international_cut_while_domestic_works() -> None:
    v = Judge()(_voice(0.0, None))
    assert (v.status, v.method) == (Status.BLOCKED, Method.UDP)
    assert v.evidence[0].startswith("International voice path blocked")
    assert Judge()(_voice(0.01, 0.02)).status is Status.OK


def test_sni_filtering_at_the_targets_own_server() -> None:
    """Ayiq's sni_blocking without a decoy: only x_server results; the target SNI times out, the control completes."""
    m = {"test_name": "sni_blocking", "input": "https://www.azadliq.org/", "test_keys": {
        "target": None, "control": None, "x_target_sni": "www.azadliq.org", "x_control_sni": "example.org",
        "x_server_address": "93.184.216.10:443",
        "x_server": {"target": {"failure": "generic_timeout_error"}, "control": {"failure": None},
                     "no_sni": {"failure": None}}}}
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.TLS)
    assert "timed out after the ClientHello" in v.evidence[0]


def test_injected_dns_answer_from_ayiq_probe() -> None:
    """The example of docs/formats/probe-web.md: an injected answer, and the real one arriving later."""
    m = {"test_name": "web_connectivity", "input": "https://inject.test:44071/", "probe_cc": "ZZ",
         "test_version": "0.4.3", "test_keys": {
             "queries": [{"hostname": "inject.test", "query_type": "A", "engine": "udp", "failure": None,
                          "answers": [{"answer_type": "A", "ipv4": "127.0.0.66", "ttl": 300}], "x_ip_ttl": 33}],
             "x_dns_duplicate_responses": [{"query_type": "A", "x_ip_ttl": 64,
                                            "answers": [{"answer_type": "A", "ipv4": "127.0.0.1", "ttl": 300}]}],
             "tcp_connect": [{"ip": "127.0.0.66", "port": 44071,
                              "status": {"success": False, "failure": "connection_refused"}}],
             "control": {"dns": {"failure": None, "addrs": ["127.0.0.1"]}}}}
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.DNS)
    assert "a second reply (127.0.0.1, IP TTL 64) arrived after it" in v.evidence[0]


def test_site_refusing_the_control_is_not_censorship() -> None:
    """Many sites answer 403/503 to data-centre addresses such as OONI's test helper."""
    m = wc(url="http://www.example.com/")
    m["test_keys"]["control"]["http_request"].update(status_code=503, body_length=120, title="Forbidden",
                                                     headers={"X-Block": "1"})
    v = Judge()(m)
    assert v.status is Status.OK
    assert "refused the control (HTTP 503)" in v.evidence[-1]


def test_redirect_to_other_host_is_named() -> None:
    m = wc(url="http://www.example.com/")
    tk = m["test_keys"]
    tk["requests"] = [
        {"request": {"url": "http://warning.example.net/"}, "failure": None,
         "response": {"code": 200, "headers": {}, "body": "<title>Site blocked</title>"}},
        {"request": {"url": "http://www.example.com/"}, "failure": None,
         "response": {"code": 302, "headers": {"Location": "http://warning.example.net/"}, "body": ""}},
    ]
    v = Judge()(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.HTTP_DIFF)
    assert "The probe was redirected to warning.example.net" in v.evidence


def test_cdn_answer_with_failed_control_request_is_not_dns_blocking() -> None:
    """Different answers (a CDN) and a control whose HTTP request failed: nothing to compare, so no verdict of
    blocking; only a control that says the name does not exist makes a served page a 'ghost' answer."""
    m = wc(url="http://www.example.com/")
    m["test_keys"]["queries"][0]["answers"] = [{"answer_type": "A", "ipv4": "151.101.1.1", "asn": 54113}]
    m["test_keys"]["tcp_connect"][0]["ip"] = "151.101.1.1"
    m["test_keys"]["control"]["http_request"] = {"failure": "generic_timeout_error", "status_code": -1}
    v = Judge()(m)
    assert v.status is Status.INCONCLUSIVE and not v.anomaly
