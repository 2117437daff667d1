"""web_connectivity (every version, 0.0.1 to 0.5.x): where along DNS -> TCP -> TLS -> HTTP did the page fail,
and did the control (OONI's test helper, outside the network) see the same thing?

The rules follow OONI's published logic, with these changes: TLS interference is its own method; a handshake
that dies after the ClientHello while the control completes it is blocking; CDN challenges and sites' own
geo-blocks are not censorship; bogon answers are DNS blocking; failures the control shares mean the site is down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ayiq.core.verdict import Method, Status, Verdict
from ayiq.net.judge import dns as dnsrules
from ayiq.net.judge.base import (
    JSON,
    Context,
    broken,
    d,
    i,
    lst,
    s,
    unknown_failure,
    verdict,
)
from ayiq.net.judge.fingerprints import Fingerprint
from ayiq.net.judge.http import (
    CorruptBody,
    Response,
    compare_with_control,
    is_challenge,
    is_geoblock,
    parse_response,
)

JUDGE = "web_connectivity"
AFTER_HELLO = {
    "generic_timeout_error": "timed out after the ClientHello",
    "connection_reset": "was reset after the ClientHello",
    "eof_error": "was closed (EOF) after the ClientHello",
}
CERT_ERRORS = frozenset({"ssl_invalid_certificate", "ssl_unknown_authority", "ssl_invalid_hostname"})
# A redirect loop is the site's behaviour, recorded by the probe as unknown_failure; it is not a probe bug.
_SITE_FAILURES = ("redirects",)


@dataclass(slots=True)
class Tcp:
    ip: str
    port: int
    ok: bool
    failure: str | None
    depth: int


@dataclass(slots=True)
class Tls:
    address: str
    sni: str
    ok: bool
    failure: str | None
    depth: int
    verified: bool


@dataclass(slots=True)
class Obs:
    """The facts of one measurement, normalised across versions (v0.5 keeps only the 'classic' chain)."""

    host: str
    scheme: str
    port: int
    tagged: bool
    addrs: list[str] = field(default_factory=list)
    asns: dict[str, int] = field(default_factory=dict)
    dns_failure: str | None = None
    dns_at_depth: dict[int, tuple[list[str], str | None]] = field(default_factory=dict)
    tcp: list[Tcp] = field(default_factory=list)
    tls: list[Tls] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)  # classic chain, newest first
    all_responses: list[Response] = field(default_factory=list)
    all_answers: list[str] = field(default_factory=list)
    fingerprint_where: dict[str, str] = field(default_factory=dict)  # fingerprint id -> where it matched


_UNTAGGED = (False, 0)


def _tags(e: JSON) -> tuple[bool, int]:
    """(tagged 'classic', depth) of one entry; untagged entries are depth 0."""
    tags = e.get("tags")
    if not tags or not isinstance(tags, list):
        return _UNTAGGED
    depth = 0
    for tag in tags:
        if isinstance(tag, str) and tag.startswith("depth="):
            n = tag[6:]
            depth = int(n) if n.isascii() and n.isdigit() and len(n) < 6 else 0
    return "classic" in tags, depth


def _collect(tk: JSON, host: str, scheme: str, port: int, want_all: bool) -> Obs:
    """Normalise the facts; ``want_all`` keeps every answer and response (for fingerprint matching)."""
    queries = [q for q in lst(tk.get("queries")) if isinstance(q, dict)]
    tcps = [t for t in lst(tk.get("tcp_connect")) if isinstance(t, dict)]
    reqs = [r for r in lst(tk.get("requests")) if isinstance(r, dict)]
    # v0.5.28+ tags the system resolver's chain "classic"; other resolvers' answers are extra evidence.
    tagged = any(isinstance(tg := e.get("tags"), list) and "classic" in tg
                 for group in (queries, tcps, reqs) for e in group)
    o = Obs(host=host, scheme=scheme, port=port, tagged=tagged)

    for q in queries:
        classic, depth = _tags(q)
        use = classic or not tagged
        if not use and not want_all:
            continue
        addrs: list[str] = []
        for a in lst(q.get("answers")):
            if not isinstance(a, dict):
                continue
            v = a.get("ipv4") or a.get("ipv6")
            if not isinstance(v, str):
                hn = a.get("hostname")
                if want_all and isinstance(hn, str) and hn:
                    o.all_answers.append(hn)
                continue
            if want_all:
                o.all_answers.append(v)
            if use:
                addrs.append(v)
                n = i(a.get("asn"))
                if n:
                    o.asns[v] = n
        if not use:
            continue
        prev, prev_fail = o.dns_at_depth.get(depth, ([], None))
        o.dns_at_depth[depth] = (prev + [a for a in addrs if a not in prev], prev_fail or s(q.get("failure")))
    first = o.dns_at_depth.get(0, ([], None))
    o.addrs, o.dns_failure = first[0], (None if first[0] else first[1])
    # v0.5 before 0.5.28 has depth tags but no "classic" one, and also tries the addresses only the test
    # helper resolved; keep the probe's own view (addresses its resolvers returned).
    own: set[str] | None = None
    if not tagged and any(isinstance(e.get("tags"), list) and e["tags"] for e in tcps):
        own = {a for addrs_, _ in o.dns_at_depth.values() for a in addrs_} or None
    if not o.addrs and o.dns_failure is None:
        o.dns_failure = s(tk.get("dns_experiment_failure"))

    for tc in tcps:
        classic, depth = _tags(tc)
        if tagged and not classic:
            continue
        st = d(tc.get("status"))
        ip = s(tc.get("ip"))
        p = i(tc.get("port"))
        if ip is None or p is None or (own is not None and depth == 0 and ip not in own):
            continue
        success = st.get("success")
        ok = success is True or (success is None and "success" not in st and st.get("failure") is None)
        o.tcp.append(Tcp(ip, p, bool(ok), s(st.get("failure")), depth))
    for h in lst(tk.get("tls_handshakes")):
        if not isinstance(h, dict):
            continue
        classic, depth = _tags(h)
        if tagged and not classic:
            continue
        fail = s(h.get("failure"))
        if own is not None and depth == 0 and (s(h.get("address")) or "").rsplit(":", 1)[0].strip("[]") not in own:
            continue
        o.tls.append(Tls(s(h.get("address")) or "", s(h.get("server_name")) or "", fail is None, fail, depth,
                         h.get("no_tls_verify") is not True))
    for r in reqs:
        classic, depth = _tags(r)
        use = classic or not tagged
        if not use and not want_all:
            continue
        resp = parse_response(r, depth)
        if want_all:
            o.all_responses.append(resp)
        addr = s(r.get("address"))
        if use and (own is None or depth > 0 or addr is None or addr.rsplit(":", 1)[0].strip("[]") in own):
            o.responses.append(resp)
    if tagged:  # newest first, as older versions store them
        o.responses.sort(key=lambda x: -x.depth)
    return o


SCAN_LIMIT = 128 * 1024  # blockpages are small; the tail of a large page adds cost, not evidence
SMALL_BODY = 16 * 1024


def _worth_scanning(r: Response, control_length: int | None) -> bool:
    """Scan a body for blockpages unless it is a large page of about the control's size (the real page)."""
    n = r.body_length()
    if r.truncated:
        return False  # the probe cut it at its size limit: far larger than any blockpage
    if n is None or n <= SMALL_BODY or control_length is None or control_length <= 0:
        return True
    return not (min(n, control_length) / max(n, control_length) > 0.7)


