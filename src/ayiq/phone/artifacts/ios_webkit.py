"""WebKit: resource-load statistics (observations.db) and website-data folders, both naming the sites an
app's web views loaded."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import open_sqlite, select_present
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_unix


class WebkitResourceLoadStatistics(Artifact):
    name = "webkit_resource_load_statistics"
    title = "Sites loaded by web views (WebKit statistics)"
    backup_files = (("*", "*/WebsiteData/ResourceLoadStatistics/observations.db"),)
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Library/WebKit/WebsiteData/"
                "ResourceLoadStatistics/observations.db",
                "private/var/mobile/Library/WebKit/*/WebsiteData/ResourceLoadStatistics/observations.db")

    def parse(self, f: EvidenceFile) -> list[Record]:
        with open_sqlite(f.local, label=f.device_path) as conn:
            out: list[Record] = []
            for r in select_present(conn, "ObservedDomains", ("domainID", "registrableDomain", "lastSeen",
                                                              "hadUserInteraction", "mostRecentUserInteractionTime")):
                r["last_seen_isodate"] = from_unix(r.get("lastSeen"))
                r["source_file"] = f.device_path
                out.append(r)
            return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            dom = rec.get("registrableDomain")
            if isinstance(dom, str):
                for m in iocs.match_domain(dom)[:1]:
                    out.append(ioc_alert(self.name, m, f"a web view in {rec['source_file'].split('/')[0]} loaded",
                                         rec["last_seen_isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["last_seen_isodate"], "visit", f"{rec.get('registrableDomain')} "
                              f"(user interaction: {bool(rec.get('hadUserInteraction'))})")
        return out


SITE_RE = re.compile(r"^(https?)_(.+?)_\d+(?:\.localstorage(?:-\w+)?)?$")


def _site(device_path: str) -> tuple[str, str, re.Match[str]] | None:
    """(site folder path, store, match) for a path under IndexedDB/ or LocalStorage/ (versioned or not)."""
    parts = device_path.split("/")
    for store in ("IndexedDB", "LocalStorage"):
        if store in parts:
            start = parts.index(store) + 1
            for i in range(start, min(start + 3, len(parts))):
                m = SITE_RE.match(parts[i])
                if m:
                    return "/".join(parts[: i + 1]), store, m
    return None


class WebkitWebsiteData(Artifact):
    """Filesystem dumps: WebKit names IndexedDB and LocalStorage entries after the site that stored them
    ("https_bad.example_0"), a record of sites an app's web views opened even when history was cleared."""

    name = "webkit_website_data"
    title = "Sites that stored data in web views (WebKit IndexedDB, LocalStorage)"
    fs_files = ("private/var/mobile/Containers/Data/Application/*/Library/WebKit/WebsiteData/IndexedDB/*/*",
                "private/var/mobile/Containers/Data/Application/*/Library/WebKit/WebsiteData/LocalStorage/*",
                "private/var/mobile/Library/WebKit/*/WebsiteData/IndexedDB/*/*",
                "private/var/mobile/Library/WebKit/*/WebsiteData/LocalStorage/*")

    def locate(self, source: object) -> list[EvidenceFile]:
        """One file per site folder (a site's IndexedDB folder holds many files)."""
        out: dict[str, EvidenceFile] = {}
        for f in super().locate(source):
            site = _site(f.device_path)
            if site is not None:
                out.setdefault(site[0], f)
        return list(out.values())

    def parse(self, f: EvidenceFile) -> list[Record]:
        site = _site(f.device_path)
        if site is None:
            return []
        _, store, m = site
        try:
            mtime = from_unix(f.local.stat().st_mtime)
        except OSError:
            mtime = None
        return [{"store": store, "url": f"{m.group(1)}://{m.group(2)}", "domain": m.group(2), "isodate": mtime,
                 "source_file": f.device_path}]

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        seen: set[str] = set()
        for rec in records:
            if rec["domain"] in seen:
                continue
            seen.add(rec["domain"])
            for m in iocs.match_host(rec["domain"])[:1]:
                out.append(ioc_alert(self.name, m, f"a web view stored {rec['store']} data for", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], rec["store"].lower(), rec["url"])
        return out
