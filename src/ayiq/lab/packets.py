"""Tiny IPv4/TCP/UDP header codecs for the censor: read a queued packet, forge the injected ones.

Pure functions over bytes; the censor's traits (TTL, IP-ID) are parameters so tests can find them on the wire.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class Packet:
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    payload: bytes
    seq: int = 0
    ack: int = 0
    flags: int = 0


def parse(data: bytes) -> Packet | None:
    """An IPv4 TCP or UDP packet's addresses, ports and payload, or None."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    total = struct.unpack_from("!H", data, 2)[0]
    proto = data[9]
    src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
    body = data[ihl:total]
    if proto == socket.IPPROTO_TCP and len(body) >= 20:
        sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", body)
        off = (off_flags >> 12) * 4
        return Packet(src, dst, proto, sport, dport, body[off:], seq, ack, off_flags & 0x3F)
    if proto == socket.IPPROTO_UDP and len(body) >= 8:
        sport, dport = struct.unpack_from("!HH", body)
        return Packet(src, dst, proto, sport, dport, body[8:])
    return None


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(src: str, dst: str, proto: int, body: bytes, ttl: int, ip_id: int) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ip_id, 0x4000, ttl, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + body


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
        *, ttl: int = 64, ip_id: int = 0, window: int = 0) -> bytes:
    seg = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (5 << 12) | flags,
                      window, 0, 0) + payload
    csum = _checksum(_pseudo(src, dst, socket.IPPROTO_TCP, len(seg)) + seg)
    seg = seg[:16] + struct.pack("!H", csum) + seg[18:]
    return _ip(src, dst, socket.IPPROTO_TCP, seg, ttl, ip_id)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes, *, ttl: int = 64, ip_id: int = 0) -> bytes:
    dgram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    csum = _checksum(_pseudo(src, dst, socket.IPPROTO_UDP, len(dgram)) + dgram) or 0xFFFF
    dgram = dgram[:6] + struct.pack("!H", csum) + dgram[8:]
    return _ip(src, dst, socket.IPPROTO_UDP, dgram, ttl, ip_id)