def _match_fingerprints(
    o: Obs, ctx: Context, control_length: int | None
) -> tuple[list[Fingerprint], list[Fingerprint], list[str]]:
    """(dns matches, http matches, problems) over every answer and every response, like OONI's fastpath."""
    fps = ctx.fingerprints
    if fps is None:
        return [], [], []
    dns_m: list[Fingerprint] = fps.match_answers(o.all_answers)
    http_m: list[Fingerprint] = []
    where: dict[str, str] = {}
    problems: list[str] = []
    for r in o.all_responses:
        if r.headers:
            for fp in fps.match_headers(r.headers):
                http_m.append(fp)
                name = fp.location[7:]
                where.setdefault(fp.name, f"the {name.title()} header of the response for {r.url or 'a request'} "
                                          f"({(r.header(name) or '')[:80]!r})")
        if not _worth_scanning(r, control_length):
            continue
        try:
            body = r.body()
        except CorruptBody as exc:
            problems.append(f"the body of {r.url or 'a response'} is corrupt ({exc})")
            continue
        if body:
            for fp in fps.match_body(body[:SCAN_LIMIT]):
                http_m.append(fp)
                where.setdefault(fp.name, f"the page returned for {r.url or 'a request'} (HTTP {r.code})")
    o.fingerprint_where = where
    return dns_m, http_m, problems


