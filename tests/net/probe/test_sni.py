"""The SNI test against loopback censors: a relay that drops or resets ClientHellos naming a blocked host."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scenario import lab

from ayiq.net.probe import failures as F
from ayiq.net.probe.loopback import (
    client_hello_sni,
    make_certs,
    silent_handler,
    sni_filter,
    start_tcp,
    web_handler,
)
from ayiq.net.tests.sni import sni_blocking


def test_client_hello_sni_parser() -> None:
    import ssl

    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="Blocked.Test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert client_hello_sni(hello) == "blocked.test"
    assert client_hello_sni(hello[:40]) is None and client_hello_sni(b"GET / HTTP/1.1\r\n") is None


def test_sni_test_tells_sni_filtering_from_ip_blocking(tmp_path: Path) -> None:
    async def go():  # type: ignore[no-untyped-def]
        async with lab(tmp_path / "site", ["blocked.test", "allowed.test"]) as lb:
            decoy_certs = make_certs(tmp_path / "decoy", ["decoy.test"])
            decoy_srv, decoy_port = await start_tcp(web_handler(), decoy_certs.server_context())
            blocked = {"blocked.test"}
            up = ("127.0.0.1", lb.port)
            # the censor sits in front of the site and of the decoy alike (same port, other loopback IPs)
            relay, rport = await start_tcp(sni_filter(up, blocked), host="127.0.0.2")
            reset_relay, _ = await start_tcp(sni_filter(up, blocked, "reset"), host="127.0.0.4", port=rport)
            drelay, dport = await start_tcp(sni_filter(("127.0.0.1", decoy_port), blocked), host="127.0.0.3")
            blackhole, _ = await start_tcp(silent_handler, host="127.0.0.5", port=rport)
            cfg = lb.config(connect_timeout=1.0)
            decoy = ("127.0.0.3", dport)
            try:
                return await asyncio.gather(
                    sni_blocking(f"https://blocked.test:{rport}/", cfg, decoy=decoy, server="127.0.0.2"),
                    sni_blocking(f"https://blocked.test:{rport}/", cfg, decoy=decoy, server="127.0.0.4"),
                    sni_blocking(f"https://allowed.test:{rport}/", cfg, decoy=decoy, server="127.0.0.2"),
                    sni_blocking(f"https://allowed.test:{rport}/", cfg, decoy=decoy, server="127.0.0.5"),
                    sni_blocking(f"https://blocked.test:{rport}/", cfg, server="127.0.0.2"),
                )
            finally:
                for s in (decoy_srv, relay, reset_relay, drelay, blackhole):
                    s.close()

    drop, reset, allowed, ipblock, no_decoy = asyncio.run(asyncio.wait_for(go(), 60))
    tk = drop["test_keys"]
    assert drop["test_name"] == "sni_blocking" and tk["x_classification"] == "sni_filtering"
    assert tk["result"] == "anomaly.timeout" and tk["target"]["failure"] == F.GENERIC_TIMEOUT
    assert tk["target"]["tls_handshakes"][0]["x_bytes_read"] == 0  # ClientHello out, nothing back
    assert tk["control"]["failure"] is None and tk["x_server"]["control"]["failure"] is None
    assert tk["x_server"]["no_sni"]["failure"] is None and tk["x_server"]["target"]["failure"] == F.GENERIC_TIMEOUT
    assert reset["test_keys"]["x_server"]["target"]["failure"] == F.CONNECTION_RESET
    assert reset["test_keys"]["x_classification"] == "sni_filtering"
    assert allowed["test_keys"]["x_classification"] == "accessible" and allowed["test_keys"]["result"] == "accessible"
    ip = ipblock["test_keys"]
    assert ip["x_classification"] == "ip_blocking" and ip["result"] == "accessible"
    assert all(v["failure"] == F.GENERIC_TIMEOUT for v in ip["x_server"].values())
    assert no_decoy["test_keys"]["x_classification"] == "sni_filtering_at_server"
    assert no_decoy["test_keys"]["target"] is None
