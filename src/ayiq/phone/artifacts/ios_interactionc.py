"""InteractionC (CoreDuet): when apps sent or received messages and calls, kept even after the messages
are deleted; it puts message-borne exploits on the timeline."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, present_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac

DIRECTION = {0: "incoming", 1: "outgoing"}


class InteractionC(Artifact):
    name = "interactionc"
    title = "Message and call interactions per app (CoreDuet interactionC)"
    backup_files = (("HomeDomain", "Library/CoreDuet/People/interactionC.db"),)
    fs_files = ("private/var/mobile/Library/CoreDuet/People/interactionC.db",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "ZINTERACTIONS" not in tables(conn):
                return []
            want = present_columns(conn, "ZINTERACTIONS", ("Z_PK", "ZBUNDLEID", "ZDIRECTION", "ZSTARTDATE",
                                                           "ZENDDATE", "ZCREATIONDATE", "ZDOMAINIDENTIFIER",
                                                           "ZSENDER", "ZRECIPIENTCOUNT"))
            join = "ZCONTACTS" in tables(conn) and "ZSENDER" in want
            csel = present_columns(conn, "ZCONTACTS", ("ZIDENTIFIER", "ZDISPLAYNAME")) if join else []
            sql = "SELECT " + ", ".join(f"i.{c}" for c in want)
            sql += "".join(f", c.{c}" for c in csel)
            sql += " FROM ZINTERACTIONS i"
            sql += " LEFT JOIN ZCONTACTS c ON c.Z_PK = i.ZSENDER" if csel else ""
            out: list[Record] = []
            for row in conn.execute(sql):
                r = dict(zip([*want, *("sender_" + c[1:].lower() for c in csel)], row, strict=True))
                d = r.get("ZDIRECTION")
                out.append({"id": r.get("Z_PK"), "bundle_id": r.get("ZBUNDLEID"),
                            "direction": DIRECTION.get(d, str(d)) if isinstance(d, int) else "incoming",
                            "start_date": from_mac(r.get("ZSTARTDATE")), "end_date": from_mac(r.get("ZENDDATE")),
                            "creation_date": from_mac(r.get("ZCREATIONDATE")),
                            "domain_identifier": r.get("ZDOMAINIDENTIFIER"),
                            "sender": r.get("sender_identifier"), "sender_name": r.get("sender_displayname"),
                            "recipients": r.get("ZRECIPIENTCOUNT"), "source_file": f.device_path})
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            bundle = rec.get("bundle_id")
            ms = iocs.match_app_id(bundle) if isinstance(bundle, str) else []
            sender = rec.get("sender")
            if not ms and isinstance(sender, str) and "@" in sender and not sender.endswith(("@lid", ".net")):
                ms = iocs.match_email(sender)
            for m in ms[:1]:
                out.append(ioc_alert(self.name, m, f"an {rec['direction']} interaction in {bundle},",
                                     rec["start_date"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            who = rec.get("sender_name") or rec.get("sender") or rec.get("domain_identifier") or "unknown"
            out += self.event(rec["start_date"], f"{rec['direction']}_interaction", f"{rec.get('bundle_id')}: {who}")
        return out