def _fmt_fail(f: str | None) -> str:
    return f or "an unknown error"


def judge_web_connectivity(m: JSON, ctx: Context) -> Verdict:
    tk = m.get("test_keys")
    if not isinstance(tk, dict):
        return broken(JUDGE, "test_keys is null: the probe recorded no observations")
    url = s(m.get("input"))
    if not url:
        return broken(JUDGE, "no input URL in the measurement")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return broken(JUDGE, f"input {url!r} is not a valid URL")
    if not host or parts.scheme not in ("http", "https"):
        return broken(JUDGE, f"input {url!r} is not an http(s) URL")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    o = _collect(tk, host, parts.scheme, port, ctx.fingerprints is not None)
    return _judge(m, tk, o, ctx)


def _judge(m: JSON, tk: JSON, o: Obs, ctx: Context) -> Verdict:
    ev: list[str] = []
    dns_m, http_m, problems = _match_fingerprints(o, ctx, i(d(d(tk.get("control")).get("http_request")).get("body_length")))
    cc = ctx.probe_cc

    # 1. A blockpage fingerprint that confirms blocking settles it (OONI's "confirmed").
    for fp in http_m:
        if fp.confirms_in(cc):
            found = o.fingerprint_where.get(fp.name, "a response")
            return verdict(JUDGE, Status.BLOCKED, Method.BLOCKPAGE, 0.97,
                           [f"{found[0].upper()}{found[1:]} matches OONI's known blockpage fingerprint {fp.name} "
                            f"({fp.pattern_type} {fp.pattern[:60]!r}{_where_expected(fp)})", *problems],
                           fingerprint=fp.name, confirmed=True)
    for fp in dns_m:
        if fp.confirms_in(cc):
            return verdict(JUDGE, Status.BLOCKED, Method.DNS, 0.97,
                           [f"The probe's resolver answered {fp.pattern} for {o.host}, OONI's known blocking "
                            f"address {fp.name}{_where_expected(fp)}", *problems],
                           fingerprint=fp.name, confirmed=True)
    for r in o.responses:  # checked without decoding, so with or without fingerprints
        why = r.corrupt()
        if why is not None:
            problems.append(f"the response for {r.url or 'a request'} has {why}")
    if problems:
        return broken(JUDGE, f"{problems[0]}: the measurement cannot be checked for blockpages")

    # 2. Probe bugs: OONI's df-007 'unknown_failure' strings say the probe itself broke.
    for key in ("dns_experiment_failure", "http_experiment_failure", "control_failure"):
        v = tk.get(key)
        if unknown_failure(v) and not any(x in str(v) for x in _SITE_FAILURES):
            return broken(JUDGE, f"the probe failed internally ({key}: {str(v)[:120]}); nothing was measured")

    control = d(tk.get("control"))
    control_failure = s(tk.get("control_failure"))
    has_control = bool(control) and control_failure is None
    cdns = d(control.get("dns"))
    c_addrs = [a for a in lst(cdns.get("addrs")) if isinstance(a, str) and dnsrules.is_ip(a)]
    c_dns_fail = s(cdns.get("failure"))
    ip_info = d(control.get("ip_info"))
    c_asns = {k: n for k, v in ip_info.items() if (n := i(d(v).get("asn")))}
    valid_by_th = {k for k, v in ip_info.items() if (i(d(v).get("flags")) or 0) & 8}
    c_http = d(control.get("http_request"))
    c_http_fail = s(c_http.get("failure"))
    c_code = i(c_http.get("status_code"))
    c_http_ok = has_control and bool(c_http) and c_http_fail is None and (c_code or 0) > 0
    c_tcp = d(control.get("tcp_connect"))
    c_tls = d(control.get("tls_handshake"))
    dns_fp_hint = next((fp for fp in dns_m if fp.is_blockpage), None)

    # 3. DNS for the input's name.
    dns_inconsistent = False
    dns_reason = ""
    if not o.addrs and o.dns_failure:
        f = o.dns_failure
        if not has_control:
            return _no_control(o, control_failure, [f"The probe's resolver failed for {o.host} ({f})"])
        if c_addrs:
            conf = 0.85 if f in dnsrules.NXDOMAIN or f in dnsrules.NO_ANSWER else 0.65
            return verdict(JUDGE, Status.BLOCKED, Method.DNS, conf,
                           [f"The probe's resolver failed for {o.host} with {f}; the control resolved it to "
                            f"{', '.join(c_addrs[:3])}"])
        return verdict(JUDGE, Status.DOWN, Method.DNS, 0.8,
                       [f"The probe's resolver failed for {o.host} with {f}; the control could not resolve it to "
                        f"an address either ({c_dns_fail or 'no addresses'}): the name does not work anywhere"])
    if o.addrs:
        tls_valid = {t.address.rsplit(":", 1)[0].strip("[]") for t in o.tls
                     if t.ok and t.verified and t.sni == o.host}
        cmp = dnsrules.compare(o.addrs, {**c_asns, **o.asns}, c_addrs, c_asns, tls_valid | valid_by_th,
                               c_dns_fail in dnsrules.NXDOMAIN)
        shown = ", ".join(o.addrs[:3])
        if cmp.bogons and len(cmp.bogons) == len(o.addrs) and not cmp.control_bogon and has_control:
            a, kind = cmp.bogons[0]
            ctl_desc = f"the control got {', '.join(c_addrs[:3])}" if c_addrs else "the control got no such address"
            return verdict(JUDGE, Status.BLOCKED, Method.DNS, 0.92,
                           [f"The probe's resolver answered {a} for {o.host}, a {kind} address no public site "
                            f"uses; {ctl_desc}"],
                           fingerprint=dns_fp_hint.name if dns_fp_hint else None)
        # Private or reserved addresses on both sides mean "not on the public Internet", unless the control
        # fetched the page through them: then it is a private network (a lab, an intranet) and is judged.
        if cmp.control_bogon and cmp.consistent and not c_http_ok:
            return verdict(JUDGE, Status.DOWN, None, 0.8,
                           [f"{o.host} resolves to {shown} for the probe and for the control: the site is not on "
                            "the public Internet, so there is nothing to censor"])
        if cmp.consistent is False:
            dns_inconsistent = True
            dns_reason = (f"The probe's resolver answered {shown} for {o.host}; the control "
                          + (f"got {', '.join(c_addrs[:3])}" if c_addrs else f"failed ({c_dns_fail})")
                          + f" ({cmp.reason})")
            dns_reason += dnsrules.injection_note(tk, o.addrs)
        elif cmp.consistent:
            ev.append(f"DNS answers for {o.host} agree with the control ({cmp.reason})")

    def blocked_dns(conf: float, why: str) -> Verdict:
        return verdict(JUDGE, Status.BLOCKED, Method.DNS, conf, [dns_reason, why],
                       fingerprint=dns_fp_hint.name if dns_fp_hint else None)

    # 4. TCP to the addresses the probe's resolver gave (depth 0, the input's port).
    tcp0 = [t for t in o.tcp if t.depth == 0 and t.port == o.port]
    if tcp0 and not any(t.ok for t in tcp0):
        c0 = tcp0[0]
        what = f"TCP connect to {c0.ip}:{c0.port} failed ({_fmt_fail(c0.failure)})"
        if dns_inconsistent:
            shared = _control_all_failed(c_tcp, c_addrs)
            if shared is not None:
                return verdict(JUDGE, Status.DOWN, Method.TCP_IP, 0.7,
                               [dns_reason, f"{what}; the control could not connect to its own addresses either "
                                            f"({shared}), so the different answer is not the cause"])
            return blocked_dns(0.85, what)
        if not has_control:
            return _no_control(o, control_failure, [what])
        ctl = [d(c_tcp.get(f"{x.ip}:{x.port}")) for x in tcp0]
        if any(c.get("status") is True for c in ctl):
            return verdict(JUDGE, Status.BLOCKED, Method.TCP_IP, 0.85,
                           ev + [f"{what}; the control connected to the same address"])
        if any(c.get("status") is False for c in ctl):
            cf = next((s(c.get("failure")) for c in ctl if c.get("status") is False), None)
            return verdict(JUDGE, Status.DOWN, Method.TCP_IP, 0.8,
                           ev + [f"{what}; the control could not connect either ({_fmt_fail(cf)})"])
        if c_http_ok:
            return verdict(JUDGE, Status.BLOCKED, Method.TCP_IP, 0.65,
                           ev + [f"{what}; the control fetched the page (HTTP {c_code})"])
        return verdict(JUDGE, Status.DOWN, Method.TCP_IP, 0.6,
                       ev + [f"{what}; the control's request failed too ({_fmt_fail(c_http_fail)})"])

    # 5. TLS with the input's name (HTTPS), judged on its own rather than folded into HTTP.
    tls0 = [t for t in o.tls if t.depth == 0 and (t.sni == o.host or not t.sni)]
    if o.scheme == "https" and tls0 and not any(t.ok for t in tls0):
        h0 = tls0[0]
        how = AFTER_HELLO.get(h0.failure or "", f"failed ({_fmt_fail(h0.failure)})")
        what = f"TLS handshake with {h0.address} (SNI {h0.sni or o.host}) {how}"
        if dns_inconsistent:
            shared = _control_all_failed(c_tls, c_addrs)
            if shared is not None:
                return verdict(JUDGE, Status.DOWN, Method.TLS, 0.7,
                               [dns_reason, f"{what}; the control's handshakes with its own addresses failed too "
                                            f"({shared}), so the different answer is not the cause"])
            return blocked_dns(0.85, what)
        if not has_control:
            return _no_control(o, control_failure, [what])
        ct = d(c_tls.get(h0.address))
        if ct.get("status") is False or (not ct and not c_http_ok):
            cf = s(ct.get("failure")) or c_http_fail
            return verdict(JUDGE, Status.DOWN, Method.TLS, 0.8,
                           ev + [f"{what}; the control failed the same way ({_fmt_fail(cf)}): the site's own "
                                 "TLS is broken, not the network"])
        ctl_ok = "the control completed it" if ct.get("status") is True else f"the control fetched the page (HTTP {c_code})"
        if h0.failure in CERT_ERRORS:
            return verdict(JUDGE, Status.BLOCKED, Method.TLS, 0.6,
                           ev + [f"{what}; {ctl_ok}: something between the probe and the site presented another "
                                 "certificate (interception)"])
        return verdict(JUDGE, Status.BLOCKED, Method.TLS, 0.85 if h0.failure in AFTER_HELLO else 0.7,
                       ev + [f"{what}; {ctl_ok}"])

    # 6. HTTP: the last response of the redirect chain.
    final = o.responses[0] if o.responses else None
    chain_failure = (final.failure if final else None) or s(tk.get("http_experiment_failure"))
    if final is not None and final.failure is None and final.has_response and not (300 <= (final.code or 0) < 400):
        chain_failure = None
    if chain_failure is not None:
        return _http_failure(o, ev, final, chain_failure, has_control, control_failure, c_http_ok, c_code,
                             c_http, dns_inconsistent, blocked_dns)
    if final is None or not final.has_response:
        if not has_control:
            return _no_control(o, control_failure, ev + ["No HTTP response was recorded"])
        return verdict(JUDGE, Status.INCONCLUSIVE, None, 0.3, ev + ["The probe recorded no HTTP response"])

    # 6b. A page came back.
    challenge = is_challenge(final)
    if challenge:
        return verdict(JUDGE, Status.OK, None, 0.6,
                       ev + [f"The site answered with a {challenge}: its own bot protection, not censorship"])
    https_valid = o.scheme == "https" and any(t.ok and t.verified for t in o.tls if t.depth == 0)
    if https_valid and (geo := is_geoblock(final)):
        return verdict(JUDGE, Status.OK, None, 0.6,
                       ev + [f"The site itself refused this country with {geo}, over a valid TLS connection: "
                             "a geo-block by the site, not network censorship"])
    hint = next((fp for fp in http_m if fp.is_blockpage), None)
    if dns_inconsistent and not c_http_ok and c_dns_fail in dnsrules.NXDOMAIN:
        # The control says the name does not exist, yet the probe's resolver sent it to a server that answers.
        seen = f"the address served HTTP {final.code} ({final.body_length() or 0} bytes)"
        if hint is not None:
            seen += f" matching the generic blockpage fingerprint {hint.name}"
        return blocked_dns(0.7, seen)
    if not c_http_ok:
        if https_valid:
            return verdict(JUDGE, Status.OK, None, 0.6,
                           ev + [f"The page loaded over a valid TLS connection (HTTP {final.code}); the control "
                                 f"failed ({control_failure or _fmt_fail(c_http_fail)}), so only the probe's side is known"])
        return _no_control(o, control_failure, ev + [f"The page loaded (HTTP {final.code}) but the control failed "
                                                     f"({control_failure or _fmt_fail(c_http_fail)}), so it "
                                                     "cannot be told apart from a blockpage"])
    same, diff_ev = compare_with_control(final, c_http, c_code, tk.get("body_proportion"))
    final_host = (urlsplit(final.url).hostname or "").lower() if final.url else ""
    if not same and final_host and final_host != o.host and len(o.responses) > 1:
        diff_ev.append(f"The probe was redirected to {final_host}")
    if same:
        if dns_inconsistent:
            ev.append(dns_reason + "; but the page matches the control's, so the answer is another server of "
                      "the same site (a CDN)")
        return verdict(JUDGE, Status.OK, None, 0.9 if not dns_inconsistent else 0.75, ev + diff_ev)
    if dns_inconsistent:
        return blocked_dns(0.85, "; ".join(diff_ev))
    if hint is not None:
        return verdict(JUDGE, Status.BLOCKED, Method.HTTP_DIFF, 0.75,
                       ev + [f"The page matches the blockpage fingerprint {hint.name} "
                             f"({hint.pattern[:60]!r}), not confirmed for {ctx.probe_cc or 'this country'}", *diff_ev],
                       fingerprint=hint.name)
    if https_valid:
        return verdict(JUDGE, Status.OK, None, 0.6,
                       ev + diff_ev + ["The page came over a valid TLS connection, so a difference comes from the "
                                       "site, not the network"])
    if (final.code or 0) // 100 == 2 and c_code is not None and c_code // 100 in (4, 5):
        return verdict(JUDGE, Status.OK, None, 0.55,
                       ev + diff_ev + [f"The site refused the control (HTTP {c_code}), a data-centre address, while "
                                       f"the probe got its page (HTTP {final.code}): no sign of interference"])
    if final.code == 451 or (geo := is_geoblock(final)) is not None:
        return verdict(JUDGE, Status.BLOCKED, Method.HTTP_DIFF, 0.5,
                       ev + diff_ev + ["Over plain HTTP a legal-block page could be injected by the network or sent "
                                       "by the site; the two cannot be told apart"])
    return verdict(JUDGE, Status.BLOCKED, Method.HTTP_DIFF, 0.65, ev + diff_ev)


