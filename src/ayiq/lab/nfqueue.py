"""A minimal NFQUEUE client over netlink, in pure Python: receive queued packets, give verdicts and marks.

Just what the censor needs (bind one queue, copy whole packets, accept/drop, set a mark), so the lab needs no
C extension or libnetfilter_queue headers. Protocol: linux/netfilter/nfnetlink_queue.h.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK, NFQA_PAYLOAD = 1, 2, 3, 10
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
_NLMSGHDR = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    return _NLATTR.pack(_NLATTR.size + len(payload), kind) + payload + b"\0" * (_align(len(payload)) - len(payload))


def _message(msg: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + _NLATTR.size <= len(data):
        length, kind = _NLATTR.unpack_from(data, pos)
        if length < _NLATTR.size:
            break
        out[kind & 0x3FFF] = data[pos + _NLATTR.size : pos + length]
        pos += _align(length)
    return out


@dataclass(slots=True)
class QueuedPacket:
    """One packet waiting for a verdict. Call accept() or drop() exactly once."""

    queue: NfQueue
    packet_id: int
    payload: bytes
    mark: int | None = None

    def get_payload(self) -> bytes:
        return self.payload

    def set_mark(self, mark: int) -> None:
        self.mark = mark

    def accept(self) -> None:
        self.queue.verdict(self.packet_id, NF_ACCEPT, self.mark)

    def drop(self) -> None:
        self.queue.verdict(self.packet_id, NF_DROP, None)


class NfQueue:
    def __init__(self, queue: int) -> None:
        self.queue = queue
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))

    def _request(self, msg: int, attrs: bytes) -> None:
        self.seq += 1
        self.sock.send(_message(msg, self.queue, attrs, self.seq, NLM_F_REQUEST | NLM_F_ACK))
        while True:
            data = self.sock.recv(65536)
            length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data)
            if kind == NLMSG_ERROR and seq == self.seq:
                code = struct.unpack_from("=i", data, _NLMSGHDR.size)[0]
                if code:
                    raise OSError(-code, f"nfqueue config: {errno.errorcode.get(-code, code)}")
                return

    def bind(self) -> None:
        """Take packets from this queue, whole (copy mode packet, up to 64 KiB)."""
        self._request(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        self._request(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)))

    def unbind(self) -> None:
        try:
            self._request(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0)))
        finally:
            self.sock.close()

    def verdict(self, packet_id: int, verdict: int, mark: int | None) -> None:
        attrs = _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))
        if mark is not None:
            attrs += _attr(NFQA_MARK, struct.pack("!I", mark))
        self.seq += 1
        self.sock.send(_message(NFQNL_MSG_VERDICT, self.queue, attrs, self.seq))

    def run(self, callback: Callable[[QueuedPacket], None]) -> None:
        """Hand every queued packet to ``callback`` until the process is stopped."""
        while True:
            try:
                data = self.sock.recv(1 << 17)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # the kernel dropped packets for us: carry on
                    continue
                raise
            pos = 0
            while pos + _NLMSGHDR.size <= len(data):
                length, kind, _, _, _ = _NLMSGHDR.unpack_from(data, pos)
                if length < _NLMSGHDR.size:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    attrs = _attrs(data[pos + _NLMSGHDR.size + 4 : pos + length])
                    header, payload = attrs.get(NFQA_PACKET_HDR), attrs.get(NFQA_PAYLOAD)
                    if header is not None:
                        packet_id = struct.unpack_from("!I", header)[0]
                        callback(QueuedPacket(self, packet_id, payload or b""))
                pos += _align(length)
