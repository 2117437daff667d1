"""The comparison keys OONI's classic web_connectivity writes next to its observations (pure, no I/O).

dns_consistency, body_length_match/body_proportion, status_code_match, headers_match, title_match, then
blocking/accessible from them, as ooni/spec ts-017 describes. Our judge re-derives its verdict from the raw
observations; these keys are here so OONI's own tools read our measurements as they read theirs.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

BODY_PROPORTION_THRESHOLD = 0.7
# Headers every server sends; only the uncommon ones say which server answered (ts-017).
COMMON_HEADERS = frozenset(h.lower() for h in (
    "Date", "Content-Type", "Server", "Cache-Control", "Vary", "Set-Cookie", "Location", "Expires",
    "X-Powered-By", "Content-Encoding", "Last-Modified", "Accept-Ranges", "Pragma", "X-Frame-Options",
    "Etag", "X-Content-Type-Options", "Age", "Via", "P3P", "X-XSS-Protection", "Content-Language",
    "Cf-Ray", "Strict-Transport-Security", "Link", "X-Varnish", "Content-Length", "Connection",
    "Transfer-Encoding", "Keep-Alive"))
WORD = re.compile(r"\w+", re.UNICODE)


def _addrs(tk: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for q in tk.get("queries") or []:
        for a in q.get("answers") or []:
            v = a.get("ipv4") or a.get("ipv6")
            if v:
                out.add(v)
    return out


def _bogon(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not a.is_global


def dns_consistency(tk: dict[str, Any], ctl: dict[str, Any]) -> str | None:
    cdns = ctl.get("dns") or {}
    probe_fail = tk.get("dns_experiment_failure")
    ctl_fail = cdns.get("failure")
    probe, control = _addrs(tk), set(cdns.get("addrs") or [])
    if not tk.get("queries"):
        return None  # an IP address as input: nothing to compare
    if probe_fail or ctl_fail:
        return "consistent" if probe_fail == ctl_fail else "inconsistent"
    if probe & control:
        return "consistent"
    if any(_bogon(a) for a in probe) and not any(_bogon(a) for a in control):
        return "inconsistent"
    # answers differ (CDNs do that): a verified handshake for the name on the probe's address vouches for it
    if any(h.get("failure") is None and not h.get("no_tls_verify") for h in tk.get("tls_handshakes") or []):
        return "consistent"
    return "inconsistent"


def _title_words(title: str) -> list[str]:
    return [w for w in WORD.findall(title.lower()) if len(w) >= 5]


def compare(tk: dict[str, Any], url: str) -> dict[str, Any]:
    """The classic comparison keys, from the test_keys already collected and the control's answer."""
    out: dict[str, Any] = {"dns_consistency": None, "body_length_match": None, "body_proportion": None,
                           "status_code_match": None, "headers_match": None, "title_match": None,
                           "blocking": None, "accessible": None}
    ctl = tk.get("control") or {}
    if tk.get("control_failure") or not ctl:
        return out
    out["dns_consistency"] = dns_consistency(tk, ctl)
    chttp = ctl.get("http_request") or {}
    final = (tk.get("requests") or [None])[0]
    probe_ok = final is not None and tk.get("http_experiment_failure") is None
    ctl_ok = chttp.get("failure") is None and (chttp.get("status_code") or 0) > 0
    if probe_ok and ctl_ok:
        resp = final["response"]
        code = resp.get("code") or 0
        out["status_code_match"] = code == chttp.get("status_code")
        blen = final.get("x_body_length") or 0
        clen = chttp.get("body_length") or 0
        if blen > 0 and clen > 0 and not resp.get("body_is_truncated"):
            out["body_proportion"] = min(blen, clen) / max(blen, clen)
            out["body_length_match"] = out["body_proportion"] > BODY_PROPORTION_THRESHOLD
        ph = {k.lower() for k in resp.get("headers") or {}} - COMMON_HEADERS
        ch = {k.lower() for k in chttp.get("headers") or {}} - COMMON_HEADERS
        out["headers_match"] = bool(ph & ch) if (ph or ch) else True
        cwords = _title_words(chttp.get("title") or "")
        if cwords:
            ptitle = tk.get("x_title") or ""
            out["title_match"] = cwords[0] in _title_words(ptitle)
    # blocking, in ts-017's order of evidence
    tcp_ok_ctl = any(v.get("status") for v in (ctl.get("tcp_connect") or {}).values())
    probe_tcp = [t for t in tk.get("tcp_connect") or [] if "depth=0" in (t.get("tags") or [])]
    all_tcp_failed = bool(probe_tcp) and not any(t["status"]["success"] for t in probe_tcp)
    if probe_ok and ctl_ok:
        diff = (out["status_code_match"] is False or
                (out["body_length_match"] is False and out["headers_match"] is False and out["title_match"] is not True))
        if not diff:
            out.update(blocking=False, accessible=True)
        elif out["dns_consistency"] == "inconsistent":
            out.update(blocking="dns", accessible=False)
        else:
            out.update(blocking="http-diff", accessible=False)
        return out
    if not ctl_ok and not probe_ok:
        out.update(blocking=False, accessible=False)  # down for the control too
        return out
    if not ctl_ok:
        out.update(blocking=None, accessible=None)  # the control failed where we did not: cannot say
        return out
    if out["dns_consistency"] == "inconsistent":
        out.update(blocking="dns", accessible=False)
    elif all_tcp_failed and tcp_ok_ctl:
        out.update(blocking="tcp_ip", accessible=False)
    else:
        out.update(blocking="http-failure", accessible=False)
    return out
