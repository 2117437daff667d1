"""Per-process network use (DataUsage.sqlite, netusage.sqlite): process names, first/last use, and gaps
where rows were deleted (a trace of cleanup, as Pegasus did)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, table_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class DataUsage(Artifact):
    name = "datausage"
    title = "Network use per process (DataUsage)"
    backup_files: ClassVar[tuple[tuple[str, str], ...]] = (("WirelessDomain", "Library/Databases/DataUsage.sqlite"),)
    fs_files: ClassVar[tuple[str, ...]] = ("private/var/wireless/Library/Databases/DataUsage.sqlite",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if not {"ZPROCESS", "ZLIVEUSAGE"} <= tables(conn):
                return []
            lcols = table_columns(conn, "ZLIVEUSAGE")
            extra = [c for c in ("ZWIFIIN", "ZWIFIOUT", "ZWWANIN", "ZWWANOUT") if c in lcols]
            sel = ", ".join(f"l.{c}" for c in extra)
            rows: list[Record] = []
            q1 = (f"SELECT p.Z_PK, p.ZPROCNAME, p.ZBUNDLENAME, p.ZFIRSTTIMESTAMP, p.ZTIMESTAMP, l.Z_PK, "
                  f"l.ZHASPROCESS, l.ZTIMESTAMP{', ' + sel if sel else ''} "
                  f"FROM ZLIVEUSAGE l LEFT JOIN ZPROCESS p ON l.ZHASPROCESS = p.Z_PK")
            for r in conn.execute(q1):
                rec = _rec(r[:5], live_id=r[5], live_proc=r[6], live_ts=r[7], f=f)
                rec.update({c.lower().removeprefix("z"): v for c, v in zip(extra, r[8:], strict=True)})
                rows.append(rec)
            q2 = ("SELECT Z_PK, ZPROCNAME, ZBUNDLENAME, ZFIRSTTIMESTAMP, ZTIMESTAMP FROM ZPROCESS WHERE Z_PK NOT IN "
                  "(SELECT ZHASPROCESS FROM ZLIVEUSAGE WHERE ZHASPROCESS IS NOT NULL)")
            for r in conn.execute(q2):
                rows.append(_rec(r, live_id=None, live_proc=None, live_ts=None, f=f))
            # rows deleted from ZPROCESS leave holes in its primary keys: keep a placeholder for each
            ids = sorted({r["proc_id"] for r in rows if isinstance(r["proc_id"], int)})
            present = set(ids)
            by_id = {r["proc_id"]: r for r in rows if r["proc_id"] is not None}
            prev = None
            for pid in range(ids[0], ids[-1]) if ids else ():
                if pid in present:
                    prev = by_id[pid]
                    continue
                assert prev is not None
                rows.append({"proc_id": pid, "proc_name": None, "bundle_id": None, "deleted": True,
                             "previous_proc_id": prev["proc_id"], "previous_proc_name": prev["proc_name"],
                             "first_isodate": prev["first_isodate"], "isodate": prev["first_isodate"],
                             "live_isodate": None, "live_id": None, "live_proc_id": None,
                             "source_file": f.device_path})
            return rows

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            if rec.get("deleted"):
                out.append(Alert(Level.LOW, self.name, f"process record {rec['proc_id']} is missing (deleted "
                                 f"after {rec['previous_proc_name']!r}, first seen {rec['first_isodate']}); "
                                 "spyware has deleted its own rows here, other causes exist", rec["first_isodate"],
                                 rec))
                continue
            if rec["proc_id"] is None and rec.get("live_proc_id") is not None:
                out.append(Alert(Level.HIGH, self.name, f"network use on {rec['live_isodate']} belongs to process "
                                 f"record {rec['live_proc_id']}, which was deleted (manipulated database)",
                                 rec["live_isodate"], rec))
                continue
            name = rec.get("proc_name")
            if isinstance(name, str) and name:
                for m in iocs.match_process(name)[:1]:
                    out.append(ioc_alert(self.name, m, "a process that used the network,", rec["first_isodate"],
                                         rec))
            bundle = rec.get("bundle_id")
            if isinstance(bundle, str) and bundle:
                for m in iocs.match_app_id(bundle)[:1]:
                    out.append(ioc_alert(self.name, m, "an app that used the network,", rec["first_isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            label = f"{rec.get('proc_name')} (bundle {rec.get('bundle_id')}, id {rec.get('proc_id')})"
            if rec.get("deleted"):
                out += self.event(rec["first_isodate"], "deleted_process", label)
                continue
            out += self.event(rec.get("live_isodate"), "live_usage",
                              f"{label} WWAN in {rec.get('wwanin')} out {rec.get('wwanout')}")
            if rec.get("live_proc_id") is not None or rec.get("live_id") is None:
                out += self.event(rec["first_isodate"], "first_usage", label)
                out += self.event(rec["isodate"], "current_usage", label)
        return out


def _rec(r: tuple[object, ...], *, live_id: object, live_proc: object, live_ts: object, f: EvidenceFile) -> Record:
    pid, name, bundle, first, last = r
    return {"proc_id": pid, "proc_name": name, "bundle_id": bundle, "first_isodate": from_mac(first),
            "isodate": from_mac(last), "live_id": live_id, "live_proc_id": live_proc,
            "live_isodate": from_mac(live_ts), "source_file": f.device_path}


class NetUsage(DataUsage):
    name = "netusage"
    title = "Network use per process (netusage)"
    backup_files = ()
    fs_files = ("private/var/networkd/netusage.sqlite", "private/var/networkd/db/netusage.sqlite")
