"""The censor's pure parsers and packet builders, on real ClientHellos and on random bytes."""

from __future__ import annotations

import functools
import socket
import ssl

from hypothesis import given, settings
from hypothesis import strategies as st

from ayiq.lab import packets
from ayiq.lab.wire import client_hello_sni, http_host


@functools.cache
def real_client_hello(sni: str | None, *, tls13_only: bool = False) -> bytes:
    """The first flight Python's own TLS stack sends (no network: memory BIOs)."""
    ctx = ssl.create_default_context()
    if tls13_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    if sni is None:
        ctx.check_hostname = False
        obj = ctx.wrap_bio(incoming, outgoing)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def test_sni_from_real_client_hellos() -> None:
    assert client_hello_sni(real_client_hello("sni-drop.lab")) == "sni-drop.lab"
    assert client_hello_sni(real_client_hello("News.Example.ORG", tls13_only=True)) == "news.example.org"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    assert client_hello_sni(real_client_hello(None)) is None


def test_truncated_and_garbled_hellos_give_none() -> None:
    hello = real_client_hello("blocked.lab")
    for cut in range(0, len(hello), 7):
        result = client_hello_sni(hello[:cut])
        assert result in (None, "blocked.lab")
    assert client_hello_sni(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") is None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_sni_parser_never_raises(data: bytes) -> None:
    # Random bytes after a handshake record header must be refused without an exception.
    for blob in (data, b"\x16\x03\x01" + data, b"\x16\x03\x01\x02\x00\x01" + data):
        result = client_hello_sni(blob)
        assert result is None or isinstance(result, str)
    host = http_host(data)
    assert host is None or isinstance(host, str)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 2000))
def test_sni_parser_survives_mutations(noise: bytes, at: int) -> None:
    hello = bytearray(real_client_hello("mutate.lab"))
    at %= len(hello)
    hello[at : at + len(noise)] = noise
    result = client_hello_sni(bytes(hello))
    assert result is None or isinstance(result, str)


def test_http_host() -> None:
    assert http_host(b"GET / HTTP/1.1\r\nHOST: Blocked.LAB:8080\r\nAccept: */*\r\n\r\n") == "blocked.lab"
    assert http_host(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") is None
    assert http_host(b"\x16\x03\x01\x00") is None


def test_forged_packets_parse_back_with_valid_checksums() -> None:
    wire = packets.tcp("198.18.64.10", "198.18.1.2", 443, 40000, 1000, 2000,
                       packets.TCP_RST | packets.TCP_ACK, ttl=48, ip_id=0x3412)
    assert wire[8] == 48 and wire[4:6] == b"\x34\x12"
    pkt = packets.parse(wire)
    assert pkt is not None and (pkt.src, pkt.sport, pkt.seq, pkt.ack) == ("198.18.64.10", 443, 1000, 2000)
    assert pkt.flags == packets.TCP_RST | packets.TCP_ACK
    # A correct Internet checksum sums to zero over the header (IP) and pseudo-header + segment (TCP).
    assert packets._checksum(wire[:20]) == 0
    pseudo = packets._pseudo("198.18.64.10", "198.18.1.2", socket.IPPROTO_TCP, len(wire) - 20)
    assert packets._checksum(pseudo + wire[20:]) == 0
    dgram = packets.udp("198.18.53.53", "198.18.1.2", 53, 5353, b"abc", ttl=48, ip_id=7)
    upkt = packets.parse(dgram)
    assert upkt is not None and upkt.payload == b"abc" and upkt.dport == 5353
    pseudo = packets._pseudo("198.18.53.53", "198.18.1.2", socket.IPPROTO_UDP, len(dgram) - 20)
    assert packets._checksum(pseudo + dgram[20:]) == 0


def test_nfqueue_messages_round_trip() -> None:
    from ayiq.lab import nfqueue

    attrs = nfqueue._attr(nfqueue.NFQA_PACKET_HDR, bytes.fromhex("0000002a080001")) + nfqueue._attr(
        nfqueue.NFQA_PAYLOAD, b"hello")
    parsed = nfqueue._attrs(attrs)
    assert parsed[nfqueue.NFQA_PACKET_HDR] == bytes.fromhex("0000002a080001")
    assert parsed[nfqueue.NFQA_PAYLOAD] == b"hello"
    msg = nfqueue._message(nfqueue.NFQNL_MSG_VERDICT, 7, attrs, seq=5)
    length, kind, flags, seq, _ = nfqueue._NLMSGHDR.unpack_from(msg)
    assert (length, kind, flags, seq) == (len(msg), (3 << 8) | 1, nfqueue.NLM_F_REQUEST, 5)
    assert msg[16:20] == b"\x00\x00\x00\x07"  # AF_UNSPEC, version 0, queue 7 (big-endian)
    assert nfqueue._attrs(b"\x02\x00") == {}  # a truncated attribute is ignored, not an error
