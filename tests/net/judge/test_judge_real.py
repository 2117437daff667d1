"""Every real measurement in ../shared/data/ooni/real is judged without raising, and OONI's flags agree with
the MANIFEST's recorded verdicts except where a pinned test below says why ours is right."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ayiq.core.verdict import Method, Status, Verdict
from ayiq.net.judge import Judge


def real_measurements(ooni: Path) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for p in sorted((ooni / "real").rglob("*")):
        if p.suffix == ".json" and ".analysis" not in p.name:
            out.append((p.name, json.loads(p.read_text(encoding="utf-8"))))
        elif p.suffix == ".jsonl":
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines()):
                if line.strip():
                    out.append((f"{p.name}#{n}", json.loads(line)))
        elif p.suffix == ".jsonc":  # test_keys only, with // comments: give it a minimal envelope
            body = "\n".join(x for x in p.read_text(encoding="utf-8").splitlines() if not x.lstrip().startswith("//"))
            out.append((p.name, {"test_name": "web_connectivity", "input": "https://mask.icloud.com/",
                                 "probe_cc": "PK", "test_keys": json.loads(body)}))
    return out


def test_every_real_file_judges(ooni: Path, judge: Judge) -> None:
    ms = real_measurements(ooni)
    assert len(ms) >= 83  # 86 in the MANIFEST, minus the three legacy .yaml reports
    for name, m in ms:
        v = judge(m)
        assert isinstance(v, Verdict), name
        assert v.evidence, name
        assert all(isinstance(e, str) and e for e in v.evidence), name
        assert 0.0 <= v.confidence <= 1.0
        if v.status is Status.FAILURE:
            assert v.failure, name


def manifest_flags(ooni: Path) -> dict[str, tuple[bool, bool, bool]]:
    """file -> (anomaly, confirmed, failure) from the MANIFEST's 'fastpath (recomputed)' column."""
    out: dict[str, tuple[bool, bool, bool]] = {}
    for line in (ooni / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for c in cells:
            m = re.match(r"anomaly=(\w+) confirmed=(\w+) failure=(\w+)", c)
            if m:
                a, cf, f = (x == "True" for x in m.groups())
                out[cells[0]] = (a, cf, f)
                break
    return out


def find(ooni: Path, name: str) -> dict[str, Any]:
    base, _, idx = name.partition("#")
    path = next(p for p in ooni.rglob(base))
    text = path.read_text(encoding="utf-8")
    obj = json.loads(text.splitlines()[int(idx)] if idx else text)
    assert isinstance(obj, dict)
    return obj


# file -> (our anomaly, confirmed, failure), and why ours is right where OONI's flags differ.
PINNED: dict[str, tuple[tuple[bool, bool, bool], str]] = {
    "bug_351.json": ((False, False, True),
                     "unknown_failure ('ascii' codec) is a probe bug: no network fact, so no anomaly either"),
    "requests_none.json": ((False, False, False),
                           "wikispaces.com closed in 2018: the control resolved only a CNAME, no address, and its "
                           "own request failed with dns_lookup_error, so the site is down, not blocked"),
    "web_connectivity_null2.json": ((False, False, False),
                                    "the probe left blocking=null (backend#610) but the raw facts judge: the "
                                    "certificate is invalid and the control fails too, so the site is down"),
    "manual_8844.measurement.json": ((False, False, False),
                                     "an IP-address URL has no DNS step; the probe left blocking=null but the page "
                                     "matched the control's, so it is accessible"),
    "manual_dnsgoogle80.measurement.json": ((False, False, False),
                                            "port 80 of dns.google times out for the control too: down, a usable "
                                            "measurement rather than a failed one"),
    "ts-025-stun-reachability__ex1.json": ((False, False, False),
                                           "fastpath only knows the name 'stunreachability'; this STUN server "
                                           "answered, which is a usable result"),
    "ts-024-sni-blocking__ex1.json": ((False, False, False),
                                      "fastpath scores no sni_blocking; the target SNI got ssl_invalid_hostname, "
                                      "which proves the ClientHello reached the server: not blocked"),
    "ts-027-urlgetter__ex1.json": ((False, False, False),
                                   "fastpath scores no urlgetter; the fetch succeeded, which is a usable result"),
    "ts-028-dnscheck__ex1.json": ((False, False, False),
                                  "fastpath scores no dnscheck; DoT lookups over IPv4 worked (IPv6 had no route)"),
    "cloudflareCAPTCHAWithHTTP.measurement.json": ((False, False, False),
                                                   "a Cloudflare challenge page is the site's bot protection, not "
                                                   "censorship (OONI calls it http-diff)"),
    "redirectWithBrokenLocationForHTTP.measurement.json": ((False, False, False),
                                                           "the site itself sent Location: http:// ; the response "
                                                           "reached the probe, so nothing interfered"),
    "redirectWithBrokenLocationForHTTPS.measurement.json": ((False, False, False),
                                                            "the broken redirect came over valid TLS: it is the "
                                                            "site's own answer"),
    "redirectWithMoreThanTenRedirectsAndHTTP.measurement.json": ((False, False, False),
                                                                 "the site redirects in a loop and the control "
                                                                 "fails too: down, not a failed measurement"),
    "redirectWithMoreThanTenRedirectsAndHTTPS.measurement.json": ((False, False, False),
                                                                  "same loop over HTTPS: down"),
}


def test_manifest_parsed(ooni: Path) -> None:
    flags = manifest_flags(ooni)
    assert len(flags) >= 130
    assert flags["bug_352.json"] == (True, True, False)


def test_agreement_with_ooni_flags(ooni: Path, judge: Judge) -> None:
    """Every MANIFEST row agrees with OONI's anomaly/confirmed/failure, or is pinned below with a reason."""
    flags = manifest_flags(ooni)
    agree = 0
    for name, expected in flags.items():
        v = judge(find(ooni, name))
        ours = (v.anomaly, v.confirmed, v.failure)
        if name in PINNED:
            assert ours != expected, f"{name} now agrees with OONI: unpin it"
            assert ours == PINNED[name][0], (name, v.evidence)
        else:
            assert ours == expected, (name, v.status, v.evidence)
            agree += 1
    assert agree == len(flags) - len(PINNED)
    assert agree >= 115


@pytest.mark.parametrize("name", sorted(PINNED), ids=lambda n: n.split(".")[0])
def test_pinned_disagreement_reason(name: str, ooni: Path, judge: Judge) -> None:
    """Each pinned disagreement: our verdict carries the evidence that makes OONI's flag wrong."""
    v = judge(find(ooni, name))
    assert (v.anomaly, v.confirmed, v.failure) == PINNED[name][0]
    assert v.status is not Status.BLOCKED
    assert v.evidence


def test_cloudflare_challenge_is_not_censorship(ooni: Path, judge: Judge) -> None:
    """OONI: http-diff anomaly. Ours: the site's CDN served a bot check; the network delivered it intact."""
    v = judge(find(ooni, "cloudflareCAPTCHAWithHTTP.measurement.json"))
    assert v.status is Status.OK
    assert any("challenge" in e for e in v.evidence)


def test_wikispaces_closed_site_is_down_not_dns_blocked(ooni: Path, judge: Judge) -> None:
    """OONI: dns anomaly. Ours: the control found no address for the name either, so nothing is censored."""
    v = judge(find(ooni, "requests_none.json"))
    assert v.status is Status.DOWN and v.method is Method.DNS


def test_probe_bug_is_failure_without_anomaly(ooni: Path, judge: Judge) -> None:
    """OONI: anomaly+failure. Ours: an internal probe error observed nothing about the network."""
    v = judge(find(ooni, "bug_351.json"))
    assert v.status is Status.FAILURE and not v.anomaly
    assert "unknown_failure" in v.evidence[0]


def test_fingerprint_confirmations(ooni: Path, judge: Judge) -> None:
    """MANIFEST: archive.org in ID and facebook in IR are confirmed with these fingerprint ids."""
    cases = {
        "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json": ("ooni.id_lamanlabuh_kominfo", Method.BLOCKPAGE),
        "web_connectivity_ir_fp.json": ("ooni.ir_10dot10_ipv4_1", Method.DNS),
        "bug_352.json": ("ooni.ir_10dot10_ipv4_1", Method.DNS),
    }
    for name, (fp, method) in cases.items():
        v = judge(find(ooni, name))
        assert v.status is Status.BLOCKED and v.confirmed and v.anomaly, name
        assert v.blockpage_fingerprint == fp
        assert v.method is method


def test_without_fingerprints_nothing_is_confirmed(ooni: Path) -> None:
    plain = Judge()
    for name in ("web_connectivity_ir_fp.json", "20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json"):
        v = plain(find(ooni, name))
        assert not v.confirmed and v.blockpage_fingerprint is None


def test_corrupt_base64_body_is_failure(ooni: Path, judge: Judge) -> None:
    """With or without fingerprints (bodies are not decoded without them, the truncation is still seen)."""
    for j in (judge, Judge()):
        v = j(find(ooni, "web_connectivity_b64_incorrect.json"))
        assert v.status is Status.FAILURE and v.failure
        assert "base64" in v.evidence[0]


def test_null_test_keys_is_failure(ooni: Path, judge: Judge) -> None:
    v = judge(find(ooni, "test_keys_none.json"))
    assert v.status is Status.FAILURE and "test_keys" in v.evidence[0]


def test_icloud_private_relay_is_not_dns_blocking(ooni: Path, judge: Judge) -> None:
    """probe#2517 (PK, mask.icloud.com): the probe said dns. The answers differ from the control's (Akamai vs
    Apple), but TLS to the control's own Apple addresses fails with eof_error for the probe and for the
    control alike: the name does not serve TLS to anyone, so the different answer is not the cause."""
    (m,) = [m for name, m in real_measurements(ooni) if name.endswith(".jsonc")]
    v = judge(m)
    assert (v.status, v.method) == (Status.DOWN, Method.TLS)
    assert "not the cause" in v.evidence[-1]


def test_untagged_v05_judges_only_the_probes_own_addresses(ooni: Path, judge: Judge) -> None:
    """v0.5 before 0.5.28 also connects to addresses only the test helper resolved; those must not hide a
    hijacked answer. Here the resolver's (made-up) answer refuses connections while the helper's work."""
    m = find(ooni, "manual_youtube.measurement.json")
    assert judge(m).status is Status.OK
    tk = m["test_keys"]
    tk["queries"] = [{"engine": "getaddrinfo", "hostname": "www.youtube.com", "query_type": "ANY", "failure": None,
                      "tags": ["depth=0"], "answers": [{"answer_type": "A", "ipv4": "5.6.7.8", "asn": 3320}]}]
    tk["tcp_connect"].append({"ip": "5.6.7.8", "port": 443, "tags": ["depth=0", "fetch_body=true"],
                              "status": {"success": False, "failure": "connection_refused"}})
    v = judge(m)
    assert (v.status, v.method) == (Status.BLOCKED, Method.DNS)
    assert "5.6.7.8" in v.evidence[0]
