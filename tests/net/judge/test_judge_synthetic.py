"""The 50 netem scenarios of OONI's web_connectivity QA: the scenario name is the ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ayiq.core.verdict import Method, Status
from ayiq.net.judge import Judge

B, OK, DOWN, INC = Status.BLOCKED, Status.OK, Status.DOWN, Status.INCONCLUSIVE
DNS, TCP, TLS, HF, HD = Method.DNS, Method.TCP_IP, Method.TLS, Method.HTTP_FAILURE, Method.HTTP_DIFF

# scenario -> (status, method or None when any/none). Censorship scenarios must be BLOCKED with the stage that
# the name states; the others must not be BLOCKED.
EXPECTED: dict[str, tuple[Status, Method | None]] = {
    "badSSLWithExpiredCertificate": (DOWN, TLS),  # the site's own certificate: the control fails the same way
    "badSSLWithUnknownAuthorityWithConsistentDNS": (DOWN, TLS),
    "badSSLWithUnknownAuthorityWithInconsistentDNS": (B, DNS),  # hijacked to a server with a bad certificate
    "badSSLWithWrongServerName": (DOWN, TLS),
    "cloudflareCAPTCHAWithHTTP": (OK, None),  # CDN bot check: the site's choice, not the network's
    "cloudflareCAPTCHAWithHTTPS": (OK, None),
    "controlFailureWithSuccessfulHTTPSWebsite": (OK, None),  # valid TLS: the page is the site's
    "controlFailureWithSuccessfulHTTPWebsite": (INC, None),  # plain HTTP without control: cannot compare
    "dnsBlockingAndroidDNSCacheNoData": (B, DNS),
    "dnsBlockingBOGON": (B, DNS),
    "dnsBlockingNXDOMAIN": (B, DNS),
    "dnsHijackingToLocalhostWithHTTP": (B, DNS),
    "dnsHijackingToLocalhostWithHTTPS": (B, DNS),
    "dnsHijackingToProxyWithHTTPSURL": (OK, None),  # transparent proxy; page identical, TLS valid
    "dnsHijackingToProxyWithHTTPURL": (OK, None),
    "ghostDNSBlockingWithHTTP": (B, DNS),
    "ghostDNSBlockingWithHTTPS": (B, DNS),
    "httpBlockingConnectionReset": (B, HF),
    "httpDiffWithConsistentDNS": (B, HD),
    "httpDiffWithInconsistentDNS": (B, HD),  # the answer is TLS-valid for the name, the page differs
    "idnaWithoutCensorshipLowercase": (OK, None),
    "idnaWithoutCensorshipWithFirstLetterUppercase": (OK, None),
    "largeFileWithHTTP": (OK, None),
    "largeFileWithHTTPS": (OK, None),
    "localhostWithHTTP": (DOWN, None),  # the name really is 127.0.0.1, for the control too
    "localhostWithHTTPS": (DOWN, None),
    "redirectWithBrokenLocationForHTTP": (INC, None),  # the site's broken Location header
    "redirectWithBrokenLocationForHTTPS": (INC, None),
    # Ambiguous by name, decided: the short link works, the redirect *target* is censored -> BLOCKED, with
    # the stage where the target failed (the control followed the same chain to the page).
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTP": (B, TCP),
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTPS": (B, TCP),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTP": (B, HF),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTPS": (B, TLS),
    "redirectWithConsistentDNSAndThenEOFForHTTP": (B, HF),
    "redirectWithConsistentDNSAndThenEOFForHTTPS": (B, TLS),
    "redirectWithConsistentDNSAndThenNXDOMAIN": (B, DNS),
    "redirectWithConsistentDNSAndThenTimeoutForHTTP": (B, HF),
    "redirectWithConsistentDNSAndThenTimeoutForHTTPS": (B, TLS),
    "redirectWithMoreThanTenRedirectsAndHTTP": (DOWN, HF),  # the site loops; the control fails too
    "redirectWithMoreThanTenRedirectsAndHTTPS": (DOWN, HF),
    "successWithHTTP": (OK, None),
    "successWithHTTPS": (OK, None),
    "tcpBlockingConnectTimeout": (B, TCP),
    "tcpBlockingConnectionRefusedWithInconsistentDNS": (B, DNS),
    "throttlingWithHTTP": (B, HF),  # download stalls mid-body; no throughput data to say more
    "throttlingWithHTTPS": (B, HF),
    "tlsBlockingConnectionResetWithConsistentDNS": (B, TLS),
    "tlsBlockingConnectionResetWithInconsistentDNS": (B, TLS),  # the other address is TLS-valid: TLS is the block
    "websiteDownNXDOMAIN": (DOWN, DNS),
    "websiteDownNoAddrs": (DOWN, DNS),
    "websiteDownTCPConnect": (DOWN, TCP),
}

CENSORED_PREFIXES = ("dnsBlocking", "dnsHijackingToLocalhost", "ghostDNSBlocking", "tcpBlocking", "tlsBlocking",
                     "httpBlocking", "httpDiff", "throttling", "redirectWithConsistentDNSAndThen")
CENSORED_EXACT = ("badSSLWithUnknownAuthorityWithInconsistentDNS",)


def scenarios(ooni: Path) -> list[Path]:
    return sorted((ooni / "synthetic" / "netem_webconnectivity_qa").glob("*.measurement.json"))


def test_every_scenario_has_an_expectation(ooni: Path) -> None:
    names = {p.name.removesuffix(".measurement.json") for p in scenarios(ooni)}
    assert len(names) == 50
    assert names == set(EXPECTED)


def test_expectations_follow_the_names() -> None:
    """The table itself is checked against the rule in the issue: censored names are BLOCKED, others are not."""
    for name, (status, _) in EXPECTED.items():
        censored = name.startswith(CENSORED_PREFIXES) or name in CENSORED_EXACT
        assert (status is B) == censored, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario(name: str, ooni: Path, judge: Judge, load: Any) -> None:
    m = load(ooni / "synthetic" / "netem_webconnectivity_qa" / f"{name}.measurement.json")
    v = judge(m)
    status, method = EXPECTED[name]
    assert v.status is status, v.evidence
    if method is not None:
        assert v.method is method, v.evidence
    assert v.evidence and all(isinstance(e, str) and e for e in v.evidence)
    assert v.judge == "web_connectivity"
    assert v.anomaly == (v.status is B)


def test_tls_after_clienthello_evidence(ooni: Path, judge: Judge, load: Any) -> None:
    """Azerbaijan's pattern: the handshake dies after the ClientHello while the control completes it."""
    v = judge(load(ooni / "synthetic" / "netem_webconnectivity_qa" /
                   "tlsBlockingConnectionResetWithConsistentDNS.measurement.json"))
    assert v.method is Method.TLS
    assert any("after the ClientHello" in e and "the control completed it" in e for e in v.evidence)
