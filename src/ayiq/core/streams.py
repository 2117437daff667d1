"""Streaming bytes to a peer with asyncio, without spinning once the peer has gone."""

from __future__ import annotations

import asyncio


async def send_repeated(writer: asyncio.StreamWriter, block: bytes, n: int | None,
                        drain_timeout: float | None = None) -> None:
    """Send ``n`` bytes of ``block`` repeated (without end if ``n`` is None), raising ConnectionResetError when the
    peer goes away first (TimeoutError when a drain exceeds ``drain_timeout``).

    A write to a TLS connection whose socket is already gone neither raises nor pauses, and ``drain()`` then
    returns without yielding, so a plain write/drain loop spins without ever letting the event loop deliver
    ``connection_lost`` (a test server once logged gigabytes of "socket.send() raised exception" that way).
    Yielding once per block delivers it; then ``is_closing()`` or ``drain()`` ends the loop.
    """
    while n is None or n > 0:
        if writer.is_closing():
            raise ConnectionResetError("the peer went away")
        writer.write(block if n is None or n >= len(block) else block[:n])
        if n is not None:
            n -= len(block)
        if drain_timeout is None:
            await writer.drain()
        else:
            await asyncio.wait_for(writer.drain(), drain_timeout)
        await asyncio.sleep(0)
