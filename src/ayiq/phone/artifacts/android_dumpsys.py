"""Dumpsys sections (from a bugreport's dumpstate or AndroidQF's dumpsys.txt): app operations,
packages with their installer and permissions, system properties, and tombstones (crash reports)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ayiq.phone.artifacts.android_aqf import (
    NO_INSTALLER,
    SIDELOAD_INSTALLERS,
    STORE_INSTALLERS,
    parse_getprop,
)
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert

SECTION_RE = re.compile(r"^DUMP OF SERVICE (\S+?):\s*$", re.M)
ACCESS_RE = re.compile(r"^\s+(Access|Reject): \[([^\]]*)\]\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)")


def dumpsys_sections(text: str) -> dict[str, str]:
    """Service name -> its text (up to the next 'DUMP OF SERVICE' or duration line)."""
    out: dict[str, str] = {}
    matches = list(SECTION_RE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end():end]
        cut = body.find("\n--------- ")
        out.setdefault(m.group(1), body[:cut] if cut >= 0 else body)
    return out


def parse_appops(section: str) -> list[Record]:
    out: list[Record] = []
    cur: Record | None = None
    perm: Record | None = None
    for ln in section.splitlines():
        m = re.match(r"^    Package (\S+):\s*$", ln)
        if m:
            cur = {"package_name": m.group(1), "permissions": []}
            out.append(cur)
            perm = None
            continue
        if re.match(r"^  Uid ", ln):
            cur, perm = None, None
            continue
        if cur is None:
            continue
        m = re.match(r"^      (\w+) \((\w+)(?:[^)]*)\):", ln)
        if m:
            perm = {"name": m.group(1), "mode": m.group(2), "entries": []}
            cur["permissions"].append(perm)
            continue
        m = ACCESS_RE.match(ln)
        if m and perm is not None:
            perm["entries"].append({"access": m.group(1).lower(), "type": m.group(2), "timestamp": m.group(3)})
    return out


# operations that let an app read messages or act on its own: worth a look when allowed to unusual apps
RISKY_OPS = {"REQUEST_INSTALL_PACKAGES": "install other apps", "READ_SMS": "read SMS",
             "RECEIVE_SMS": "receive SMS", "SYSTEM_ALERT_WINDOW": "draw over other apps"}


class DumpsysAppops(Artifact):
    name = "dumpsys_appops"
    title = "App operations and their last use (dumpsys appops)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("appops")
        return parse_appops(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_app_id(rec["package_name"])[:1]:
                out.append(ioc_alert(self.name, m, "an app with recorded operations,", None, rec))
            for p in rec["permissions"]:
                if p["name"] == "REQUEST_INSTALL_PACKAGES" and p["mode"] == "allow":
                    out.append(Alert(Level.INFO, self.name, f"{rec['package_name']} may install other apps", None, rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            for p in rec["permissions"]:
                for e in p["entries"]:
                    ts = e["timestamp"] + (".000000" if "." not in e["timestamp"] else "")
                    out += self.event(ts[:26], e["access"], f"{rec['package_name']} {p['name']} ({e['type']})")
        return out


def parse_packages(section: str) -> list[Record]:
    out: list[Record] = []
    cur: Record | None = None
    in_perms = False
    for ln in section.splitlines():
        m = re.match(r"^  Package \[([^\]]+)\]", ln)
        if m:
            cur = {"package_name": m.group(1), "installer": "", "permissions": []}
            out.append(cur)
            in_perms = False
            continue
        if cur is None:
            continue
        if re.match(r"^\S", ln):  # next top-level block ("Shared users:", ...)
            cur = None
            continue
        s = ln.strip()
        for key, field in (("installerPackageName=", "installer"), ("timeStamp=", "timestamp"),
                           ("firstInstallTime=", "first_install_time"), ("lastUpdateTime=", "last_update_time"),
                           ("versionName=", "version_name"), ("codePath=", "code_path")):
            if s.startswith(key):
                cur[field] = s[len(key):]
        if ln.startswith("    ") and not ln.startswith("     "):
            in_perms = s.endswith("permissions:")
            continue
        if in_perms and ln.startswith("      "):
            name = s.split(":", 1)[0]
            if name and name not in cur["permissions"]:
                cur["permissions"].append(name)
    return out


class DumpsysPackages(Artifact):
    name = "dumpsys_packages"
    title = "Installed apps (dumpsys package)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("package")
        return parse_packages(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            ts = _ts(rec.get("first_install_time"))
            ms = iocs.match_app_id(rec["package_name"])
            for m in ms[:1]:
                out.append(ioc_alert(self.name, m, "an installed app,", ts, rec))
            inst = str(rec.get("installer") or "").lower()
            if ms or str(rec.get("code_path", "")).startswith(("/system/", "/product/", "/vendor/")):
                continue
            if inst in SIDELOAD_INSTALLERS:
                out.append(Alert(Level.MEDIUM, self.name, f"app {rec['package_name']} was sideloaded (installed "
                                 "from a file)", ts, rec))
            elif inst in NO_INSTALLER and rec.get("code_path", "").startswith("/data/app"):
                out.append(Alert(Level.MEDIUM, self.name, f"app {rec['package_name']} has no installer (installed "
                                 "over USB with adb?)", ts, rec))
            elif inst and inst not in STORE_INSTALLERS and inst not in NO_INSTALLER:
                out.append(Alert(Level.LOW, self.name, f"app {rec['package_name']} was installed by {inst}", ts, rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            for k in ("first_install_time", "last_update_time"):
                out += self.event(_ts(rec.get(k)), k, f"{rec['package_name']} (installer {rec.get('installer')})")
        return out


def _ts(v: object) -> str | None:
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v):
        return v + ".000000"
    return None


class BugreportGetProp(Artifact):
    name = "bugreport_getprop"
    title = "System properties (bugreport)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        text = source.dumpstate() or ""
        m = re.search(r"^------ SYSTEM PROPERTIES .*?------\s*$(.*?)^------ ", text, re.M | re.S)
        return parse_getprop(m.group(1)) if m else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_android_property(rec["name"])[:1]:
                out.append(ioc_alert(self.name, m, "system property", None, rec))
        return out


TOMBSTONE_PID = re.compile(r"^pid: (\d+), tid: (\d+), name: (.*?)\s+>>> (.*?) <<<", re.M)


class Tombstones(Artifact):
    name = "tombstones"
    title = "Crash reports (tombstones)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        out: list[Record] = []
        for name in source.names():
            if "tombstones/tombstone_" not in name or name.endswith(".pb"):
                continue
            text = source.text(name) or ""
            m = TOMBSTONE_PID.search(text)
            ts = re.search(r"^Timestamp: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text, re.M)
            sig = re.search(r"^signal (\d+) \((\w+)\)", text, re.M)
            out.append({"file": name, "pid": int(m.group(1)) if m else None, "tid": int(m.group(2)) if m else None,
                        "process_name": m.group(4) if m else None, "thread_name": m.group(3) if m else None,
                        "timestamp": ts.group(1) + ".000000" if ts else None,
                        "signal": sig.group(2) if sig else None})
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            proc = rec.get("process_name") or ""
            for m in iocs.match_process(proc.split()[0] if proc else "")[:1]:
                out.append(ioc_alert(self.name, m, "a crashed process,", rec["timestamp"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["timestamp"], "crash", f"{rec.get('process_name')} {rec.get('signal')}")
        return out


SYSTEM_PREFIXES = ("com.android.", "com.google.android.", "android", "com.samsung.", "com.sec.")
SERVICE_RE = re.compile(r"([A-Za-z0-9_.]+)/([A-Za-z0-9_.$]+)")


def parse_accessibility(section: str) -> list[Record]:
    """Installed and enabled accessibility services (both the pre-14 block form and the 14+ one-line form)."""
    found: dict[str, Record] = {}
    block: str | None = None
    for ln in section.splitlines():
        s = ln.strip()
        low = s.lower()
        if low.startswith(("installed services:", "enabled services:")) and s.endswith("{"):
            block = "installed" if low.startswith("installed") else "enabled"
            continue
        if block and s.startswith("}"):
            block = None
            continue
        if block:
            m = re.match(r"^\d+\s*:\s*(\S+)$", s) or re.match(r"^(\S+/\S+)$", s)
            if m:
                svc = m.group(1)
                rec = found.setdefault(svc, {"service": svc, "package_name": svc.split("/", 1)[0], "enabled": False})
                if block == "enabled":
                    rec["enabled"] = True
            continue
        if low.startswith("enabled services:{"):
            for pkg, cls in SERVICE_RE.findall(s[len("enabled services:"):]):
                svc = f"{pkg}/{cls}"
                rec = found.setdefault(svc, {"service": svc, "package_name": pkg, "enabled": False})
                rec["enabled"] = True
    return list(found.values())


class DumpsysAccessibility(Artifact):
    name = "dumpsys_accessibility"
    title = "Accessibility services (dumpsys accessibility)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("accessibility")
        return parse_accessibility(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            ms = iocs.match_app_id(rec["package_name"])
            for m in ms[:1]:
                out.append(ioc_alert(self.name, m, "an accessibility service's app,", None, rec))
            if not ms and rec["enabled"] and not rec["package_name"].startswith(SYSTEM_PREFIXES):
                out.append(Alert(Level.MEDIUM, self.name, f"accessibility service {rec['service']} is enabled: it can "
                                 "read the screen and act as the user, which stalkerware relies on", None, rec))
        return out


DBINFO_OP = re.compile(r"^\s*\d+: \[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\] \[Pid:\((\d+)\)\](\w+) took (\d+)ms"
                       r"(?: - (\w+))?, sql=\"(.*?)\"(?:, path=(\S+))?")


def parse_dbinfo(section: str) -> list[Record]:
    out: list[Record] = []
    package = None
    for ln in section.splitlines():
        m = re.match(r"^\*\* Database info for pid \d+ \[(.+?)\] \*\*", ln.strip())
        if m:
            package = m.group(1)
            continue
        m = DBINFO_OP.match(ln)
        if m:
            ts = m.group(1)
            out.append({"package_name": package, "isodate": (ts + ".000000")[:26] if "." not in ts
                        else ts.ljust(26, "0")[:26], "pid": int(m.group(2)), "action": m.group(3),
                        "status": m.group(5), "sql": m.group(6), "path": m.group(7)})
    return out


class DumpsysDbInfo(Artifact):
    name = "dumpsys_dbinfo"
    title = "Recent database operations per app (dumpsys dbinfo)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("dbinfo")
        return parse_dbinfo(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_app_id(rec["package_name"] or "")[:1]:
                out.append(ioc_alert(self.name, m, "an app that used its databases,", rec["isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], rec["action"], f"{rec['package_name']}: {rec['sql'][:200]}")
        return out


def parse_adb(section: str) -> list[Record]:
    """Computers authorised for USB debugging (their public keys)."""
    out: list[Record] = []
    for m in re.finditer(r"user_keys=(.*)", section):
        for key in m.group(1).strip().split("\n"):
            key = key.strip()
            if key:
                parts = key.split(" ", 1)
                out.append({"user_key": parts[0], "comment": parts[1] if len(parts) > 1 else ""})
    if not out:
        for m in re.finditer(r'<adbKey key="([A-Za-z0-9+/=]+)(?: ([^"]*))?"', section):
            out.append({"user_key": m.group(1), "comment": m.group(2) or ""})
    return out


class DumpsysAdb(Artifact):
    name = "dumpsys_adb"
    title = "Computers trusted for USB debugging (dumpsys adb)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("adb")
        return parse_adb(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        return [Alert(Level.INFO, self.name, f"a computer ({r['comment'] or 'unnamed key'}) is trusted for USB "
                      "debugging: anyone with it can install apps and read data", None, r) for r in records]


def parse_battery_daily(section: str) -> list[Record]:
    """Package installs, updates and removals per day (`Daily stats`), one record per distinct change."""
    out: list[Record] = []
    seen: set[tuple[str, str, str, str]] = set()
    day = None
    in_changes = False
    for ln in section.splitlines():
        s = ln.strip()
        m = re.match(r"^Daily from (\d{4}-\d\d-\d\d)-(\d\d)-(\d\d)-(\d\d) to ", s)
        if m:
            day = f"{m.group(1)} {m.group(2)}:{m.group(3)}:{m.group(4)}.000000"
            in_changes = False
            continue
        if s == "Package changes:":
            in_changes = True
            continue
        if in_changes:
            m = re.match(r"^(Update|Install|Uninstall|Delete) (\S+)(?: vers=(\d+))?", s)
            if not m:
                in_changes = False
                continue
            key = (day or "", m.group(1), m.group(2), m.group(3) or "")
            if key not in seen:
                seen.add(key)
                out.append({"from": day, "action": m.group(1).lower(), "package_name": m.group(2),
                            "vers": m.group(3)})
    return out


HISTORY_RE = re.compile(r"([+-])(job|top|running|wake_lock|tmpwhitelist|pkginst|pkgunin|longwake)="
                        r"(?:u?\w*:)?\"([^\"/]+)(?:/([^\"]*))?\"")


def parse_battery_history(section: str) -> list[Record]:
    """App starts and stops from `Battery History` (jobs, foreground apps, installs), with relative times."""
    out: list[Record] = []
    for ln in section.splitlines():
        t = ln.strip().split(" ", 1)[0]
        for m in HISTORY_RE.finditer(ln):
            out.append({"time_elapsed": t, "event": ("start_" if m.group(1) == "+" else "end_") + m.group(2),
                        "package_name": m.group(3), "service": m.group(4)})
    return out


class DumpsysBattery(Artifact):
    name = "dumpsys_battery"
    title = "App activity and package changes (dumpsys batterystats)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sections = source.dumpsys()
        sec = sections.get("batterystats") or sections.get("battery")
        if not sec:
            return []
        return ([{"kind": "daily", **r} for r in parse_battery_daily(sec)]
                + [{"kind": "history", **r} for r in parse_battery_history(sec)])

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_app_id(rec["package_name"])[:1]:
                what = (f"a package {rec['action']} on {rec['from'] or '?'}," if rec["kind"] == "daily"
                        else f"battery history ({rec['event']}) of")
                out.append(ioc_alert(self.name, m, what, rec.get("from"), rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            if rec["kind"] == "daily":
                out += self.event(rec["from"], f"package_{rec['action']}", rec["package_name"])
        return out


def parse_platform_compat(section: str) -> list[Record]:
    """Apps named in compatibility overrides: they stay listed after the app is uninstalled."""
    out: list[Record] = []
    seen: set[str] = set()
    for m in re.finditer(r"rawOverrides=\{([^}]*)\}", section):
        for item in m.group(1).split(","):
            pkg = item.strip().split("=", 1)[0]
            if pkg and pkg not in seen:
                seen.add(pkg)
                out.append({"package_name": pkg})
    return out


class DumpsysPlatformCompat(Artifact):
    name = "dumpsys_platform_compat"
    title = "Apps in compatibility overrides, installed now or before (dumpsys platform_compat)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        sec = source.dumpsys().get("platform_compat")
        return parse_platform_compat(sec) if sec else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_app_id(rec["package_name"])[:1]:
                out.append(ioc_alert(self.name, m, "an app (installed now or in the past),", None, rec))
        return out
