"""Android evidence: AndroidQF acquisitions (folder or zip), `adb backup` files, bugreports."""

from __future__ import annotations

from pathlib import Path

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.android_dumpsys import dumpsys_sections
from ayiq.phone.artifacts.android_sms import SMS_PREFIX
from ayiq.phone.sources.android_backup import decode_android_backup, tar_members
from ayiq.phone.sources.base import SourceInfo
from ayiq.phone.sources.files import FileBag

AQF_MARKERS = ("packages.json", "getprop.txt", "ps.txt", "files.json", "root_binaries.json", "dumpsys.txt",
               "backup.ab", "processes.json")


class AndroidQF:
    """An AndroidQF acquisition. Its nested backup.ab (SMS) is read with the same password options."""

    def __init__(self, path: Path, password: str | None = None) -> None:
        self.bag = FileBag(path)
        self.info = SourceInfo(kind="androidqf", path=str(path), warnings=self.bag.warnings)
        if not any(self.bag.has(m) for m in AQF_MARKERS):
            raise InputError(path, "no AndroidQF files here (packages.json, getprop.txt, ps.txt, ...)")
        self.password = password
        props = self.bag.text("getprop.txt") or ""
        for key in ("ro.product.model", "ro.product.manufacturer", "ro.build.version.release",
                    "ro.build.version.security_patch", "ro.build.fingerprint"):
            for ln in props.splitlines():
                if ln.startswith(f"[{key}]: ["):
                    self.info.device[key] = ln.split("]: [", 1)[1].rstrip("]")

    def names(self) -> list[str]:
        return self.bag.names()

    def read(self, name: str) -> bytes | None:
        return self.bag.read(name)

    def text(self, name: str) -> str | None:
        return self.bag.text(name)

    def label(self, name: str) -> str:
        return self.bag.label(name)

    def sms_members(self) -> dict[str, bytes]:
        data = self.bag.read("backup.ab")
        if data is None:
            return {}
        header, tar = decode_android_backup(data, self.bag.label("backup.ab"), self.password)
        self.info.encrypted = header.encryption != "none"
        return tar_members(tar, self.bag.label("backup.ab"), (SMS_PREFIX,))

    def dumpsys(self) -> dict[str, str]:
        text = self.bag.text("dumpsys.txt")
        return dumpsys_sections(text) if text else {}

    def close(self) -> None:
        self.bag.close()


class Bugreport:
    """An Android bugreport zip (or its unpacked folder): main_entry.txt names the dumpstate file."""

    def __init__(self, path: Path) -> None:
        self.bag = FileBag(path)
        self.info = SourceInfo(kind="bugreport", path=str(path), warnings=self.bag.warnings)
        entry = (self.bag.text("main_entry.txt") or "").strip()
        if not entry:
            cands = [n for n in self.bag.names() if n.startswith(("bugreport", "dumpstate")) and n.endswith(".txt")]
            entry = cands[0] if cands else ""
        if not entry or not self.bag.has(entry):
            raise InputError(path, "no main_entry.txt or dumpstate/bugreport text: not an Android bugreport")
        self.entry = entry
        self._text: str | None = None
        self._sections: dict[str, str] | None = None

    def dumpstate(self) -> str:
        if self._text is None:
            self._text = self.bag.text(self.entry) or ""
        return self._text

    def dumpsys(self) -> dict[str, str]:
        if self._sections is None:
            self._sections = dumpsys_sections(self.dumpstate())
        return self._sections

    def names(self) -> list[str]:
        return self.bag.names()

    def text(self, name: str) -> str | None:
        return self.bag.text(name)

    def close(self) -> None:
        self.bag.close()


class AndroidBackupFile:
    """An `adb backup` .ab file, or a folder holding its unpacked `apps/...` tree."""

    def __init__(self, path: Path, password: str | None = None) -> None:
        self.path = path
        self.info = SourceInfo(kind="android_backup", path=str(path))
        if path.is_dir():
            bag = FileBag(path)
            self._members = {n: d for n in bag.names() if n.startswith(SMS_PREFIX) and (d := bag.read(n)) is not None}
            if not self._members and not bag.has("backup.ab"):
                raise InputError(path, f"no {SMS_PREFIX} folder here: not an unpacked Android backup")
            if not self._members:
                path = path / "backup.ab"
            else:
                return
        if not path.is_file():
            raise InputError(path, "does not exist")
        data = path.read_bytes()
        header, tar = decode_android_backup(data, str(path), password)
        self.info.encrypted = header.encryption != "none"
        self.info.device["backup_version"] = header.version
        self._members = tar_members(tar, str(path), (SMS_PREFIX,))

    def sms_members(self) -> dict[str, bytes]:
        return self._members

    def close(self) -> None:
        pass
