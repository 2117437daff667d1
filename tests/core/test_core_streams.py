"""send_repeated ends when the peer goes away, on TLS too, instead of spinning without ever yielding."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest

from ayiq.core.streams import send_repeated
from ayiq.net.probe.loopback import LOOPBACK, make_certs


@pytest.mark.parametrize("tls", [False, True])
def test_endless_stream_stops_when_the_client_leaves(tmp_path: Path, tls: bool,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    certs = make_certs(tmp_path, ["stream.test"])
    outcome: list[BaseException | None] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await send_repeated(writer, b"z" * 65536, None)
            outcome.append(None)
        except (OSError, ssl.SSLError) as exc:
            outcome.append(exc)
        finally:
            writer.close()

    async def go() -> None:
        server = await asyncio.start_server(serve, LOOPBACK, 0, ssl=certs.server_context() if tls else None)
        port = server.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=certs.ca_file) if tls else None
        async with server:
            reader, writer = await asyncio.open_connection(LOOPBACK, port, ssl=client_ctx,
                                                           server_hostname="stream.test" if tls else None)
            got = 0
            while got < 1 << 20:  # a megabyte, then the client leaves without a word
                got += len(await reader.read(65536))
            writer.transport.abort()
            for _ in range(200):  # the server's coroutine must end on its own, within seconds
                if outcome:
                    break
                await asyncio.sleep(0.02)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        asyncio.run(asyncio.wait_for(go(), 30))
    assert len(outcome) == 1 and isinstance(outcome[0], OSError | ssl.SSLError), outcome
    assert sum("socket.send() raised exception" in r.getMessage() for r in caplog.records) < 50


def test_a_bounded_stream_sends_exactly_n_bytes(tmp_path: Path) -> None:
    async def go() -> bytes:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await send_repeated(writer, b"0123456789", 25)
            writer.close()

        server = await asyncio.start_server(serve, LOOPBACK, 0)
        async with server:
            reader, writer = await asyncio.open_connection(LOOPBACK, server.sockets[0].getsockname()[1])
            data = await reader.read()
            writer.close()
            return data

    assert asyncio.run(asyncio.wait_for(go(), 10)) == b"0123456789" * 2 + b"01234"
