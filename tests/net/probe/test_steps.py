"""Probe steps against real loopback servers: every outcome is a timed observation with an OONI failure."""

from __future__ import annotations

import asyncio
import time

import pytest

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.dns import system_resolve, udp_query
from ayiq.net.probe.http import fetch, http_get
from ayiq.net.probe.loopback import (
    LOOPBACK,
    DNSZone,
    junk_handler,
    make_certs,
    page,
    reset_handler,
    silent_handler,
    start_dns,
    start_tcp,
    web_handler,
)
from ayiq.net.probe.tcp import tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


def free_port() -> int:
    import socket

    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- DNS ---


def test_udp_query_answers_nxdomain_and_timeout() -> None:
    zone = DNSZone(a={"ok.test": ["127.0.0.2"]}, nxdomain={"gone.test"}, silent={"quiet.test"},
                   servfail={"broken.test"})

    async def go():  # type: ignore[no-untyped-def]
        tr, proto, port = await start_dns(zone)
        clock = Clock()
        try:
            ok = await udp_query("ok.test", "A", (LOOPBACK, port), clock, late_window=0.1)
            gone = await udp_query("gone.test", "A", (LOOPBACK, port), clock, late_window=0.1)
            broken = await udp_query("broken.test", "A", (LOOPBACK, port), clock, late_window=0.1)
            noaaaa = await udp_query("ok.test", "AAAA", (LOOPBACK, port), clock, late_window=0.1)
            t = time.monotonic()
            quiet = await udp_query("quiet.test", "A", (LOOPBACK, port), clock, timeout=0.5)
            return ok, gone, broken, noaaaa, quiet, time.monotonic() - t
        finally:
            tr.close()

    ok, gone, broken, noaaaa, quiet, quiet_s = run(go())
    assert ok.failure is None and ok.addresses == ["127.0.0.2"]
    assert ok.query["answers"] == [{"answer_type": "A", "ipv4": "127.0.0.2", "ttl": 300}]
    assert ok.query["engine"] == "udp" and ok.query["raw_response"]
    assert ok.query["x_ip_ttl"] == 64  # Linux default TTL of the loopback server's answer
    assert 0 <= ok.query["t0"] <= ok.query["t"]
    assert gone.failure == F.DNS_NXDOMAIN and gone.addresses == []
    assert broken.failure == F.DNS_SERVFAIL
    assert noaaaa.failure == F.DNS_NO_ANSWER
    assert quiet.failure == F.GENERIC_TIMEOUT and 0.4 < quiet_s < 2


def test_udp_query_keeps_listening_for_injected_answers() -> None:
    """An injector answers first with a forged IP and its own IP TTL; the real answer arrives later."""
    zone = DNSZone(a={"blocked.test": ["127.0.0.10"]}, inject={"blocked.test": (["127.0.0.66"], 33)},
                   real_delay=0.1)

    async def go():  # type: ignore[no-untyped-def]
        tr, _proto, port = await start_dns(zone)
        try:
            return await udp_query("blocked.test", "A", (LOOPBACK, port), Clock(), late_window=0.5)
        finally:
            tr.close()

    res = run(go())
    assert res.addresses == ["127.0.0.66"]  # what a stub resolver (and the user) gets
    assert res.query["x_ip_ttl"] == 33
    assert len(res.duplicates) == 1
    late = res.duplicates[0]
    assert late["answers"][0]["ipv4"] == "127.0.0.10" and late["x_ip_ttl"] == 64
    assert late["t"] > res.query["t"]


def test_udp_query_garbage_and_wrong_id_are_failures() -> None:
    zone = DNSZone(garbage={"junk.test"}, wrong_id={"spoof.test"})

    async def go():  # type: ignore[no-untyped-def]
        tr, _proto, port = await start_dns(zone)
        try:
            junk = await udp_query("junk.test", "A", (LOOPBACK, port), Clock(), timeout=0.5)
            spoof = await udp_query("spoof.test", "A", (LOOPBACK, port), Clock(), timeout=0.5)
            return junk, spoof
        finally:
            tr.close()

    junk, spoof = run(go())
    assert junk.failure == F.DNS_MISBEHAVING and junk.query["x_responses"] == 1
    assert spoof.failure == F.DNS_WRONG_QUERY_ID


def test_system_resolver_records_getaddrinfo() -> None:
    res = run(system_resolve("localhost", Clock()))
    assert res.query["engine"] == "getaddrinfo" and res.query["failure"] is None
    assert any(a in ("127.0.0.1", "::1") for a in res.addresses)


# --- TCP / TLS ---


def test_tcp_connect_success_refused() -> None:
    async def go():  # type: ignore[no-untyped-def]
        server, port = await start_tcp(web_handler())
        clock = Clock()
        ok, stream = await tcp_connect(LOOPBACK, port, clock)
        assert stream is not None
        await stream.close()
        server.close()
        refused, none = await tcp_connect(LOOPBACK, free_port(), clock)
        return ok, refused, none

    ok, refused, none = run(go())
    assert ok["status"] == {"failure": None, "success": True} and ok["ip"] == LOOPBACK
    assert refused["status"] == {"failure": F.CONNECTION_REFUSED, "success": False} and none is None


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_certs(tmp_path_factory.mktemp("certs"), ["site.test", "www.site.test"])


def _handshake(handler, sni, *, ssl_server=None, ca=None, verify=True, timeout=2.0):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        server, port = await start_tcp(handler, ssl_server)
        try:
            clock = Clock()
            _tcp, stream = await tcp_connect(LOOPBACK, port, clock)
            assert stream is not None
            ctx = client_context(verify=verify, ca_file=ca)
            entry = await tls_handshake(stream, sni, clock, ctx=ctx, timeout=timeout)
            await stream.close()
            return entry
        finally:
            server.close()

    return run(go())