def _where_expected(fp: Fingerprint) -> str:
    return f", seen in {', '.join(sorted(fp.countries))}" if fp.countries else f", scope {fp.scope}"


def _control_all_failed(results: JSON, control_addrs: list[str]) -> str | None:
    """The control's failure when every attempt to an address the control itself resolved failed."""
    own = set(control_addrs)
    values = [d(v) for k, v in results.items() if isinstance(k, str) and k.rsplit(":", 1)[0].strip("[]") in own]
    if values and all(v.get("status") is False for v in values):
        return _fmt_fail(s(values[0].get("failure")))
    return None


def _stage_at(o: Obs, depth: int) -> tuple[Method, str] | None:
    """Where a redirect target failed, from the facts recorded at that depth of the chain (v0.5)."""
    addrs, fail = o.dns_at_depth.get(depth, ([], None))
    if not addrs and fail:
        return Method.DNS, f"resolving the redirect target failed ({fail})"
    tcps = [t for t in o.tcp if t.depth == depth]
    if tcps and not any(t.ok for t in tcps):
        t = tcps[0]
        return Method.TCP_IP, f"TCP connect to the redirect target {t.ip}:{t.port} failed ({_fmt_fail(t.failure)})"
    tlss = [h for h in o.tls if h.depth == depth]
    resp = [r for r in o.responses if r.depth == depth]
    if tlss and not any(h.ok for h in tlss) and (not resp or resp[0].url.startswith("https")):
        h0 = tlss[0]
        how = AFTER_HELLO.get(h0.failure or "", f"failed ({_fmt_fail(h0.failure)})")
        return Method.TLS, f"TLS handshake with the redirect target {h0.address} (SNI {h0.sni}) {how}"
    return None


