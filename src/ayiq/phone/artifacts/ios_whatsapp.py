"""WhatsApp (ChatStorage.sqlite): links in messages, the usual first step of one-click exploits."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact, find_urls
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent
from ayiq.phone.readers import open_sqlite, present_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class WhatsApp(Artifact):
    name = "whatsapp"
    title = "WhatsApp messages"
    backup_files = (("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ChatStorage.sqlite"),)
    fs_files = ("private/var/mobile/Containers/Shared/AppGroup/*/ChatStorage.sqlite",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "ZWAMESSAGE" not in tables(conn):
                return []
            want = present_columns(conn, "ZWAMESSAGE", ("Z_PK", "ZCHATSESSION", "ZFROMJID", "ZTOJID", "ZTEXT",
                                                        "ZMESSAGEDATE", "ZISFROMME"))
            session = "ZWACHATSESSION" in tables(conn) and "ZCHATSESSION" in want
            sql = f"SELECT {', '.join('m.' + c for c in want)}"
            sql += ", s.ZPARTNERNAME, s.ZCONTACTJID" if session else ", NULL, NULL"
            sql += " FROM ZWAMESSAGE m"
            sql += " LEFT JOIN ZWACHATSESSION s ON s.Z_PK = m.ZCHATSESSION" if session else ""
            out: list[Record] = []
            for row in conn.execute(sql):
                r = dict(zip([*want, "chat_name", "chat_jid"], row, strict=True))
                text = r.get("ZTEXT") if isinstance(r.get("ZTEXT"), str) else ""
                out.append({"id": r.get("Z_PK"), "chat": r.get("chat_name"), "chat_jid": r.get("chat_jid"),
                            "from": r.get("ZFROMJID"), "to": r.get("ZTOJID"), "is_from_me": bool(r.get("ZISFROMME")),
                            "isodate": from_mac(r.get("ZMESSAGEDATE")), "text": text, "links": find_urls(text),
                            "source_file": f.device_path})
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            out += self.check_urls(rec["links"], iocs, "a WhatsApp message contained the link", rec["isodate"], rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            who = f"to {rec.get('to') or rec.get('chat_jid')}" if rec["is_from_me"] else f"from {rec.get('from')}"
            out += self.event(rec["isodate"], "message", f"{who} in {rec.get('chat')}: {rec.get('text')}")
        return out
