"""The control server on loopback: OONI-shaped answers, token, rate limit, limits, 200 concurrent requests."""

from __future__ import annotations

import asyncio
import resource
import time

import pytest

from ayiq.net.control.client import ControlClient
from ayiq.net.control.measure import NOT_ALLOWED, ControlConfig
from ayiq.net.control.server import SCHEMA, ControlServer, RateLimiter, ServerLimits
from ayiq.net.probe import failures as F
from ayiq.net.probe.loopback import LOOPBACK, DNSZone, make_certs, page, start_dns, start_tcp, web_handler

TOKEN = "test-token-0123456789abcdef"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 120))


async def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def _post(port: int, body: bytes, token: str | None = TOKEN) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /api/v1/web_connectivity HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_certs(tmp_path_factory.mktemp("certs"), ["site.test"])


def test_control_measures_like_oonis_test_helper(certs) -> None:  # type: ignore[no-untyped-def]
    zone = DNSZone(a={"site.test": [LOOPBACK]}, nxdomain={"gone.test"})

    async def go():  # type: ignore[no-untyped-def]
        dns_tr, _p, dns_port = await start_dns(zone)
        web, web_port = await start_tcp(web_handler({"/": page("Site home")}), certs.server_context())
        srv = ControlServer(TOKEN, ControlConfig(resolver=(LOOPBACK, dns_port), allow_private=True,
                                                 ca_file=certs.ca_file, timeout=2))
        port = await srv.start(LOOPBACK, 0)
        client = ControlClient(f"http://{LOOPBACK}:{port}/api/v1/web_connectivity", TOKEN)
        try:
            ok = await client.query({"http_request": f"https://site.test:{web_port}/",
                                     "tcp_connect": [f"{LOOPBACK}:{web_port}", "127.0.0.9:1"]})
            gone = await client.query({"http_request": "https://gone.test/", "tcp_connect": []})
            bad_token = await ControlClient(client.url, "wrong-token-0123456789").query(
                {"http_request": "https://site.test/"})
            return ok, gone, bad_token
        finally:
            await srv.close()
            web.close()
            dns_tr.close()

    (ok, err), (gone, gone_err), (none, bad) = run(go())
    assert err is None and ok["schema"] == SCHEMA and ok["version"] == 1
    assert ok["dns"] == {"failure": None, "addrs": [LOOPBACK]}
    ep = next(k for k in ok["tcp_connect"] if k.startswith(LOOPBACK + ":"))
    assert ok["tcp_connect"][ep] == {"status": True, "failure": None}
    assert ok["tls_handshake"][ep] == {"server_name": "site.test", "status": True, "failure": None}
    assert ok["tcp_connect"]["127.0.0.9:1"]["failure"] == F.CONNECTION_REFUSED
    http = ok["http_request"]
    assert http["status_code"] == 200 and http["title"] == "Site home" and http["failure"] is None
    assert http["body_length"] == len(page("Site home")) and http["headers"]["Server"] == "ayiq-loopback"
    assert "body" not in http  # the control is not a content proxy
    assert ok["ip_info"][LOOPBACK]["flags"] == 3
    assert gone_err is None and gone["dns"]["failure"] == F.DNS_NXDOMAIN
    assert gone["http_request"]["failure"] == F.DNS_NXDOMAIN
    assert none is None and bad.startswith("unknown_failure: control answered HTTP 401")


def test_control_refuses_private_addresses_by_default() -> None:
    async def go():  # type: ignore[no-untyped-def]
        web, web_port = await start_tcp(web_handler())
        srv = ControlServer(TOKEN, ControlConfig(timeout=2))
        port = await srv.start(LOOPBACK, 0)
        try:
            return await ControlClient(f"http://{LOOPBACK}:{port}/", TOKEN).query(
                {"http_request": f"http://{LOOPBACK}:{web_port}/", "tcp_connect": [f"{LOOPBACK}:{web_port}"]})
        finally:
            await srv.close()
            web.close()

    ans, err = run(go())
    assert err is None and len(ans["tcp_connect"]) == 1
    assert ans["http_request"]["status_code"] == -1  # nothing fetched from the private address
    assert [v["failure"] for v in ans["tcp_connect"].values()] == [NOT_ALLOWED]
    assert ans["http_request"]["failure"] == NOT_ALLOWED


