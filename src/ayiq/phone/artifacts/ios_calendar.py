"""Calendar (Calendar.sqlitedb): events and invitations; spyware operators have used calendar invites."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact, find_urls
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, present_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class Calendar(Artifact):
    name = "calendar"
    title = "Calendar events and invitations"
    backup_files = (("HomeDomain", "Library/Calendar/Calendar.sqlitedb"),)
    fs_files = ("private/var/mobile/Library/Calendar/Calendar.sqlitedb",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "CalendarItem" not in tables(conn):
                return []
            want = present_columns(conn, "CalendarItem", ("ROWID", "summary", "description", "start_date",
                                                          "end_date", "url", "creation_date", "last_modified",
                                                          "organizer_id", "UUID"))
            has_p = "Participant" in tables(conn) and "organizer_id" in want
            pnames = present_columns(conn, "Participant", ("email", "phone_number")) if has_p else []
            psel = ", ".join(f"p.{c}" for c in pnames)
            sql = f"SELECT {', '.join('c.' + c for c in want)}"
            sql += (", " + psel) if psel else ""
            sql += " FROM CalendarItem c"
            sql += " LEFT JOIN Participant p ON p.ROWID = c.organizer_id" if psel else ""
            out: list[Record] = []
            for row in conn.execute(sql):
                r = dict(zip([*want, *("participant_" + n for n in pnames)], row, strict=True))
                for k in ("start_date", "end_date", "creation_date", "last_modified"):
                    if k in r:
                        r[k] = from_mac(r[k])
                r["source_file"] = f.device_path
                out.append(r)
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            email = rec.get("participant_email")
            if isinstance(email, str):
                for m in iocs.match_email(email)[:1]:
                    out.append(ioc_alert(self.name, m, f"calendar event {rec.get('summary')!r} came from",
                                         rec.get("creation_date"), rec))
            urls = find_urls(rec.get("description")) + ([rec["url"]] if isinstance(rec.get("url"), str) else [])
            out += self.check_urls(urls, iocs, f"calendar event {rec.get('summary')!r} has the link",
                                   rec.get("creation_date"), rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            data = f"{rec.get('summary')} (organizer {rec.get('participant_email')})"
            for k in ("start_date", "end_date", "creation_date", "last_modified"):
                out += self.event(rec.get(k), k, data)
        return out
