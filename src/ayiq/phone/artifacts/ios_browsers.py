"""Third-party browsers and web caches: Chrome and Firefox history and favicons, Safari favicons, and
the URL caches apps keep (Cache.db)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent
from ayiq.phone.readers import open_sqlite, table_columns, tables
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac, from_unix, iso

CHROME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def from_chrome(v: object) -> str | None:
    if not isinstance(v, int | float) or isinstance(v, bool) or v <= 0:
        return None
    try:
        return iso(CHROME_EPOCH + timedelta(microseconds=float(v)))
    except OverflowError:
        return None


class _UrlArtifact(Artifact):
    """Records with `url` and `isodate`: indicator checks and timeline are the same for all of them."""

    what = "visited"

    def rows(self, f: EvidenceFile, needed: set[str], sql: str) -> list[tuple[Any, ...]]:
        """The rows `sql` gives, or none when the database lacks one of the `needed` tables."""
        with open_sqlite(f.local, label=f.device_path) as conn:
            if not needed <= tables(conn):
                return []
            return conn.execute(sql).fetchall()

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            if isinstance(rec.get("url"), str):
                out += self.check_urls([rec["url"]], iocs, f"{self.title}: {self.what}", rec.get("isodate"), rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec.get("isodate"), self.name, str(rec.get("url")))
        return out


class ChromeHistory(_UrlArtifact):
    name = "chrome_history"
    title = "Chrome history"
    backup_files = (("AppDomain-com.google.chrome.ios", "Library/Application Support/Google/Chrome/Default/History"),)
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Library/Application Support/Google/Chrome/"
                "Default/History",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        sql = ("SELECT v.id, u.url, v.visit_time, v.from_visit FROM urls u JOIN visits v ON v.url = u.id "
               "ORDER BY v.visit_time")
        return [{"id": i, "url": u, "isodate": from_chrome(t), "redirect_source": s, "source_file": f.device_path}
                for i, u, t, s in self.rows(f, {"urls", "visits"}, sql)]


class ChromeFavicon(_UrlArtifact):
    name = "chrome_favicon"
    title = "Chrome favicons"
    what = "icon fetched for"
    backup_files = (("AppDomain-com.google.chrome.ios",
                     "Library/Application Support/Google/Chrome/Default/Favicons"),)
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Library/Application Support/Google/Chrome/"
                "Default/Favicons",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if not {"icon_mapping", "favicons"} <= tables(conn):
                return []
            has_bitmaps = "favicon_bitmaps" in tables(conn)
            sql = ("SELECT m.page_url, i.url, " + ("b.last_updated" if has_bitmaps else "NULL") +
                   " FROM icon_mapping m JOIN favicons i ON m.icon_id = i.id" +
                   (" LEFT JOIN favicon_bitmaps b ON b.icon_id = i.id" if has_bitmaps else ""))
            return [{"url": p, "icon_url": i, "isodate": from_chrome(t), "source_file": f.device_path}
                    for p, i, t in conn.execute(sql)]


class FirefoxHistory(_UrlArtifact):
    name = "firefox_history"
    title = "Firefox history"
    backup_files = (("AppDomain-org.mozilla.ios.Firefox", "Profile.profile/browser.db"),)
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Profile.profile/browser.db",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        sql = "SELECT v.id, h.url, h.title, v.date FROM history h JOIN visits v ON v.siteID = h.id ORDER BY v.date"
        return [{"id": i, "url": u, "title": t, "isodate": from_unix(d, unit=1e6), "source_file": f.device_path}
                for i, u, t, d in self.rows(f, {"history", "visits"}, sql)]


class FirefoxFavicon(_UrlArtifact):
    name = "firefox_favicon"
    title = "Firefox favicons"
    what = "icon fetched from"
    backup_files = FirefoxHistory.backup_files
    fs_files = FirefoxHistory.fs_files

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            if "favicons" not in tables(conn):
                return []
            cols = table_columns(conn, "favicons")
            date = "date" if "date" in cols else "NULL"
            return [{"url": u, "isodate": from_unix(d, unit=1e3 if isinstance(d, int) and d > 1e11 else 1.0),
                     "source_file": f.device_path}
                    for u, d in conn.execute(f"SELECT url, {date} FROM favicons")]


class SafariFavicon(_UrlArtifact):
    name = "safari_favicon"
    title = "Safari favicons"
    what = "icon fetched for"
    fs_files = ("private/var/mobile/Library/Image Cache/Favicons/Favicons.db",
                "private/var/mobile/Containers/Data/Application/*/Library/Image Cache/Favicons/Favicons.db")

    def parse(self, f: EvidenceFile) -> list[Record]:
        sql = "SELECT p.url, i.url, i.timestamp FROM page_url p JOIN icon_info i ON i.uuid = p.uuid"
        return [{"url": p, "icon_url": i, "isodate": from_mac(t), "source_file": f.device_path}
                for p, i, t in self.rows(f, {"page_url", "icon_info"}, sql)]


class CacheFiles(_UrlArtifact):
    name = "cache_files"
    title = "URLs cached by apps (Cache.db)"
    what = "cached a response from"
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Library/Caches/*/Cache.db",
                "private/var/mobile/Library/Caches/*/Cache.db")

    def parse(self, f: EvidenceFile) -> list[Record]:
        sql = "SELECT request_key, time_stamp FROM cfurl_cache_response"
        return [{"url": u, "isodate": t if isinstance(t, str) else None, "source_file": f.device_path}
                for u, t in self.rows(f, {"cfurl_cache_response"}, sql)]