def test_control_http_errors_and_limits() -> None:
    async def go():  # type: ignore[no-untyped-def]
        srv = ControlServer(TOKEN, ControlConfig(allow_private=True, timeout=1),
                            ServerLimits(max_body=1024, rate=0.001, burst=2))
        port = await srv.start(LOOPBACK, 0)
        try:
            r = {}
            r["health"] = await _raw(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            r["notfound"] = await _raw(port, b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
            r["get"] = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            r["noauth"] = await _raw(port, _post(port, b"{}", token=None))
            r["big"] = await _raw(port, _post(port, b"x" * 5000))
            r["json"] = await _raw(port, _post(port, b"not json"))
            r["schema"] = await _raw(port, _post(port, b'{"http_request": "ftp://x/"}'))
            r["ratelimited"] = await _raw(port, _post(port, b"{}"))
            r["garbage"] = await _raw(port, b"\x16\x03\x01 junk that is not HTTP\r\n\r\n")
            r["bytes_noauth"] = await _raw(port, b"GET /api/v1/bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n")
            return r
        finally:
            await srv.close()

    r = run(go())
    assert r["health"][0] == 200 and b'"schema":"ayiq.control.response"' in r["health"][1]
    assert r["notfound"][0] == 404 and r["get"][0] == 405 and r["noauth"][0] == 401
    assert r["big"][0] == 413
    assert r["json"][0] == 400 and r["schema"][0] == 400 and b"http://" in r["schema"][1]
    assert r["ratelimited"][0] == 429  # burst of 2 spent by the two authorised requests before it
    assert r["garbage"][0] == 400
    assert r["bytes_noauth"][0] == 401


def test_control_serves_bounded_bytes_for_the_throttle_test() -> None:
    async def go():  # type: ignore[no-untyped-def]
        srv = ControlServer(TOKEN, ControlConfig())
        port = await srv.start(LOOPBACK, 0)
        auth = f"Authorization: Bearer {TOKEN}\r\n"
        try:
            ok = await _raw(port, f"GET /api/v1/bytes/100000 HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            too_big = await _raw(port, f"GET /api/v1/bytes/999999999999 HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            return ok, too_big
        finally:
            await srv.close()

    (code, body), (big_code, _b) = run(go())
    assert code == 200 and len(body) == 100_000 and len(set(body)) > 200
    assert big_code == 400


def test_rate_limiter_refills_and_forgets_old_clients() -> None:
    rl = RateLimiter(rate=2.0, burst=2.0, max_clients=3)
    assert rl.allow("a", 0.0) and rl.allow("a", 0.0) and not rl.allow("a", 0.0)
    assert rl.allow("a", 0.6)  # 1.2 tokens refilled
    for c in "bcde":
        rl.allow(c, 1.0)
    assert len(rl.buckets) == 3 and "a" not in rl.buckets


@pytest.mark.slow
def test_control_holds_200_concurrent_requests_without_losing_one(certs) -> None:  # type: ignore[no-untyped-def]
    """Bounded load: 200 requests at once, each a real measurement of a loopback site; every one answered."""
    n = 200
    zone = DNSZone(a={"site.test": [LOOPBACK]})

    async def go():  # type: ignore[no-untyped-def]
        dns_tr, _p, dns_port = await start_dns(zone)
        web, web_port = await start_tcp(web_handler({"/": page("Site home")}), certs.server_context())
        srv = ControlServer(TOKEN, ControlConfig(resolver=(LOOPBACK, dns_port), allow_private=True,
                                                 ca_file=certs.ca_file, timeout=5),
                            ServerLimits(max_inflight=32, burst=n, rate=1.0))
        port = await srv.start(LOOPBACK, 0)
        client = ControlClient(f"http://{LOOPBACK}:{port}/api/v1/web_connectivity", TOKEN, timeout=90)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.monotonic()
        try:
            answers = await asyncio.gather(*(client.query(
                {"http_request": f"https://site.test:{web_port}/", "tcp_connect": [f"{LOOPBACK}:{web_port}"]})
                for _ in range(n)))
        finally:
            elapsed = time.monotonic() - t
            await srv.close()
            web.close()
            dns_tr.close()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return answers, srv.stats, elapsed, (rss1 - rss0) / 1024

    answers, stats, elapsed, rss_growth_mib = run(go())
    failures = [e for a, e in answers if e is not None]
    assert failures == []
    assert all(a["http_request"]["status_code"] == 200 and a["http_request"]["title"] == "Site home"
               for a, _ in answers)
    assert stats.served == n and stats.peak_inflight <= 32 and stats.refused == {}
    assert rss_growth_mib < 150
    print(f"\n200 concurrent control requests: {elapsed:.2f} s, peak in flight {stats.peak_inflight}, "
          f"peak waiting {stats.peak_waiting}, max RSS growth {rss_growth_mib:.1f} MiB")
