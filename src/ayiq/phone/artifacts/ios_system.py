"""System records of which apps and processes ran: locationd clients, OS analytics daily usage, and the
installed applications list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import load_plist, load_plist_bytes
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac

LOCATIOND_TIMES = ("ConsumptionPeriodBegin", "ReceivingLocationInformationTimeStopped", "VisitTimeStopped",
                   "LocationTimeStopped", "BackgroundLocationTimeStopped", "SignificantTimeStopped",
                   "NonPersistentSignificantTimeStopped", "FenceTimeStopped", "BeaconRegionTimeStopped")


class LocationdClients(Artifact):
    name = "locationd_clients"
    title = "Apps and processes that used location (locationd)"
    backup_files = (("RootDomain", "Library/Caches/locationd/clients.plist"),)
    fs_files = ("private/var/mobile/Library/Caches/locationd/clients.plist",
                "private/var/root/Library/Caches/locationd/clients.plist")

    def parse(self, f: EvidenceFile) -> list[Record]:
        data = load_plist(f.local, f.device_path)
        out: list[Record] = []
        if not isinstance(data, dict):
            return out
        for key, val in data.items():
            if not isinstance(val, dict):
                continue
            rec: Record = {"package": key.rstrip(":"), "source_file": f.device_path}
            for k in ("BundleId", "BundlePath", "Executable", "Registered", "Authorization"):
                if k in val and not isinstance(val[k], dict | list):
                    rec[k] = val[k]
            for t in LOCATIOND_TIMES:
                if isinstance(val.get(t), int | float):
                    rec[t] = from_mac(val[t])
            out.append(rec)
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            name = rec["package"].rsplit("/", 1)[-1]
            ms = iocs.match_process(name) or iocs.match_app_id(rec["package"])
            if not ms and isinstance(rec.get("BundleId"), str):
                ms = iocs.match_app_id(rec["BundleId"]) or iocs.match_process(rec["BundleId"])
            for k in ("BundlePath", "Executable", "Registered"):
                if not ms and isinstance(rec.get(k), str):
                    ms = iocs.match_file_path(rec[k])
            if ms:
                ts = next((rec[t] for t in LOCATIOND_TIMES if rec.get(t)), None)
                out.append(ioc_alert(self.name, ms[0], "a location client,", ts, rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            for t in LOCATIOND_TIMES:
                out += self.event(rec.get(t), t, f"{t} from {rec['package']}")
        return out


class OsAnalyticsAdDaily(Artifact):
    name = "osanalytics_addaily"
    title = "Daily network use per process (OSAnalytics ADDaily)"
    backup_files = (("RootDomain", "Library/Preferences/com.apple.osanalytics.addaily.plist"),
                    ("HomeDomain", "Library/Preferences/com.apple.osanalytics.addaily.plist"))
    fs_files = ("private/var/mobile/Library/Preferences/com.apple.osanalytics.addaily.plist",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        data = load_plist(f.local, f.device_path)
        base = data.get("netUsageBaseline") if isinstance(data, dict) else None
        out: list[Record] = []
        if not isinstance(base, dict):
            return out
        for proc, vals in base.items():
            if not isinstance(vals, list) or not vals:
                continue
            nums = [v if isinstance(v, int | float) else None for v in vals[1:5]] + [None] * 4
            out.append({"package": proc, "isodate": vals[0] if isinstance(vals[0], str) else None,
                        "wifi_in": nums[0], "wifi_out": nums[1], "wwan_in": nums[2], "wwan_out": nums[3],
                        "source_file": f.device_path})
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_process(rec["package"])[:1]:
                out.append(ioc_alert(self.name, m, "a process with daily network use,", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "osanalytics_addaily", f"{rec['package']} WIFI IN {rec['wifi_in']} "
                              f"WWAN IN {rec['wwan_in']}")
        return out


class Applications(Artifact):
    name = "applications"
    title = "Installed applications"

    def records_from(self, source: Any) -> list[Record]:
        out: list[Record] = []
        dev = source.info.device
        for app in dev.get("Installed Applications") or []:
            out.append({"bundle_id": app, "source": "Info.plist"})
        info_path = getattr(source, "root", None)
        if info_path is not None and (info_path / "Info.plist").is_file() and source.info.kind == "ios_backup":
            info = load_plist(info_path / "Info.plist")
            apps = info.get("Applications") if isinstance(info, dict) else None
            known = {r["bundle_id"] for r in out}
            if isinstance(apps, dict):
                for bid, meta in apps.items():
                    found = [r for r in out if r["bundle_id"] == bid]
                    rec: Record = found[0] if found else {"bundle_id": bid, "source": "Info.plist"}
                    md = meta.get("iTunesMetadata") if isinstance(meta, dict) else None
                    if isinstance(md, dict) and "$bytes" in md:
                        import base64

                        try:
                            parsed = load_plist_bytes(base64.b64decode(md["$bytes"]), f"iTunesMetadata of {bid}")
                        except Exception:
                            parsed = None
                        if isinstance(parsed, dict):
                            for k in ("itemName", "artistName", "sourceApp", "purchaseDate", "softwareVersionBundleId"):
                                if k in parsed and not isinstance(parsed[k], dict | list):
                                    rec[k] = parsed[k]
                    if bid not in known:
                        out.append(rec)
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_app_id(rec["bundle_id"])[:1]:
                out.append(ioc_alert(self.name, m, "an installed app,", rec.get("purchaseDate"), rec))
        return out
