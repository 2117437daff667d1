"""The censor middlebox: runs in the lab's ISP namespace, installs its rules and judges queued packets.

nftables sets drop blackholed addresses and blocked UDP; an NFQUEUE inspector reads DNS questions, TLS SNI
and HTTP Host and forges answers, RSTs and blockpages with the middlebox's TTL/IP-ID, or marks flows for
the HTB throttle classes. A schedule thread re-applies rules by the lab clock (real time + offset).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ayiq.lab import packets
from ayiq.lab.nfqueue import NfQueue, QueuedPacket
from ayiq.lab.scenario import Scenario, Target, scenario_from_dict
from ayiq.lab.wire import client_hello_sni, http_host

QUEUE_NUM = 0
THROTTLE_MARK = 0x100  # flow marks 0x100 + n map to HTB class 1:(0x10 + n)
# An SNI-dropped flow stays dropped: only a flow's first packets reach the inspector (connbytes), so without a
# flow mark a ClientHello retransmitted often enough would slip through (OONI's 10 s handshake got there).
DROP_FLOW_MARK = 0xd0
CLIENT_IF, UPSTREAM_IF = "i0", "i1"
TICK = 0.1


def lab_now(state_dir: Path) -> tuple[dt.datetime, int]:
    """The lab clock (real UTC time + the offset in clock.json) and the clock file's generation."""
    try:
        raw = json.loads((state_dir / "clock.json").read_text("utf-8"))
    except (OSError, ValueError):
        raw = {}
    offset = float(raw.get("offset_seconds", 0.0))
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset), int(raw.get("generation", 0))


