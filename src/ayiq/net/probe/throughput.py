"""Timed bulk transfer over TLS with a chosen SNI, sampling bytes received over time.

The server is one we run (the control server's ``/api/v1/bytes/N``), so it answers whatever SNI we send:
the censor's DPI sees only the name, and any difference between the target SNI and a control SNI on the same
server, same path and same minute is the censor's doing.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import Sequence
from typing import Any

import h11

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import Stream, tcp_connect
from ayiq.net.probe.tls import client_context, tls_handshake

TCP_INFO_RCV_RTT = 92  # offset of tcpi_rcv_rtt (usec) in Linux's struct tcp_info


def rcv_rtt_ms(stream: Stream) -> float | None:
    """The kernel's receive-side RTT estimate (Linux), or None where unavailable."""
    sock = stream.writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(info) < TCP_INFO_RCV_RTT + 4:
        return None
    usec = struct.unpack_from("I", info, TCP_INFO_RCV_RTT)[0]
    return round(usec / 1000, 3) if usec else None


async def timed_download(ip: str, port: int, sni: str | None, path: str, clock: Clock, *,
                         host: str | None = None, headers: Sequence[tuple[str, str]] = (), duration: float = 10.0,
                         max_bytes: int = 200 << 20, sample_interval: float = 0.1, connect_timeout: float = 10.0,
                         max_rate_bps: float | None = None, tags: Sequence[str] = ()) -> dict[str, Any]:
    """Download ``path`` for at most ``duration`` s; ``samples`` are ``[t, total_bytes]`` every interval.

    ``max_rate_bps``: read no faster than this (the receive window then holds the sender back), so a fast,
    CPU-bound link's noise stays out of the comparison; a throttle above the cap cannot be seen."""
    entry: dict[str, Any] = {"sni": sni or "", "address": f"{ip}:{port}", "path": path, "failure": None,
                             "tcp_connect": [], "tls_handshakes": [], "status_code": None, "samples": [],
                             "bytes": 0, "duration": None, "rcv_rtt_ms": [], "t0": clock.now(), "t": None,
                             "tags": list(tags), "stopped_by": None, "max_rate_bps": max_rate_bps}
    tcp, stream = await tcp_connect(ip, port, clock, timeout=connect_timeout, tags=tags)
    entry["tcp_connect"].append(tcp)
    if stream is None:
        entry.update(failure=tcp["status"]["failure"], t=clock.now())
        return entry
    try:
        tls = await tls_handshake(stream, sni, clock, ctx=client_context(verify=False), timeout=connect_timeout,
                                  tags=tags)
        entry["tls_handshakes"].append(tls)
        if tls["failure"]:
            entry.update(failure=tls["failure"], t=clock.now())
            return entry
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        req_headers = [("Host", host or sni or ip), ("User-Agent", "ayiq-probe"), ("Connection", "close"), *headers]
        await asyncio.wait_for(stream.write(conn.send(h11.Request(method="GET", target=path, headers=req_headers))
                                            + conn.send(h11.EndOfMessage())), connect_timeout)
        start = time.monotonic()
        total = 0
        samples: list[list[float]] = [[0.0, 0]]

        async def sampler() -> None:
            # on a timer, not on arrivals: a stall must show as intervals with no bytes
            while True:
                await asyncio.sleep(sample_interval)
                samples.append([round(time.monotonic() - start, 4), total])
                rtt = rcv_rtt_ms(stream)
                if rtt is not None and len(entry["rcv_rtt_ms"]) < 1000:
                    entry["rcv_rtt_ms"].append(rtt)

        async def pump() -> str:
            nonlocal total
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.read())
                    continue
                if isinstance(event, h11.Response):
                    entry["status_code"] = event.status_code
                elif isinstance(event, h11.Data):
                    total += len(event.data)
                    if total >= max_bytes:
                        return "max_bytes"
                    if max_rate_bps:
                        ahead = total * 8 / max_rate_bps - (time.monotonic() - start)
                        if ahead > 0.002:
                            await asyncio.sleep(ahead)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return "end_of_body"

        ticker = asyncio.create_task(sampler())
        try:
            entry["stopped_by"] = await asyncio.wait_for(pump(), duration)
        except TimeoutError:
            entry["stopped_by"] = "duration"  # the normal end of a long transfer: not a failure
        finally:
            ticker.cancel()
        elapsed = time.monotonic() - start
        samples.append([round(elapsed, 3), total])
        entry.update(samples=samples, bytes=total, duration=round(elapsed, 3))
    except (OSError, EOFError, ssl.SSLError) as exc:
        entry["failure"] = F.classify(exc)
    except h11.ProtocolError as exc:
        entry["failure"] = F.unknown(f"malformed HTTP response: {exc}")
    finally:
        await stream.close()
    entry["t"] = clock.now()
    return entry
