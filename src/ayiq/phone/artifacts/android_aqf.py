"""AndroidQF acquisitions: installed packages (with how each was installed), processes, system
properties, settings, file listing and root binaries."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, TimelineEvent, ioc_alert
from ayiq.phone.timeutil import from_unix

# Installers that are app stores people use on purpose; anything else installing apps deserves a look.
STORE_INSTALLERS = {
    "com.android.vending": "Google Play", "com.google.android.feedback": "Google Play",
    "com.sec.android.app.samsungapps": "Galaxy Store", "com.huawei.appmarket": "Huawei AppGallery",
    "com.amazon.venezia": "Amazon Appstore", "com.xiaomi.market": "Xiaomi GetApps",
    "com.oppo.market": "OPPO App Market", "com.heytap.market": "HeyTap App Market",
    "com.bbk.appstore": "vivo App Store", "com.google.android.apps.work.clouddpc": "work profile (MDM)",
}
SIDELOAD_INSTALLERS = {"com.google.android.packageinstaller", "com.android.packageinstaller",
                       "com.samsung.android.packageinstaller"}
NO_INSTALLER = {"", "null", "none"}

# settings whose non-default value weakens protection (key -> (safe value, what the change means))
DANGEROUS_SETTINGS = {
    "verifier_verify_adb_installs": ("1", "disabled Google Play Services verification of apps installed over USB"),
    "package_verifier_enable": ("1", "disabled Google Play Protect"),
    "package_verifier_state": ("1", "disabled APK package verification"),
    "package_verifier_user_consent": ("1", "disabled Google Play Protect"),
    "upload_apk_enable": ("1", "disabled Google Play Protect uploads of unknown apps"),
    "adb_install_need_confirm": ("1", "disabled confirmation of apps installed over USB"),
    "send_security_reports": ("1", "disabled sharing of security reports"),
    "samsung_errorlog_agree": ("1", "disabled sharing of crash logs with the manufacturer"),
    "send_action_app_error": ("1", "disabled application error reports"),
    "install_non_market_apps": ("0", "allowed installing apps from outside app stores"),
}


def _json(source: Any, name: str) -> Any:
    data = source.read(name)
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(source.label(name), f"not valid JSON ({exc})") from exc


class AqfPackages(Artifact):
    name = "aqf_packages"
    title = "Installed apps (AndroidQF packages.json)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        data = _json(source, "packages.json")
        if data is None:
            return []
        if not isinstance(data, list):
            raise InputError(source.label("packages.json"), "expected a list of packages")
        out: list[Record] = []
        for p in data:
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                continue
            files = [f for f in p.get("files") or [] if isinstance(f, dict)]
            out.append({
                "name": p["name"], "installer": str(p.get("installer") or ""), "uid": p.get("uid"),
                "system": bool(p.get("system")), "third_party": bool(p.get("third_party")),
                "disabled": bool(p.get("disabled")),
                "files": [{"path": f.get("path"), "md5": f.get("md5"), "sha1": f.get("sha1"), "sha256": f.get("sha256"),
                           "certificate": {k.lower(): v for k, v in (f.get("certificate") or {}).items()
                                           if k in ("Md5", "Sha1", "Sha256", "Subject", "Issuer")}}
                          for f in files],
                "timestamp": p.get("timestamp") if isinstance(p.get("timestamp"), str) else None,
            })
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            name, inst = rec["name"], rec["installer"]
            matches = iocs.match_app_id(name)
            for m in matches[:1]:
                out.append(ioc_alert(self.name, m, "an installed app,", rec["timestamp"], rec))
            if not matches:
                for f in rec["files"]:
                    hm = (iocs.match_hash(f.get("sha256") or "") or iocs.match_hash(f.get("sha1") or "")
                          or iocs.match_hash(f.get("md5") or ""))
                    cert = f.get("certificate") or {}
                    cm = (iocs.match_cert(cert.get("sha256") or "") or iocs.match_cert(cert.get("sha1") or "")
                          or iocs.match_cert(cert.get("md5") or ""))
                    for m in (hm or cm)[:1]:
                        what = f"app {name}: its {'file' if hm else 'signing certificate'} hash"
                        out.append(ioc_alert(self.name, m, what, rec["timestamp"], rec))
                    if hm or cm:
                        matches = hm or cm
                        break
            if matches:
                continue
            low = inst.lower()
            if low in SIDELOAD_INSTALLERS:
                out.append(Alert(Level.MEDIUM, self.name, f"app {name} was sideloaded (installed from a file, "
                                 "e.g. downloaded in a browser) rather than from an app store", rec["timestamp"], rec))
            elif low in NO_INSTALLER:
                if rec["third_party"] and not rec["system"]:
                    out.append(Alert(Level.MEDIUM, self.name, f"app {name} has no installer: installed over USB "
                                     "(adb), which needs physical access or a developer tool", rec["timestamp"], rec))
            elif low not in STORE_INSTALLERS:
                out.append(Alert(Level.LOW, self.name, f"app {name} was installed by {inst}, a third-party store or "
                                 "app", rec["timestamp"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["timestamp"], "package", f"{rec['name']} installed by {rec['installer'] or 'nobody'}")
        return out


def parse_ps(text: str) -> list[Record]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or "PID" not in lines[0]:
        return []
    cols = lines[0].split()
    out: list[Record] = []
    for ln in lines[1:]:
        parts = ln.split(None, len(cols) - 1)
        if len(parts) < len(cols):
            continue
        r = dict(zip([c.lower() for c in cols], parts, strict=True))
        r["proc_name"] = r.get("name") or r.get("cmd") or ""
        out.append(r)
    return out


class AqfProcesses(Artifact):
    name = "aqf_processes"
    title = "Running processes (ps)"
    platform = "android"
    file_name = "ps.txt"

    def records_from(self, source: Any) -> list[Record]:
        text = source.text(self.file_name)
        return [] if text is None else parse_ps(text)

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            name = rec["proc_name"].strip("[]")
            for m in (iocs.match_process(name) or iocs.match_app_id(name.split(":")[0]))[:1]:
                out.append(ioc_alert(self.name, m, f"running process (pid {rec.get('pid')})", None, rec))
        return out


GETPROP_RE = re.compile(r"^\[(.+?)\]: \[(.*)\]$")


def parse_getprop(text: str) -> list[Record]:
    out: list[Record] = []
    for ln in text.splitlines():
        m = GETPROP_RE.match(ln.strip())
        if m:
            out.append({"name": m.group(1), "value": m.group(2)})
    return out


class AqfGetProp(Artifact):
    name = "aqf_getprop"
    title = "System properties (getprop)"
    platform = "android"
    file_name = "getprop.txt"

    def records_from(self, source: Any) -> list[Record]:
        text = source.text(self.file_name)
        return [] if text is None else parse_getprop(text)

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            for m in iocs.match_android_property(rec["name"])[:1]:
                out.append(ioc_alert(self.name, m, "system property", None, rec))
            if rec["name"] == "ro.build.version.security_patch":
                out.append(Alert(Level.INFO, self.name, f"security patch level: {rec['value']}", None, rec))
        return out


class AqfSettings(Artifact):
    name = "aqf_settings"
    title = "System settings"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        out: list[Record] = []
        for name in source.names():
            m = re.fullmatch(r"settings_(\w+)\.txt", name)
            if not m:
                continue
            for ln in (source.text(name) or "").splitlines():
                key, sep, value = ln.partition("=")
                if sep:
                    out.append({"namespace": m.group(1), "name": key.strip(), "value": value.strip()})
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            d = DANGEROUS_SETTINGS.get(rec["name"])
            if d and rec["value"] != d[0]:
                level = Level.HIGH if rec["name"].startswith(("package_verifier", "verifier_")) else Level.MEDIUM
                out.append(Alert(level, self.name, f"setting {rec['namespace']}/{rec['name']}={rec['value']}: {d[1]}",
                                 None, rec))
        return out


class AqfFiles(Artifact):
    name = "aqf_files"
    title = "File listing (files.json)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        data = _json(source, "files.json")
        if data is None:
            return []
        if not isinstance(data, list):
            raise InputError(source.label("files.json"), "expected a list of files")
        out: list[Record] = []
        for f in data:
            if isinstance(f, dict) and isinstance(f.get("path"), str):
                out.append({"path": f["path"], "size": f.get("size"), "mode": f.get("mode"),
                            "sha256": f.get("sha256") or "", "modified_isodate": from_unix(f.get("modified_time")),
                            "changed_isodate": from_unix(f.get("changed_time"))})
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            ms = iocs.match_file_path(rec["path"]) or iocs.match_hash(rec["sha256"])
            for m in ms[:1]:
                out.append(ioc_alert(self.name, m, "file", rec["modified_isodate"], rec))
            if not ms and rec["path"].startswith("/data/local/tmp/") and "x" in str(rec.get("mode") or ""):
                out.append(Alert(Level.MEDIUM, self.name, f"an executable file in /data/local/tmp: {rec['path']} "
                                 "(exploits and root tools are often dropped there)", rec["modified_isodate"], rec))
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["modified_isodate"], "file_modified", rec["path"])
            out += self.event(rec["changed_isodate"], "file_changed", rec["path"])
        return out


class RootBinaries(Artifact):
    name = "root_binaries"
    title = "Root tools found on the device"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        data = _json(source, "root_binaries.json")
        if data is None:
            return []
        if not isinstance(data, list):
            raise InputError(source.label("root_binaries.json"), "expected a list of paths")
        return [{"path": p} for p in data if isinstance(p, str) and p]

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        return [Alert(Level.HIGH, self.name, f"root tool present: {r['path']}; a rooted phone loses its security "
                      "protections (it may be the owner's doing, or an attacker's)", None, r) for r in records]
