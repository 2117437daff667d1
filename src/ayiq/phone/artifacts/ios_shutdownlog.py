"""shutdown.log (sysdiagnose / filesystem): processes still running when the phone was shut down.

Kaspersky's iShutdown method: Pegasus left processes running from /private/var/db/ or /private/var/tmp/,
and infected phones showed reboots delayed three or more times by "clients still here"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_unix

CLIENT_RE = re.compile(r"remaining client pid:\s*(\d+)\s*\((.*)\)\s*$")
AFTER_RE = re.compile(r"^After ([\d.]+)s, these clients are still here", re.I)
SIGTERM_RE = re.compile(r"^SIGTERM: \[(\d+)\]")
SUSPICIOUS_DIRS = ("/private/var/db/", "/private/var/tmp/")
DELAYS_THRESHOLD = 3
MAX_LOG_BYTES = 256 * 1024 * 1024


def parse_shutdown_log(text: str) -> list[Record]:
    """One record per client per shutdown; every record knows how often that shutdown was delayed."""
    out: list[Record] = []
    clients: dict[tuple[str, str], Record] = {}
    delays, max_delay = 0, 0.0
    for raw in text.splitlines():
        line = raw.strip()
        m = AFTER_RE.match(line)
        if m:
            delays += 1
            try:
                max_delay = max(max_delay, float(m.group(1)))
            except ValueError:
                pass
            continue
        m = CLIENT_RE.search(line)
        if m:
            key = (m.group(1), m.group(2))
            rec = clients.get(key)
            if rec is None:
                rec = clients[key] = {"pid": int(m.group(1)), "client": m.group(2), "seen_in_delays": 0}
            rec["seen_in_delays"] += 1
            continue
        m = SIGTERM_RE.match(line)
        if m:
            ts = from_unix(int(m.group(1)))
            for rec in clients.values():
                out.append({**rec, "isodate": ts, "delays": delays, "max_delay_seconds": max_delay})
            if not clients:
                out.append({"pid": None, "client": None, "seen_in_delays": 0, "isodate": ts, "delays": delays,
                            "max_delay_seconds": max_delay})
            clients, delays, max_delay = {}, 0, 0.0
    return out


class ShutdownLog(Artifact):
    name = "shutdown_log"
    title = "Processes running at shutdown (shutdown.log)"
    fs_files = ("private/var/db/diagnostics/shutdown.log", "*/system_logs.logarchive/Extra/shutdown.log",
                "*shutdown.log")

    def parse(self, f: EvidenceFile) -> list[Record]:
        try:
            if f.local.stat().st_size > MAX_LOG_BYTES:
                raise InputError(f.device_path, "shutdown.log larger than 256 MB: refused")
            text = f.local.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f.device_path, f"cannot read ({exc.strerror})") from exc
        recs = parse_shutdown_log(text)
        for r in recs:
            r["source_file"] = f.device_path
        return recs

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        flagged_reboots: set[str | None] = set()
        for rec in records:
            client = rec.get("client")
            if isinstance(client, str) and client:
                ms = iocs.match_file_path(client) or iocs.match_process(client.rsplit("/", 1)[-1])
                if not ms:
                    for part in client.split("/"):
                        ms = iocs.match_process(part) if part else []
                        if ms:
                            break
                if ms:
                    out.append(ioc_alert(self.name, ms[0], "a process still running at shutdown,", rec["isodate"], rec))
                    continue
                if client.startswith(SUSPICIOUS_DIRS) or client.startswith(("/var/db/", "/var/tmp/")):
                    out.append(Alert(Level.HIGH, self.name, f"a process ran from a system data folder and was still "
                                     f"running at shutdown: {client} (pid {rec['pid']}); Pegasus did this (Kaspersky "
                                     "iShutdown method)", rec["isodate"], rec))
            if rec["delays"] >= DELAYS_THRESHOLD and rec["isodate"] not in flagged_reboots:
                flagged_reboots.add(rec["isodate"])
                out.append(Alert(Level.MEDIUM, self.name, f"the shutdown on {rec['isodate'][:16] if rec['isodate'] else '?'}"
                                 f" was delayed {rec['delays']} times by processes that would not stop (3 or more "
                                 "delays were seen on Pegasus-infected phones; slow apps can also cause them)",
                                 rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            if rec.get("client"):
                out += self.event(rec["isodate"], "shutdown", f"{rec['client']} (pid {rec['pid']}) still running at "
                                  f"shutdown (delays: {rec['delays']})")
        return out
