"""Safari: open tabs (BrowserState.db) and history (History.db), with redirect chains."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent
from ayiq.phone.readers import open_sqlite, select_present, table_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class SafariBrowserState(Artifact):
    name = "safari_browser_state"
    title = "Safari open tabs"
    backup_files = (("HomeDomain", "Library/Safari/BrowserState.db"),
                    ("AppDomain-com.apple.mobilesafari", "Library/Safari/BrowserState.db"))
    fs_files = ("private/var/mobile/Library/Safari/BrowserState.db",
                "private/var/mobile/Containers/Data/Application/*/Library/Safari/BrowserState.db")

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            out: list[Record] = []
            for r in select_present(conn, "tabs", ("title", "url", "user_visible_url", "last_viewed_time",
                                                   "private_browsing")):
                r["last_viewed_timestamp"] = from_mac(r.pop("last_viewed_time", None))
                r["source_file"] = f.device_path
                out.append(r)
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            urls = {u for u in (rec.get("url"), rec.get("user_visible_url")) if isinstance(u, str) and u}
            out += self.check_urls(sorted(urls), iocs, "a Safari tab was open on", rec["last_viewed_timestamp"],
                                   rec)[:1]
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["last_viewed_timestamp"], "tab", f"{rec.get('title')} - {rec.get('url')}")
        return out


class SafariHistory(Artifact):
    name = "safari_history"
    title = "Safari history"
    backup_files = (("AppDomain-com.apple.mobilesafari", "Library/Safari/History.db"),
                    ("HomeDomain", "Library/Safari/History.db"))
    fs_files = ("private/var/mobile/Library/Safari/History.db",
                "private/var/mobile/Containers/Data/Application/*/Library/Safari/History.db")

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if not {"history_items", "history_visits"} <= tables(conn):
                return []
            redirect = "redirect_source" in table_columns(conn, "history_visits")
            sql = ("SELECT v.id, i.url, v.visit_time, v.title, "
                   + ("v.redirect_source, v.redirect_destination" if redirect else "NULL, NULL")
                   + " FROM history_items i JOIN history_visits v ON v.history_item = i.id ORDER BY v.visit_time")
            out: list[Record] = []
            for vid, url, vt, title, rsrc, rdst in conn.execute(sql):
                out.append({"id": vid, "url": url, "isodate": from_mac(vt), "title": title,
                            "redirect_source": rsrc, "redirect_destination": rdst, "source_file": f.device_path})
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            if isinstance(rec.get("url"), str):
                out += self.check_urls([rec["url"]], iocs, "Safari visited", rec["isodate"], rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "visit", f"{rec.get('url')} ({rec.get('title')})")
        return out
