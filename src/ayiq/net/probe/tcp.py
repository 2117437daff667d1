"""TCP connect step, and the byte stream (plain or TLS) the later steps read and write."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Sequence
from typing import Any

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock

READ_CHUNK = 65536


def endpoint(ip: str, port: int) -> str:
    """OONI's address spelling: ``1.2.3.4:443`` or ``[2001:db8::1]:443``."""
    return f"[{ip}]:{port}" if ipaddress.ip_address(ip).version == 6 else f"{ip}:{port}"


class Stream:
    """A connected byte stream; TLS, once started, is done in memory so every byte stays under our timers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address
        self.tls: ssl.SSLObject | None = None
        self._in: ssl.MemoryBIO | None = None
        self._out: ssl.MemoryBIO | None = None
        self.bytes_read = 0
        self.bytes_written = 0

    async def _raw_read(self) -> bytes:
        data = await self.reader.read(READ_CHUNK)
        self.bytes_read += len(data)
        return data

    async def _raw_write(self, data: bytes) -> None:
        self.writer.write(data)
        self.bytes_written += len(data)
        await self.writer.drain()

    async def _flush_tls(self) -> None:
        assert self._out is not None
        out = self._out.read()
        if out:
            await self._raw_write(out)

    async def start_tls(self, ctx: ssl.SSLContext, server_hostname: str | None) -> None:
        """Handshake over this stream; raises ssl.SSLError / OSError / EOFError as the network dictates."""
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self._in, self._out, server_side=False, server_hostname=server_hostname)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush_tls()
                data = await self._raw_read()
                if not data:
                    raise EOFError("connection closed during the TLS handshake") from None
                self._in.write(data)
            except ssl.SSLError:
                try:
                    await self._flush_tls()  # send our alert, as a real client does
                except OSError:
                    pass
                raise
        await self._flush_tls()

    async def write(self, data: bytes) -> None:
        if self.tls is None:
            await self._raw_write(data)
            return
        self.tls.write(data)
        await self._flush_tls()

    async def read(self) -> bytes:
        """Up to one chunk of application data; b"" at end of stream."""
        if self.tls is None:
            return await self._raw_read()
        assert self._in is not None
        while True:
            try:
                return self.tls.read(READ_CHUNK)
            except ssl.SSLWantReadError:
                data = await self._raw_read()
                if not data:
                    self._in.write_eof()
                    try:
                        return self.tls.read(READ_CHUNK)
                    except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLWantReadError):
                        return b""
                self._in.write(data)
            except ssl.SSLZeroReturnError:
                return b""

    async def close(self) -> None:
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (OSError, TimeoutError, ssl.SSLError):
            pass


async def tcp_connect(
    ip: str, port: int, clock: Clock, *, timeout: float = 10.0, transaction_id: int | None = None,
    tags: Sequence[str] = (),
) -> tuple[dict[str, Any], Stream | None]:
    """Connect to ``ip:port``; returns OONI's tcp_connect entry and the stream (None on failure)."""
    tid = transaction_id if transaction_id is not None else clock.transaction_id()
    entry: dict[str, Any] = {"ip": ip, "port": port, "status": {"failure": None, "success": False},
                             "t0": clock.now(), "t": None, "tags": list(tags), "transaction_id": tid}
    stream: Stream | None = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port, limit=READ_CHUNK), timeout)
        stream = Stream(reader, writer, endpoint(ip, port))
        entry["status"]["success"] = True
    except (OSError, TimeoutError, EOFError) as exc:
        entry["status"]["failure"] = F.classify(exc)
    entry["t"] = clock.now()
    return entry, stream
