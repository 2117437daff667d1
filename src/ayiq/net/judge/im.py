"""Instant-messaging tests, read per their ooni/spec documents (ts-018 WhatsApp, ts-019 Facebook Messenger,
ts-020 Telegram, ts-029 Signal). Verdicts are recomputed from the raw requests and connections where the
probe's own summary flags are known to be wrong (e.g. WhatsApp Web's "blocked" on some probe versions).
"""

from __future__ import annotations

from datetime import datetime

from ayiq.core.verdict import Method, Status, Verdict
from ayiq.net.judge.base import JSON, Context, JudgeFn, b, broken, d, lst, s, unknown_failure, verdict

FACEBOOK_ASN = 32934


def method_for(failure: str | None, operation: str | None = None) -> Method:
    """The stage a df-007 failure string (and failed_operation, when known) points at."""
    f = failure or ""
    op = operation or ""
    if f.startswith("dns_") or "resolve" in op or f == "android_dns_cache_no_data":
        return Method.DNS
    if op == "connect" or f in ("connection_refused", "host_unreachable", "network_unreachable"):
        return Method.TCP_IP
    if f.startswith("ssl_") or "tls" in op:
        return Method.TLS
    return Method.HTTP_FAILURE


def _tcp_counts(tk: JSON) -> tuple[int, int, list[str]]:
    ok = bad = 0
    failed: list[str] = []
    for e in lst(tk.get("tcp_connect")):
        st = d(d(e).get("status"))
        if st.get("success") is True:
            ok += 1
        elif st.get("success") is False:
            bad += 1
            failed.append(f"{s(d(e).get('ip'))}:{d(e).get('port')} ({s(st.get('failure')) or 'failed'})")
    return ok, bad, failed


def _requests(tk: JSON) -> list[tuple[str | None, str | None]]:
    return [(s(d(d(r).get("request")).get("url")), s(d(r).get("failure"))) for r in lst(tk.get("requests"))]


def judge_whatsapp(m: JSON, ctx: Context) -> Verdict:
    j = "whatsapp"
    tk = m.get("test_keys")
    if not isinstance(tk, dict):
        return broken(j, "test_keys is null")
    if unknown_failure(tk.get("registration_server_failure")) or unknown_failure(tk.get("whatsapp_web_failure")):
        return broken(j, "the probe failed internally (unknown_failure)")
    reqs = _requests(tk)
    if not reqs:
        return broken(j, "no HTTP requests recorded")
    web = [f for u, f in reqs if u in ("https://web.whatsapp.com/", "http://web.whatsapp.com/")]
    reg = [f for u, f in reqs if u and u.startswith("https://v.whatsapp.net/v2/register")]
    if not web or not reg:
        return broken(j, "the WhatsApp Web or registration request is missing (probe bug)")
    ok, bad, failed = _tcp_counts(tk)
    ev: list[str] = []
    problems: list[tuple[Method, str]] = []
    if web[0] is not None:
        problems.append((method_for(web[0]), f"WhatsApp Web (web.whatsapp.com) failed ({web[0]})"))
    else:
        ev.append("WhatsApp Web loaded")
    if reg[0] is not None:
        problems.append((method_for(reg[0]), f"the registration server v.whatsapp.net failed ({reg[0]})"))
    else:
        ev.append("the registration server answered")
    if ok + bad == 0:
        return broken(j, "no endpoint connections recorded")
    if ok == 0:  # per ts-018 the endpoints count as blocked only when every one fails
        problems.append((Method.TCP_IP, f"all {bad} WhatsApp endpoints failed, e.g. {failed[0]}"))
    else:
        ev.append(f"{ok} of {ok + bad} WhatsApp endpoints accepted connections")
    if problems:
        return verdict(j, Status.BLOCKED, problems[0][0], 0.8, [p for _, p in problems] + ev)
    return verdict(j, Status.OK, None, 0.85, ev)


def judge_telegram(m: JSON, ctx: Context) -> Verdict:
    j = "telegram"
    tk = m.get("test_keys")
    if not isinstance(tk, dict):
        return broken(j, "test_keys is null")
    reqs = _requests(tk)
    if any(u is None for u, _ in reqs):
        return broken(j, "a request has no URL (early probe version): failures cannot be attributed")
    ok, bad, failed = _tcp_counts(tk)
    web = [f for u, f in reqs if u and "web.telegram.org" in u]
    dcs = [f for u, f in reqs if u and "web.telegram.org" not in u]
    problems: list[tuple[Method, str]] = []
    ev: list[str] = []
    if ok + bad:
        if ok == 0:
            problems.append((Method.TCP_IP, f"none of the {bad} Telegram data-centre endpoints accepted a connection, "
                                            f"e.g. {failed[0]}"))
        else:
            ev.append(f"{ok} of {ok + bad} Telegram data-centre endpoints accepted connections")
    if dcs:
        good = sum(1 for f in dcs if f is None)
        if good == 0:
            problems.append((method_for(dcs[0]), f"every HTTP request to the data centres failed (e.g. {dcs[0]})"))
        else:
            ev.append(f"{good} of {len(dcs)} HTTP requests to the data centres succeeded")
    web_status = s(tk.get("telegram_web_status"))
    if web and all(f is not None for f in web):
        problems.append((method_for(web[-1]), f"Telegram Web (web.telegram.org) failed ({web[-1]})"))
    elif web_status == "blocked" and not web:
        problems.append((method_for(s(tk.get("telegram_web_failure"))),
                         f"the probe reported Telegram Web blocked ({s(tk.get('telegram_web_failure'))})"))
    elif web:
        ev.append("Telegram Web loaded")
    if not ev and not problems:
        return broken(j, "no connections or requests recorded")
    if problems:
        return verdict(j, Status.BLOCKED, problems[0][0], 0.8, [p for _, p in problems] + ev)
    return verdict(j, Status.OK, None, 0.85, ev)