def test_tls_handshake_verified(certs) -> None:  # type: ignore[no-untyped-def]
    e = _handshake(web_handler(), "site.test", ssl_server=certs.server_context(), ca=certs.ca_file)
    assert e["failure"] is None and e["tls_version"].startswith("TLSv1.")
    assert e["server_name"] == "site.test" and e["negotiated_protocol"] == "http/1.1"
    assert e["peer_certificates"][0]["format"] == "base64" and e["no_tls_verify"] is False


def test_tls_handshake_certificate_failures(certs) -> None:  # type: ignore[no-untyped-def]
    wrong_name = _handshake(web_handler(), "other.test", ssl_server=certs.server_context(), ca=certs.ca_file)
    assert wrong_name["failure"] == F.SSL_INVALID_HOSTNAME
    unknown_ca = _handshake(web_handler(), "site.test", ssl_server=certs.server_context())
    assert unknown_ca["failure"] == F.SSL_UNKNOWN_AUTHORITY
    no_sni = _handshake(web_handler(), None, ssl_server=certs.server_context(), verify=False)
    assert no_sni["failure"] is None and no_sni["server_name"] == "" and no_sni["no_tls_verify"] is True


def test_tls_interference_after_client_hello() -> None:
    silent = _handshake(silent_handler, "site.test", verify=False, timeout=0.5)
    assert silent["failure"] == F.GENERIC_TIMEOUT
    assert silent["x_bytes_written"] > 100 and silent["x_bytes_read"] == 0  # ClientHello sent, nothing back
    reset = _handshake(reset_handler, "site.test", verify=False)
    assert reset["failure"] == F.CONNECTION_RESET
    junk = _handshake(junk_handler, "site.test", verify=False)
    assert junk["failure"] == F.SSL_FAILED_HANDSHAKE


# --- HTTP ---


def _get(path: str, *, max_body: int = 1 << 20, timeout: float = 2.0, pages=None):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        server, port = await start_tcp(web_handler(pages))
        try:
            clock = Clock()
            _tcp, stream = await tcp_connect(LOOPBACK, port, clock)
            assert stream is not None
            try:
                return await http_get(stream, f"http://site.test:{port}{path}", clock, timeout=timeout,
                                      max_body=max_body)
            finally:
                await stream.close()
        finally:
            server.close()

    return run(go())


def test_http_get_records_status_headers_body() -> None:
    e = _get("/", pages={"/": page("Hello site")})
    assert e["failure"] is None and e["response"]["code"] == 200
    assert "<title>Hello site</title>" in e["response"]["body"]
    assert e["response"]["headers"]["Server"] == "ayiq-loopback"
    assert e["request"]["headers"]["Host"].startswith("site.test:") and e["request"]["method"] == "GET"
    missing = _get("/nope")
    assert missing["response"]["code"] == 404 and missing["failure"] is None


def test_http_get_hostile_servers_end_as_failures_or_truncation() -> None:
    t = time.monotonic()
    hang = _get("/hang", timeout=0.5)
    assert hang["failure"] == F.GENERIC_TIMEOUT and hang["response"]["code"] == 200
    endless = _get("/endless", max_body=100_000)
    assert endless["failure"] is None and endless["response"]["body_is_truncated"] is True
    assert endless["x_body_length"] == 100_000
    reset = _get("/reset")
    assert reset["failure"] in (F.CONNECTION_RESET, F.EOF_ERROR)
    assert time.monotonic() - t < 10


def test_fetch_follows_bounded_redirects(certs) -> None:  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        server, port = await start_tcp(web_handler({"/": page("Final")}), certs.server_context())

        async def resolve(host: str) -> tuple[list[str], str | None]:
            return ([LOOPBACK], None) if host.endswith("site.test") else ([], F.DNS_NXDOMAIN)

        ctx = client_context(ca_file=certs.ca_file)
        try:
            ok = await fetch(f"https://www.site.test:{port}/redirect-to/", Clock(), resolve=resolve,
                             tls_context=ctx)
            loop = await fetch(f"https://site.test:{port}/redirect-loop", Clock(), resolve=resolve,
                               tls_context=ctx, max_redirects=5)
            return ok, loop
        finally:
            server.close()

    ok, loop = run(go())
    assert ok.failure is None and [r["response"]["code"] for r in ok.requests] == [200, 302]
    assert ok.final is not None and b"<title>Final</title>" in ok.body
    assert len(ok.tls_handshakes) == 2 and all(h["failure"] is None for h in ok.tls_handshakes)
    assert loop.failure == "unknown_failure: stopped after 5 redirects" and len(loop.requests) == 6


def test_fetch_refuses_addresses_its_caller_forbids() -> None:
    """The control's SSRF guard: a redirect to an IP literal in a forbidden range is not followed."""
    async def go():  # type: ignore[no-untyped-def]
        server, port = await start_tcp(web_handler())

        async def resolve(host: str) -> tuple[list[str], str | None]:
            return [], F.DNS_NXDOMAIN

        try:
            return await fetch(f"http://{LOOPBACK}:{port}/redirect-to/http://127.0.0.9:{port}/", Clock(),
                               resolve=resolve, tls_context=client_context(),
                               refuse=lambda ip: "unknown_failure: not allowed" if ip == "127.0.0.9" else None)
        finally:
            server.close()

    res = run(go())
    assert res.failure == "unknown_failure: not allowed"
    assert [r["response"]["code"] for r in res.requests] == [302]
    assert all(t["ip"] != "127.0.0.9" for t in res.tcp_connect)
