"""Plain clients the lab tests run inside the lab's client host: `python clients.py '<json request>'`.

Each prints one JSON object with what it saw on the wire. Standard library only, so the test checks the lab
with ordinary sockets rather than with Ayiq's own probe.
"""

from __future__ import annotations

import json
import os
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time
from typing import Any


def _dns_query(name: str, txid: int) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def _dns_answer(data: bytes) -> dict[str, Any]:
    txid, flags, qd, an = struct.unpack_from("!HHHH", data)
    pos = 12
    for _ in range(qd):
        while data[pos]:
            pos += 1 + data[pos]
        pos += 5
    ips = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += 1 + data[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        if rtype == 1 and rdlen == 4:
            ips.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return {"txid": txid, "rcode": flags & 0xF, "ips": ips}


def dns(req: dict[str, Any]) -> dict[str, Any]:
    """Send one A query and keep every answer that arrives within `listen` seconds, in order, with IP TTL."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL (Linux)
    txid = random.randrange(65536)
    t0 = time.monotonic()
    s.sendto(_dns_query(req["name"], txid), (req["resolver"], 53))
    answers = []
    deadline = t0 + req.get("listen", 1.0)
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(4))
        ttl = next((struct.unpack("i", d)[0] for _, typ, d in anc if typ == socket.IP_TTL), None)
        answers.append({**_dns_answer(data), "ip_ttl": ttl, "ms": round((time.monotonic() - t0) * 1000, 2)})
    return {"answers": answers}


class Sniffer:
    """Record the IP/TCP headers of TCP packets from `peer` arriving on this host (AF_PACKET)."""

    def __init__(self, peer: str) -> None:
        self.peer = socket.inet_aton(peer)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
        self.seen: list[dict[str, Any]] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            frame, meta = self.sock.recvfrom(65535)
            if meta[2] == socket.PACKET_OUTGOING:
                continue
            ip = frame[14:]
            if len(ip) < 40 or ip[12:16] != self.peer or ip[9] != 6:
                continue
            ihl = (ip[0] & 0xF) * 4
            flags = ip[ihl + 13]
            self.seen.append({"ttl": ip[8], "ip_id": struct.unpack_from("!H", ip, 4)[0], "flags": flags,
                              "rst": bool(flags & 0x04),
                              "payload": len(ip) - ihl - (ip[ihl + 12] >> 4) * 4})

    def close(self) -> list[dict[str, Any]]:
        time.sleep(0.2)
        self.stop = True
        self.thread.join()
        return self.seen


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return f"error: {exc!r}"


def tls(req: dict[str, Any]) -> dict[str, Any]:
    """A TLS handshake to ip:443 with the given SNI; with `get`, an HTTP GET of that path afterwards."""
    sniffer = Sniffer(req["ip"])
    ctx = ssl.create_default_context(cafile=os.environ["AYIQ_LAB_CA"])
    ctx.check_hostname = req.get("verify", True)
    exc: BaseException | None = None
    version, body = None, b""
    timings: list[tuple[float, int]] = []
    try:
        raw = socket.create_connection((req["ip"], 443), timeout=req.get("timeout", 2.0))
        with ctx.wrap_socket(raw, server_hostname=req["sni"]) as s:
            version = s.version()
            if "get" in req:
                s.settimeout(req.get("read_timeout", 20.0))
                s.sendall(f"GET {req['get']} HTTP/1.1\r\nHost: {req['sni']}\r\n\r\n".encode())
                t0, total = time.monotonic(), 0
                while chunk := s.recv(65536):
                    total += len(chunk)
                    timings.append((time.monotonic() - t0, total))
                    body = body[:1024] + chunk[: max(0, 1024 - len(body))]
    except (OSError, ssl.SSLError) as e:
        exc = e
    packets = sniffer.close()
    return {"outcome": _outcome(exc), "version": version, "timings": timings[:: max(1, len(timings) // 400)]
            + timings[-1:], "server_packets": packets}


def split_hello(req: dict[str, Any]) -> dict[str, Any]:
    """Send a real ClientHello in two TCP segments (cut at `cut` bytes), then wait for the server's reply."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_obj = ctx.wrap_bio(incoming, outgoing, server_hostname=req["sni"])
    try:
        tls_obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    exc: BaseException | None = None
    reply = b""
    try:
        with socket.create_connection((req["ip"], 443), timeout=req.get("timeout", 1.5)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.send(hello[: req["cut"]])
            time.sleep(0.1)
            s.send(hello[req["cut"] :])
            reply = s.recv(5)
    except OSError as e:
        exc = e
    # A ServerHello starts with a handshake record (type 22).
    return {"outcome": _outcome(exc), "server_hello": reply[:1] == b"\x16"}


def http(req: dict[str, Any]) -> dict[str, Any]:
    """A plain HTTP GET to ip:80 with the given Host; the reply's status line and body, and any RST's traits."""
    sniffer = Sniffer(req["ip"])
    exc: BaseException | None = None
    data = b""
    try:
        with socket.create_connection((req["ip"], 80), timeout=req.get("timeout", 2.0)) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {req['host']}\r\nConnection: close\r\n\r\n".encode())
            while chunk := s.recv(65536):
                data += chunk
    except OSError as e:
        exc = e
    packets = sniffer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return {"outcome": _outcome(exc), "status_line": head.split(b"\r\n")[0].decode("latin-1"),
            "body": body.decode("utf-8", "replace"), "server_packets": packets}


def tcp(req: dict[str, Any]) -> dict[str, Any]:
    exc: BaseException | None = None
    echoed = b""
    try:
        with socket.create_connection((req["ip"], req["port"]), timeout=req.get("timeout", 1.0)) as s:
            if req.get("echo"):
                s.sendall(b"ping")
                echoed = s.recv(16)
    except OSError as e:
        exc = e
    return {"outcome": _outcome(exc), "echo": echoed.decode()}


def udp(req: dict[str, Any]) -> dict[str, Any]:
    """A STUN Binding request (port 3478) or a datagram to echo; answered or not within the timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(req.get("timeout", 1.0))
    txid = os.urandom(12)
    msg = struct.pack("!HHI", 1, 0, 0x2112A442) + txid if req.get("stun") else b"media-echo"
    try:
        s.sendto(msg, (req["ip"], req["port"]))
        data = s.recv(2048)
    except TimeoutError:
        return {"outcome": "timeout"}
    result: dict[str, Any] = {"outcome": "ok", "echo": data == msg}
    if req.get("stun"):
        mtype, _, cookie = struct.unpack_from("!HHI", data)
        result["stun_success"] = mtype == 0x0101 and cookie == 0x2112A442 and data[8:20] == txid
        port, ip = struct.unpack_from("!HI", data, 26)
        result["mapped"] = f"{socket.inet_ntoa(struct.pack('!I', ip ^ 0x2112A442))}:{port ^ 0x2112}"
    return result


def connect_out(req: dict[str, Any]) -> dict[str, Any]:
    """Try to reach an address outside the lab: must fail at once with 'network unreachable' (no route)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", (req["ip"], 9))
        return {"outcome": "sent"}
    except OSError as e:
        return {"outcome": "unreachable" if e.errno == 101 else f"error: {e!r}"}


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    print(json.dumps(globals()[request.pop("op")](request)))
