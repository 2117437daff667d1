"""Global preferences, IDStatusCache and configuration profiles: device settings that matter to the
examiner (Lockdown Mode), accounts iMessage looked up, and installed management profiles."""

from __future__ import annotations

from collections.abc import Sequence

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.readers import load_plist
from ayiq.phone.sources.base import EvidenceFile
from ayiq.phone.timeutil import from_mac


class GlobalPreferences(Artifact):
    name = "global_preferences"
    title = "Device settings (.GlobalPreferences.plist)"
    backup_files = (("HomeDomain", "Library/Preferences/.GlobalPreferences.plist"),)
    fs_files = ("private/var/mobile/Library/Preferences/.GlobalPreferences.plist",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        data = load_plist(f.local, f.device_path)
        if not isinstance(data, dict):
            return []
        return [{"entry": k, "value": v, "source_file": f.device_path} for k, v in data.items()]

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        for rec in records:
            if rec["entry"] == "LDMGlobalEnabled":
                state = "enabled" if rec["value"] else "disabled"
                return [Alert(Level.INFO, self.name, f"Lockdown Mode is {state} on this device", None, rec)]
        return []


class IdStatusCache(Artifact):
    name = "idstatuscache"
    title = "Accounts iMessage/FaceTime looked up (IDStatusCache)"
    backup_files = (("RootDomain", "Library/Preferences/com.apple.identityservices.idstatuscache.plist"),
                    ("HomeDomain", "Library/IdentityServices/idstatuscache.plist"))
    fs_files = ("private/var/mobile/Library/Preferences/com.apple.identityservices.idstatuscache.plist",
                "private/var/mobile/Library/IdentityServices/idstatuscache.plist")

    def parse(self, f: EvidenceFile) -> list[Record]:
        data = load_plist(f.local, f.device_path)
        out: list[Record] = []
        if not isinstance(data, dict):
            return out
        for app, entries in data.items():
            if not isinstance(entries, dict):
                continue
            for user, info in entries.items():
                ts = info.get("LookupDate") if isinstance(info, dict) else None
                out.append({"package": app, "user": user.removeprefix("mailto:").removeprefix("tel:"),
                            "isodate": from_mac(ts) if isinstance(ts, int | float) else ts,
                            "id_status": info.get("IDStatus") if isinstance(info, dict) else None,
                            "source_file": f.device_path})
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            if "@" in rec["user"]:
                for m in iocs.match_email(rec["user"])[:1]:
                    out.append(ioc_alert(self.name, m, f"{rec['package']} looked up the account", rec["isodate"],
                                         rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], "lookup", f"{rec['package']} looked up {rec['user']}")
        return out


class ConfigurationProfiles(Artifact):
    name = "configuration_profiles"
    title = "Configuration profiles"
    backup_files = (("SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles",
                     "Library/ConfigurationProfiles/profile-*.plist"),)
    fs_files = ("private/var/containers/Shared/SystemGroup/*/Library/ConfigurationProfiles/profile-*.plist",)

    def parse(self, f: EvidenceFile) -> list[Record]:
        data = load_plist(f.local, f.device_path)
        if not isinstance(data, dict):
            return []
        keep = ("PayloadUUID", "PayloadIdentifier", "PayloadDisplayName", "PayloadDescription",
                "PayloadOrganization", "InstallDate", "PayloadType", "PayloadRemovalDisallowed")
        rec: Record = {k: data.get(k) for k in keep if k in data}
        payloads = data.get("PayloadContent")
        if isinstance(payloads, list):
            rec["payload_types"] = [p.get("PayloadType") for p in payloads if isinstance(p, dict)]
        rec["source_file"] = f.device_path
        return [rec]

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            uid = rec.get("PayloadUUID")
            matches = iocs.match_profile_id(uid) if isinstance(uid, str) else []
            for m in matches[:1]:
                out.append(ioc_alert(self.name, m, "an installed configuration profile,",
                                     rec.get("InstallDate"), rec))
            if not matches:
                out.append(Alert(Level.LOW, self.name, f"a configuration profile is installed: "
                                 f"{rec.get('PayloadDisplayName')!r} ({rec.get('PayloadIdentifier')}); profiles can "
                                 "route traffic or install certificates", rec.get("InstallDate"), rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec.get("InstallDate"), "profile_installed", f"{rec.get('PayloadDisplayName')}")
        return out
