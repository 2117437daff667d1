"""Backup-level artefacts: Manifest.db (every file's path and times) and Info.plist (the device)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.bplist import manifest_file_metadata
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Level, Record, RecordTable, TimelineEvent, ioc_alert
from ayiq.phone.readers import load_plist_bytes
from ayiq.phone.sources.ios_backup import IosBackup
from ayiq.phone.timeutil import from_any

MANIFEST_KEYS = ("file_id", "domain", "relative_path", "flags", "created", "modified", "status_changed", "size",
                 "owner", "mode", "metadata_error")


class Manifest(Artifact):
    name = "manifest"
    title = "Backup file list (Manifest.db)"

    def records_from(self, backup: IosBackup) -> RecordTable:
        table = RecordTable(MANIFEST_KEYS)
        rows = table.rows
        times: dict[object, str | None] = {}
        modes: dict[int, str] = {}
        domains: dict[str, str] = {}
        for fid, dom, rel, flags, blob in backup.iter_manifest():
            dom = domains.setdefault(dom, dom)  # a few hundred domains shared by every row
            fast = manifest_file_metadata(blob) if blob else None
            if fast is not None:
                mode = fast.get("Mode")
                size, owner = fast.get("Size"), fast.get("UserID")
                rows.append((fid, dom, rel, flags, _cached_time(fast.get("Birth"), times),
                             _cached_time(fast.get("LastModified"), times),
                             _cached_time(fast.get("LastStatusChange"), times),
                             size if isinstance(size, int) else None, owner if isinstance(owner, int) else None,
                             modes.setdefault(mode, oct(mode)) if isinstance(mode, int) else None, None))
                continue
            meta = _file_metadata(blob, f"Manifest.db row {fid}", times) if blob else {}
            rows.append((fid, dom, rel, flags, meta.get("created"), meta.get("modified"), meta.get("status_changed"),
                         meta.get("size"), meta.get("owner"), meta.get("mode"), meta.get("metadata_error")))
        return table

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        rows = _rows(records)
        for r in rows:
            rel = r[2]
            if not rel:
                continue
            matches = iocs.match_file_path("/" + rel)
            if matches:
                rec = dict(zip(MANIFEST_KEYS, r, strict=True))
                out.append(ioc_alert(self.name, matches[0], "backup file", r[5], rec, level=Level.HIGH))
                continue
            # apps name cache files after the site they fetched: "..._https_bad.example_0.localstorage"
            if "_" not in rel:
                continue
            for part in rel.lower().split("_"):
                if "." in part and "/" not in part and " " not in part:
                    dm = iocs.match_host(part)
                    if dm:
                        rec = dict(zip(MANIFEST_KEYS, r, strict=True))
                        out.append(ioc_alert(self.name, dm[0], f"backup file {rel!r} names domain", r[5], rec,
                                             level=Level.HIGH))
                        break
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        name = self.name
        macbs: dict[str, str] = {}
        for r in _rows(records):
            created, modified, changed = r[4], r[5], r[6]
            if not (created or modified or changed):
                continue
            data = f"{r[2]} - {r[1]}"
            for ts in sorted({t for t in (created, modified, changed) if t}):
                macb = ("M" if ts == modified else "-") + "-" + ("C" if ts == changed else "-") + (
                    "B" if ts == created else "-")
                out.append(TimelineEvent(ts, name, macbs.setdefault(macb, macb), data))
        return out


def _cached_time(v: object, times: dict[object, str | None]) -> str | None:
    if v is None:
        return None
    t = times.get(v, "")
    if t == "":
        t = times[v] = from_any(v)
    return t


def _rows(records: Sequence[Record]) -> list[tuple[Any, ...]]:
    if isinstance(records, RecordTable):
        return records.rows
    return [tuple(r.get(k) for k in MANIFEST_KEYS) for r in records]


def _file_metadata(blob: bytes, label: str, times: dict[object, str | None]) -> dict[str, Any]:
    """Times, mode, owner and size from the NSKeyedArchiver `file` blob of a Manifest row."""
    fast = manifest_file_metadata(blob)
    if fast is not None:
        out: dict[str, Any] = {}
        for key, name in (("Birth", "created"), ("LastModified", "modified"), ("LastStatusChange", "status_changed")):
            v = fast.get(key)
            if v is not None:
                t = times.get(v, "")
                if t == "":
                    t = times[v] = from_any(v)
                out[name] = t
        for key, name in (("Size", "size"), ("UserID", "owner")):
            if isinstance(fast.get(key), int):
                out[name] = fast[key]
        if isinstance(fast.get("Mode"), int):
            out["mode"] = oct(int(fast["Mode"]))
        return out
    try:
        plist = load_plist_bytes(blob, label)
        objs = plist.get("$objects") if isinstance(plist, dict) else None
        meta = objs[1] if isinstance(objs, list) and len(objs) > 1 and isinstance(objs[1], dict) else None
    except Exception as exc:  # a broken blob must not lose the row: keep it, note why
        return {"metadata_error": str(exc)[:200]}
    if meta is None:
        return {"metadata_error": "no file metadata object"}
    out = {
        "created": _time(meta.get("Birth")),
        "modified": _time(meta.get("LastModified")),
        "status_changed": _time(meta.get("LastStatusChange")),
        "size": meta.get("Size") if isinstance(meta.get("Size"), int) else None,
        "owner": meta.get("UserID") if isinstance(meta.get("UserID"), int) else None,
    }
    mode = meta.get("Mode")
    out["mode"] = oct(mode) if isinstance(mode, int) else None
    return out


def _time(v: object) -> str | None:
    return from_any(v) if not isinstance(v, str) else v


class BackupInfo(Artifact):
    name = "backup_info"
    title = "Device and backup details (Info.plist)"

    def records_from(self, backup: IosBackup) -> list[Record]:
        dev = {k: v for k, v in backup.info.device.items() if k != "Installed Applications"}
        return [{**dev, "encrypted": backup.info.encrypted}] if dev else []

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        return []

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec.get("Last Backup Date"), "backup", "backup made")
        return out