def _http_failure(
    o: Obs, ev: list[str], final: Response | None, failure: str, has_control: bool, control_failure: str | None,
    c_http_ok: bool, c_code: int | None, c_http: JSON, dns_inconsistent: bool, blocked_dns: Any,
) -> Verdict:
    where = final.url if final and final.url else "the page"
    what = f"The HTTP request for {where} failed ({failure})"
    depth = max([r.depth for r in o.responses] + [t.depth for t in o.tcp] + [t.depth for t in o.tls]
                + list(o.dns_at_depth), default=0)
    if final is not None and final.failure is None and 300 <= (final.code or 0) < 400:
        loc = final.header("location")
        what = f"{where} redirected to {loc}, and following it failed ({failure})"
        depth = max(depth, final.depth + 1)
    if dns_inconsistent:
        v: Verdict = blocked_dns(0.85, what)
        return v
    if not has_control:
        return _no_control(o, control_failure, ev + [what])
    if "stopped after" in failure and "redirects" in failure:
        if c_http_ok:
            return verdict(JUDGE, Status.INCONCLUSIVE, None, 0.4,
                           ev + [f"{what}; the control fetched the page, so the loop may come from the network"])
        return verdict(JUDGE, Status.DOWN, Method.HTTP_FAILURE, 0.8,
                       ev + [f"{what}; the control failed too ({_fmt_fail(s(c_http.get('failure')))}): the site "
                             "redirects in a loop"])
    loc = final.header("location") if final else None
    if failure.startswith("http_invalid_redirect") and loc is not None:
        target = urlsplit(loc).hostname if "://" in loc else None
        kind = dnsrules.bogon_kind(target) if target else None
        if kind:
            return verdict(JUDGE, Status.BLOCKED, Method.HTTP_DIFF, 0.7,
                           ev + [f"{where} answered HTTP {final.code if final else '?'} redirecting to {loc[:100]}, "
                                 f"a {kind} address: a filtering portal on the way, not the site"])
        if not target:
            return verdict(JUDGE, Status.INCONCLUSIVE, None, 0.5,
                           ev + [f"{where} answered HTTP {final.code if final else '?'} with an unusable redirect "
                                 f"({loc[:80]!r}); the response reached the probe, so this is the site's own bug"])
    if not c_http_ok:
        return verdict(JUDGE, Status.DOWN, Method.HTTP_FAILURE, 0.75,
                       ev + [f"{what}; the control's request failed too ({_fmt_fail(s(c_http.get('failure')))})"])
    if depth > 0:
        stage = _stage_at(o, depth)
        if stage is not None:
            method, why = stage
            return verdict(JUDGE, Status.BLOCKED, method, 0.7,
                           ev + [f"{where} redirected; {why}; the control followed the same chain to HTTP {c_code}"])
        return verdict(JUDGE, Status.BLOCKED, Method.HTTP_FAILURE, 0.65,
                       ev + [f"{what}; the control followed the same chain to HTTP {c_code}"])
    clen = i(c_http.get("body_length"))
    if failure == "generic_timeout_error" and final is not None and final.has_response:
        got = final.body_length()
        part = f"after {got} bytes" if got else "mid-body"
        return verdict(JUDGE, Status.BLOCKED, Method.HTTP_FAILURE, 0.6,
                       ev + [f"The download of {where} started (HTTP {final.code}) and then stalled until it timed "
                             f"out {part}; the control received all {clen} bytes"])
    return verdict(JUDGE, Status.BLOCKED, Method.HTTP_FAILURE, 0.75,
                   ev + [f"{what} after the connection was set up; the control fetched it (HTTP {c_code}, "
                         f"{clen} bytes)"])


def _no_control(o: Obs, control_failure: str | None, ev: list[str]) -> Verdict:
    why = (f"the control (OONI's test helper) failed ({control_failure})" if control_failure
           else "there is no control result")
    return verdict(JUDGE, Status.INCONCLUSIVE, None, 0.2,
                   ev + [f"Without the control, censorship cannot be told apart from an outage: {why}"],
                   failure=True)


__all__ = ["judge_web_connectivity"]