def _version(v: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in v.split("-")[0].split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def judge_signal(m: JSON, ctx: Context) -> Verdict:
    j = "signal"
    tk = m.get("test_keys")
    if not isinstance(tk, dict):
        return broken(j, "test_keys is null")
    tv = _version(s(m.get("test_version")) or "0")
    ev_ver = _version(s(d(m.get("annotations")).get("engine_version")) or "0")
    start = s(m.get("measurement_start_time"))
    try:
        when = datetime.strptime(start or "", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return broken(j, "no valid measurement_start_time: cannot tell whether the probe had Signal's current CA")
    # Signal changed its certificates; probes without the new CA report false blocking (ooni/probe#2344, #2627,
    # #2636, backend#679). Those measurements say nothing about the network.
    if tv == (0, 2, 4):
        return broken(j, "signal test 0.2.4 is known broken (ooni/probe#2636)")
    if tv <= (0, 2, 3) and when >= datetime(2023, 11, 7):
        return broken(j, "this probe lacks Signal's 2023 certificate (ooni/probe#2627)")
    if tv < (0, 2, 2) and when >= datetime(2022, 10, 19):
        return broken(j, "this probe lacks Signal's 2022 certificate (ooni/probe#2627)")
    ooni_engine = s(d(m.get("annotations")).get("engine_name")) in (None, "ooniprobe-engine")
    if ooni_engine and ev_ver < (3, 17, 2) and when >= datetime(2023, 5, 2):
        return broken(j, "probe engine older than 3.17.2 after 2023-05-02 reports false failures (backend#679)")
    st = s(tk.get("signal_backend_status"))
    fail = s(tk.get("signal_backend_failure"))
    ok, bad, _ = _tcp_counts(tk)
    if st == "ok":
        return verdict(j, Status.OK, None, 0.85, [f"Signal's servers answered ({ok} connections succeeded)"])
    if st == "blocked":
        op = s(tk.get("failed_operation"))
        return verdict(j, Status.BLOCKED, method_for(fail, op), 0.75,
                       [f"Connecting to Signal's servers failed ({fail or 'unknown failure'}"
                        + (f" during {op}" if op else "") + ")"])
    return broken(j, f"signal_backend_status is {st!r}: the probe recorded no result")


_FB_SERVICES = ("b_api", "b_graph", "edge", "external_cdn", "scontent_cdn", "star", "stun")


def judge_facebook_messenger(m: JSON, ctx: Context) -> Verdict:
    j = "facebook_messenger"
    tk = m.get("test_keys")
    if not isinstance(tk, dict):
        return broken(j, "test_keys is null")
    # Per ts-019, an answer is consistent only when it is in Facebook's network, AS32934.
    bad_dns: list[str] = []
    seen_asn = False
    for q in lst(tk.get("queries")):
        q = d(q)
        for a in lst(q.get("answers")):
            a = d(a)
            asn = a.get("asn")
            ip = s(a.get("ipv4")) or s(a.get("ipv6"))
            if ip and isinstance(asn, int) and not isinstance(asn, bool):
                seen_asn = True
                if asn != FACEBOOK_ASN:
                    bad_dns.append(f"{s(q.get('hostname'))} -> {ip} (AS{asn})")
    if not seen_asn:
        bad_dns = [f"facebook {svc}" for svc in _FB_SERVICES if b(tk.get(f"facebook_{svc}_dns_consistent")) is False]
    unreachable = [f"facebook {svc}" for svc in _FB_SERVICES if b(tk.get(f"facebook_{svc}_reachable")) is False]
    if bad_dns:
        return verdict(j, Status.BLOCKED, Method.DNS, 0.8,
                       [f"DNS answers outside Facebook's AS{FACEBOOK_ASN}: {', '.join(bad_dns[:4])}"]
                       + ([f"unreachable: {', '.join(unreachable)}"] if unreachable else []))
    if unreachable:
        return verdict(j, Status.BLOCKED, Method.TCP_IP, 0.75,
                       [f"TCP connections failed to {', '.join(unreachable)}"])
    if b(tk.get("facebook_tcp_blocking")) is None and b(tk.get("facebook_dns_blocking")) is None and not seen_asn:
        return broken(j, "no DNS or TCP results recorded")
    return verdict(j, Status.OK, None, 0.85,
                   [f"All Facebook Messenger names resolved inside AS{FACEBOOK_ASN} and their servers accepted connections"])


IM_JUDGES: dict[str, JudgeFn] = {
    "whatsapp": judge_whatsapp,
    "telegram": judge_telegram,
    "signal": judge_signal,
    "facebook_messenger": judge_facebook_messenger,
}
