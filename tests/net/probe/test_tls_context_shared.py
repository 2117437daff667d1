"""client_context is built once per setting and shared, and a rewritten CA file gives a fresh context that
trusts the new CA (real handshakes on loopback)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from pathlib import Path

from ayiq.net.probe.clock import Clock
from ayiq.net.probe.loopback import make_certs
from ayiq.net.probe.tcp import tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake


async def _handshake(server_ctx: ssl.SSLContext, ctx: ssl.SSLContext) -> str | None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    clock = Clock()
    try:
        _tcp, stream = await tcp_connect("127.0.0.1", port, clock, timeout=5)
        assert stream is not None
        try:
            entry = await tls_handshake(stream, "x.lab", clock, ctx=ctx, timeout=5)
        finally:
            await stream.close()
    finally:
        server.close()
        await server.wait_closed()
    failure: str | None = entry["failure"]
    return failure


def test_same_settings_share_one_context(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "a", ["x.lab"])
    assert client_context(ca_file=certs.ca_file) is client_context(ca_file=certs.ca_file)
    assert client_context(verify=False) is client_context(verify=False)
    assert client_context(verify=False) is not client_context(verify=False, alpn=())
    assert client_context(ca_file=certs.ca_file) is not client_context()
    ctx = client_context(verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname


def test_rewritten_ca_file_is_read_again(tmp_path: Path) -> None:
    first, second = make_certs(tmp_path / "a", ["x.lab"]), make_certs(tmp_path / "b", ["x.lab"])
    ca = tmp_path / "lab-ca.pem"
    shutil.copyfile(first.ca_file, ca)
    old = client_context(ca_file=str(ca))
    assert asyncio.run(_handshake(first.server_context(), old)) is None
    # the second server's CA is not trusted yet: a verification failure, not a pass
    assert asyncio.run(_handshake(second.server_context(), old)) is not None
    ca.write_bytes(Path(second.ca_file).read_bytes() + b"\n")  # another size: a new version of the file
    new = client_context(ca_file=str(ca))
    assert new is not old
    assert asyncio.run(_handshake(second.server_context(), new)) is None
