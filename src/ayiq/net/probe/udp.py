"""A media-like UDP stream to an echo relay: loss, round-trip time and jitter, as a voice call would see them.

Packets: ``AYQ1`` + an 8-byte relay tag + sequence number + send time, padded to ``size`` bytes (172 bytes
every 20 ms is a G.711 RTP packet with its headers). The relay echoes them; we only ever compare our own
clock with itself, so there is no clock sync to trust.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import struct
import time
from collections.abc import Sequence
from typing import Any

from ayiq.net.probe import failures as F
from ayiq.net.probe.clock import Clock
from ayiq.net.probe.tcp import endpoint

STREAM_MAGIC = b"AYQ1"
HEADER = struct.Struct("!4s8sIQ")  # magic, relay tag, sequence, send time (ns, monotonic)


def relay_tag(secret: str) -> bytes:
    """The 8 bytes a relay expects in every stream packet (derived from its token; not the token)."""
    return hashlib.sha256(b"ayiq-udp-relay\0" + secret.encode()).digest()[:8]


class _Echoes(asyncio.DatagramProtocol):
    def __init__(self, tag: bytes, count: int) -> None:
        self.tag = tag
        self.rtts: dict[int, float] = {}
        self.duplicates = 0
        self.order: list[int] = []
        self.errors: list[Exception] = []
        self.count = count

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic_ns()
        if len(data) < HEADER.size:
            return
        magic, tag, seq, sent = HEADER.unpack_from(data)
        if magic != STREAM_MAGIC or tag != self.tag or seq >= self.count:
            return
        if seq in self.rtts:
            self.duplicates += 1
            return
        self.rtts[seq] = (now - sent) / 1e6
        self.order.append(seq)

    def error_received(self, exc: Exception) -> None:
        if len(self.errors) < 8:
            self.errors.append(exc)


def stream_stats(rtts: dict[int, float], order: list[int], sent: int) -> dict[str, Any]:
    """Loss, RTT percentiles, RFC 3550 jitter (over RTTs in send order), longest loss burst, reordering."""
    got = len(rtts)
    out: dict[str, Any] = {"packets_sent": sent, "packets_received": got,
                           "loss": round(1 - got / sent, 4) if sent else None,
                           "rtt_ms": None, "jitter_ms": None, "max_loss_burst": 0, "reordered": 0}
    burst = longest = 0
    for seq in range(sent):
        burst = 0 if seq in rtts else burst + 1
        longest = max(longest, burst)
    out["max_loss_burst"] = longest
    out["reordered"] = sum(1 for a, b in zip(order, order[1:], strict=False) if b < a)
    if got:
        vals = sorted(rtts.values())
        out["rtt_ms"] = {"min": round(vals[0], 3), "median": round(statistics.median(vals), 3),
                         "p95": round(vals[min(len(vals) - 1, int(0.95 * len(vals)))], 3), "max": round(vals[-1], 3)}
        j = 0.0
        seq_rtts = [rtts[s] for s in sorted(rtts)]
        for a, b in zip(seq_rtts, seq_rtts[1:], strict=False):
            j += (abs(b - a) - j) / 16
        out["jitter_ms"] = round(j, 3)
    return out


async def udp_stream(ip: str, port: int, clock: Clock, *, tag: bytes, count: int = 100, size: int = 172,
                     interval: float = 0.02, drain: float = 1.0, tags: Sequence[str] = ()) -> dict[str, Any]:
    """Send ``count`` packets of ``size`` bytes every ``interval`` s; wait ``drain`` s for late echoes."""
    size = max(size, HEADER.size)
    entry: dict[str, Any] = {"endpoint": endpoint(ip, port), "failure": None, "t0": clock.now(), "t": None,
                             "tags": list(tags), "packet_size": size, "interval_ms": interval * 1000}
    loop = asyncio.get_running_loop()
    try:
        transport, proto = await loop.create_datagram_endpoint(lambda: _Echoes(tag, count), remote_addr=(ip, port))
    except OSError as exc:
        entry.update(failure=F.classify(exc), t=clock.now(), **stream_stats({}, [], 0))
        return entry
    sent = 0
    try:
        pad = bytes(size - HEADER.size)
        start = loop.time()
        for seq in range(count):
            # pace against the schedule, not the previous send, so drift does not accumulate
            delay = start + seq * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                transport.sendto(HEADER.pack(STREAM_MAGIC, tag, seq, time.monotonic_ns()) + pad)
                sent += 1
            except OSError as exc:
                proto.errors.append(exc)
        end = loop.time() + drain
        while len(proto.rtts) < sent and loop.time() < end:
            await asyncio.sleep(0.02)
    finally:
        transport.close()
    entry.update(stream_stats(proto.rtts, proto.order, sent))
    entry["duplicates"] = proto.duplicates
    if not proto.rtts:
        entry["failure"] = F.classify(proto.errors[0]) if proto.errors else F.GENERIC_TIMEOUT
    entry["t"] = clock.now()
    return entry