def _run(cmd: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")


class Censor:
    def __init__(self, scenario: Scenario, run_id: str, state_dir: Path) -> None:
        self.scenario = scenario
        self.traits = scenario.censor
        self.table = f"ayiq_{run_id}"
        self.state_dir = state_dir
        self.by_name = {t.name: t for t in scenario.targets}
        self.throttled = [t for t in scenario.targets if t.throttle_bps]
        self.active: frozenset[str] = frozenset()
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.events = (state_dir / "censor-events.jsonl").open("a", encoding="utf-8", buffering=1)
        self.lock = threading.Lock()
        self.partial: dict[tuple[str, int, str, int], tuple[int, bytes]] = {}

    # -- rules -------------------------------------------------------------------------------------------

    def install(self) -> None:
        throttle_rules = "\n".join(
            f"    ct mark {THROTTLE_MARK + i:#x} meta priority set 1:{0x10 + i:x}"
            for i, _ in enumerate(self.throttled))
        _run(["nft", "-f", "-"], f"""
table inet {self.table} {{
  set blackhole {{ type ipv4_addr; }}
  set udpblock {{ type ipv4_addr; }}
  chain forward {{
    type filter hook forward priority -10; policy accept;
    ct mark {DROP_FLOW_MARK:#x} drop
    ip daddr @blackhole drop
    ip saddr @blackhole drop
    meta l4proto udp ip daddr @udpblock drop
    meta l4proto udp ip saddr @udpblock drop
  }}
  chain post {{
    type filter hook postrouting priority 0; policy accept;
    meta mark {DROP_FLOW_MARK:#x} ct mark set meta mark drop
    meta mark & 0xffffff00 == {THROTTLE_MARK:#x} ct mark set meta mark
{throttle_rules}
  }}
}}
""")
        # nftables here has no queue statement; iptables' NFQUEUE target does the queueing.
        # Only the first packets of a TCP flow (handshake, ClientHello, request) go to userspace.
        _run(["iptables", "-A", "FORWARD", "-i", CLIENT_IF, "-p", "udp", "--dport", "53",
              "-j", "NFQUEUE", "--queue-num", str(QUEUE_NUM)])
        _run(["iptables", "-A", "FORWARD", "-i", CLIENT_IF, "-p", "tcp", "-m", "multiport", "--dports", "80,443",
              "-m", "connbytes", "--connbytes", "0:8", "--connbytes-dir", "original", "--connbytes-mode",
              "packets", "-j", "NFQUEUE", "--queue-num", str(QUEUE_NUM)])
        for dev in (CLIENT_IF, UPSTREAM_IF):
            # Unclassified traffic (default 0) leaves directly, unshaped.
            _run(["tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "0"])
            for i, t in enumerate(self.throttled):
                assert t.throttle_bps is not None
                classid = f"1:{0x10 + i:x}"
                _run(["tc", "class", "add", "dev", dev, "parent", "1:", "classid", classid, "htb",
                      "rate", f"{t.throttle_bps}bit", "ceil", f"{t.throttle_bps}bit"])
                if t.throttle_mode == "policer":
                    # A policer keeps only a burst's worth (100 ms) of queue: excess is dropped at once,
                    # so TCP sees bursty loss and a flat plateau instead of growing delay.
                    limit = max(15_000, t.throttle_bps // 8 // 10)
                    _run(["tc", "qdisc", "add", "dev", dev, "parent", classid, "bfifo", "limit", str(limit)])
                else:
                    _run(["tc", "qdisc", "add", "dev", dev, "parent", classid, "pfifo", "limit", "1000"])

    def apply(self, active: frozenset[str]) -> None:
        """Fill the nftables sets with the addresses of the targets whose treatment is on now."""
        blackhole = sorted({self.by_name[n].address for n in active if self.by_name[n].ip == "blackhole"})
        udpblock = sorted({self.by_name[n].address for n in active if self.by_name[n].udp == "block"})
        script = [f"flush set inet {self.table} blackhole", f"flush set inet {self.table} udpblock"]
        if blackhole:
            script.append(f"add element inet {self.table} blackhole {{ {', '.join(blackhole)} }}")
        if udpblock:
            script.append(f"add element inet {self.table} udpblock {{ {', '.join(udpblock)} }}")
        _run(["nft", "-f", "-"], "\n".join(script) + "\n")
        self.active = active

    def schedule_loop(self, stop: threading.Event) -> None:
        last_generation = -1
        while not stop.is_set():
            now, generation = lab_now(self.state_dir)
            active = frozenset(t.name for t in self.scenario.targets if t.active(now))
            if active != self.active or generation != last_generation:
                with self.lock:
                    if active != self.active or last_generation < 0:
                        self.apply(active)
                status = {"schema": "lab-censor-status", "version": 1, "generation": generation,
                          "lab_time": now.isoformat(), "active": sorted(active)}
                tmp = self.state_dir / "censor-status.json.tmp"
                tmp.write_text(json.dumps(status), "utf-8")
                tmp.replace(self.state_dir / "censor-status.json")
                last_generation = generation
            stop.wait(TICK)

    # -- packet judgement ------------------------------------------------------------------------------------

    def _match(self, name: str | None) -> Target | None:
        if not name:
            return None
        name = name.lower().rstrip(".")
        while name:
            t = self.by_name.get(name)
            if t is not None:
                return t if t.name in self.active else None
            name = name.partition(".")[2]
        return None

    def _log(self, target: Target, technique: str, pkt: packets.Packet) -> None:
        now, _ = lab_now(self.state_dir)
        self.events.write(json.dumps({
            "schema": "lab-censor-event", "version": 1, "lab_time": now.isoformat(),
            "target": target.name, "technique": technique,
            "flow": f"{pkt.src}:{pkt.sport}->{pkt.dst}:{pkt.dport}"}) + "\n")

    def _send(self, wire: bytes, dst: str) -> None:
        self.raw.sendto(wire, (dst, 0))

    def _rst(self, pkt: packets.Packet) -> None:
        """RST both ends as if the other had sent it; the client's copy carries the middlebox's traits."""
        end = pkt.seq + len(pkt.payload)
        self._send(packets.tcp(pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.ack, end,
                               packets.TCP_RST | packets.TCP_ACK, ttl=self.traits.rst_ttl,
                               ip_id=self.traits.rst_ip_id), pkt.src)
        self._send(packets.tcp(pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.seq, 0, packets.TCP_RST), pkt.dst)

    def _blockpage(self, pkt: packets.Packet) -> None:
        body = self.traits.blockpage.encode()
        response = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
        end = pkt.seq + len(pkt.payload)
        self._send(packets.tcp(pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.ack, end,
                               packets.TCP_PSH | packets.TCP_ACK | packets.TCP_FIN, response,
                               ttl=self.traits.rst_ttl, ip_id=self.traits.rst_ip_id, window=8192), pkt.src)
        self._send(packets.tcp(pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.seq, 0, packets.TCP_RST), pkt.dst)

    def _dns(self, pkt: packets.Packet) -> bool:
        """Forge an answer if the question names a treated target; True to let the real query pass."""
        try:
            query = dns.message.from_wire(pkt.payload)
        except Exception:  # not DNS we understand: let it through untouched
            return True
        if not query.question:
            return True
        q = query.question[0]
        target = self._match(q.name.to_text())
        if target is None or target.dns is None:
            return True
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if target.dns == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif q.rdtype == dns.rdatatype.A:
            answer = "127.0.0.1" if target.dns == "localhost" else target.dns_answer
            response.answer.append(dns.rrset.from_text(q.name, 300, dns.rdataclass.IN, dns.rdatatype.A, answer))
        self._send(packets.udp(pkt.dst, pkt.src, pkt.dport, pkt.sport, response.to_wire(),
                               ttl=self.traits.rst_ttl, ip_id=self.traits.rst_ip_id), pkt.src)
        self._log(target, f"dns-{target.dns}", pkt)
        return target.dns == "inject"  # injection races the real answer; the others replace it

    def judge(self, nfpkt: QueuedPacket) -> None:
        try:
            pkt = packets.parse(nfpkt.get_payload())
            with self.lock:
                verdict = self._judge(pkt, nfpkt) if pkt is not None else "accept"
        except Exception as exc:  # never wedge the queue: a bug lets the packet through and is logged
            print(f"censor: {exc!r}", file=sys.stderr, flush=True)
            verdict = "accept"
        if verdict == "drop":
            nfpkt.drop()
        else:
            nfpkt.accept()

    def _reassemble(self, pkt: packets.Packet) -> bytes | None:
        """The ClientHello bytes so far for this flow, or None while a started record is incomplete.

        Large ClientHellos (post-quantum key shares, padding) span two or more segments, and the SNI may
        sit in a later one; a DPI box that only read the first segment would be easy to evade.
        """
        key = (pkt.src, pkt.sport, pkt.dst, pkt.dport)
        data = pkt.payload
        # Kept after use: a retransmitted later segment must meet the same verdict.
        held = self.partial.get(key)
        if held is not None and held[0] == pkt.seq:
            data = held[1] + data
        if len(data) >= 5 and data[0] == 22 and len(data) < 5 + int.from_bytes(data[3:5], "big") \
                and len(data) < 16_384 and client_hello_sni(data) is None:
            if len(self.partial) >= 4096:
                self.partial.pop(next(iter(self.partial)))
            self.partial[key] = (pkt.seq + len(pkt.payload), data)
            return None
        return data

    def _judge(self, pkt: packets.Packet, nfpkt: QueuedPacket) -> str:
        if pkt.proto == socket.IPPROTO_UDP:
            return "accept" if pkt.dport != 53 or self._dns(pkt) else "drop"
        if not pkt.payload:
            return "accept"
        if pkt.dport == 443:
            hello = self._reassemble(pkt)
            if hello is None:
                return "accept"  # the first part of a ClientHello spread over segments: wait for the rest
            target = self._match(client_hello_sni(hello))
            if target is None:
                return "accept"
            if target.tls == "drop":
                self._log(target, "sni-drop", pkt)
                nfpkt.set_mark(DROP_FLOW_MARK)  # accepted here, dropped in postrouting, the flow marked
                return "accept"
            if target.tls == "rst":
                self._log(target, "sni-rst", pkt)
                self._rst(pkt)
                return "drop"
            if target.throttle_bps:
                self._log(target, "sni-throttle", pkt)
                nfpkt.set_mark(THROTTLE_MARK + self.throttled.index(target))
            return "accept"
        if pkt.dport == 80:
            target = self._match(http_host(pkt.payload))
            if target is None or target.http is None:
                return "accept"
            self._log(target, f"http-{target.http}", pkt)
            if target.http == "blockpage":
                self._blockpage(pkt)
            else:
                self._rst(pkt)
            return "drop"
        return "accept"


def main() -> None:
    state_dir = Path(sys.argv[1])
    config = json.loads((state_dir / "censor.json").read_text("utf-8"))
    censor = Censor(scenario_from_dict(config["scenario"], config.get("source", "")), config["run_id"], state_dir)
    censor.install()
    stop = threading.Event()
    nfq = NfQueue(QUEUE_NUM)
    nfq.bind()
    thread = threading.Thread(target=censor.schedule_loop, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (state_dir / "censor-status.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    def _stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("ready", flush=True)
    try:
        nfq.run(censor.judge)  # blocks; SIGTERM raises SystemExit out of it
    finally:
        stop.set()
        nfq.unbind()

if __name__ == "__main__":
    main()
