"""iMessage/SMS (sms.db): links in messages, Apple threat notifications, odd attachments in /var/tmp."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact, find_urls
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, present_columns, select_present, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac

SMS_FILES = (("HomeDomain", "Library/SMS/sms.db"),)
SMS_FS = ("private/var/mobile/Library/SMS/sms.db",)

# Apple sends threat notifications from these senders/words (iMessage and e-mail); seeing one is context
# the examiner must see first, whatever the indicators say.
THREAT_NOTIFICATION_WORDS = ("mercenary spyware", "state-sponsored attackers", "threat-notifications@apple.com")


class Sms(Artifact):
    name = "sms"
    title = "SMS and iMessage"
    backup_files = SMS_FILES
    fs_files = SMS_FS

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "message" not in tables(conn):
                return []
            want = present_columns(conn, "message", ("ROWID", "guid", "text", "service", "date", "date_read",
                                                     "is_from_me", "handle_id", "cache_has_attachments"))
            has_handle = "handle" in tables(conn) and "handle_id" in want
            sql = "SELECT " + ", ".join(f"m.{c}" for c in want)
            sql += ", h.id AS handle" if has_handle else ", NULL AS handle"
            sql += " FROM message m"
            sql += " LEFT JOIN handle h ON h.ROWID = m.handle_id" if has_handle else ""
            out: list[Record] = []
            for row in conn.execute(sql):
                r = dict(zip([*want, "handle"], row, strict=True))
                text = r.get("text") if isinstance(r.get("text"), str) else ""
                out.append({
                    "id": r.get("ROWID"), "guid": r.get("guid"), "service": r.get("service"),
                    "handle": r.get("handle"), "is_from_me": bool(r.get("is_from_me")),
                    "isodate": from_mac(r.get("date")), "isodate_read": from_mac(r.get("date_read")),
                    "text": text, "links": find_urls(text), "source_file": f.device_path,
                })
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            out += self.check_urls(rec["links"], iocs, "a message contained the link", rec["isodate"], rec)
            handle = rec.get("handle")
            if isinstance(handle, str) and "@" in handle:
                for m in iocs.match_email(handle)[:1]:
                    out.append(ioc_alert(self.name, m, "a message came from the account", rec["isodate"], rec))
            low = (rec.get("text") or "").lower()
            if any(w in low for w in THREAT_NOTIFICATION_WORDS) and "apple" in low:
                out.append(Alert(Level.HIGH, self.name, "an Apple threat notification (Apple warns users it "
                                 "believes were targeted by mercenary spyware) was received", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            who = "to" if rec["is_from_me"] else "from"
            data = f"{rec.get('service') or 'message'} {who} {rec.get('handle') or 'unknown sender'}: {rec.get('text')}"
            out += self.event(rec["isodate"], "sms_received" if not rec["is_from_me"] else "sms_sent", data)
            out += self.event(rec["isodate_read"], "sms_read", data)
        return out


class SmsAttachments(Artifact):
    name = "sms_attachments"
    title = "SMS and iMessage attachments"
    backup_files = SMS_FILES
    fs_files = SMS_FS

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            out: list[Record] = []
            for r in select_present(conn, "attachment", ("ROWID", "guid", "filename", "mime_type", "transfer_name",
                                                         "total_bytes", "created_date", "is_outgoing", "is_sticker",
                                                         "transfer_state")):
                r["isodate"] = from_mac(r.pop("created_date", None))
                r["source_file"] = f.device_path
                out.append(r)
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            fn = rec.get("filename")
            if not isinstance(fn, str):
                continue
            for m in iocs.match_file_path(fn)[:1]:
                out.append(ioc_alert(self.name, m, "an attachment was stored at", rec["isodate"], rec))
            # exploit chains (FORCEDENTRY, BLASTPASS) delivered attachments that iOS kept under /var/tmp
            if (fn.startswith(("/private/var/tmp/", "/var/tmp/")) and not rec.get("is_outgoing")
                    and not rec.get("is_sticker")):
                out.append(Alert(Level.MEDIUM, self.name, f"an incoming attachment was kept in a temporary "
                                 f"system folder ({fn}): seen in zero-click exploit attempts", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "attachment", f"{rec.get('transfer_name')} "
                              f"({rec.get('mime_type')}) at {rec.get('filename')}")
        return out
