"""iTunes/Finder backups: Manifest.db maps (domain, relative path) to stored files; encrypted backups are
unlocked with iphone_backup_decrypt and decrypted one file at a time into a private temporary folder.

A missing or wrong password is an error, never an empty result. Manifest rows whose file id is not the
40-hex-digit form, or whose file resolves outside the backup, are refused and reported.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ayiq.core.errors import InputError
from ayiq.phone.readers import WORK_DIR, load_plist, open_sqlite
from ayiq.phone.sources.base import EvidenceFile, SourceInfo, glob_regex

FILE_ID = re.compile(r"[0-9a-f]{40}\Z")


class PasswordError(InputError):
    """The backup is encrypted and the password is missing or wrong."""


@dataclass(frozen=True, slots=True)
class ManifestRow:
    file_id: str
    domain: str
    relative_path: str
    flags: int


def locate_backup(path: Path) -> Path:
    """The backup folder itself, or the one backup inside a `MobileSync/Backup`-style parent."""
    if not path.exists():
        raise InputError(path, "does not exist")
    if not path.is_dir():
        raise InputError(path, "is not a folder (an iOS backup is a folder holding Manifest.db)")
    if (path / "Manifest.db").is_file():
        return path
    subs = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "Manifest.db").is_file()]
    if len(subs) == 1:
        return subs[0]
    if len(subs) > 1:
        raise InputError(path, f"holds {len(subs)} backups; give one of: " + ", ".join(p.name for p in subs))
    raise InputError(path, "no Manifest.db here: not an iTunes/Finder backup folder")


class IosBackup:
    """An iOS backup folder, encrypted or not, opened strictly read-only."""

    def __init__(self, path: Path, password: str | None = None) -> None:
        self.root = locate_backup(path)
        self.info = SourceInfo(kind="ios_backup", path=str(self.root))
        self._tmp: Path | None = None
        self._decryptor: Any = None
        manifest_plist = self.root / "Manifest.plist"
        plist: dict[str, Any] = {}
        if manifest_plist.is_file():
            loaded = load_plist(manifest_plist)
            plist = loaded if isinstance(loaded, dict) else {}
        self.info.encrypted = bool(plist.get("IsEncrypted"))
        self._read_device_info(plist)
        if self.info.encrypted:
            self._unlock(password)
            db = self._tmp / "Manifest.db" if self._tmp else self.root / "Manifest.db"
        else:
            if password:
                self.info.warnings.append("a password was given but the backup is not encrypted")
            db = self.root / "Manifest.db"
        self.manifest_db = db
        self._regex_cache: dict[str, re.Pattern[str]] = {}
        # the Manifest stays on disk and is queried per artefact: holding 200,000 rows costs memory and time
        self._stack = ExitStack()
        try:
            self._conn = self._stack.enter_context(open_sqlite(db, label=str(self.root / "Manifest.db")))
            self.row_count = int(self._conn.execute("SELECT count(*) FROM Files").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(self.root / "Manifest.db", f"no readable Files table ({exc}); is this an iOS backup?") from exc
        except BaseException:
            self.close()
            raise

    # --- opening ---------------------------------------------------------------------------------

    def _read_device_info(self, manifest: dict[str, Any]) -> None:
        info_path = self.root / "Info.plist"
        if info_path.is_file():
            info = load_plist(info_path)
            if isinstance(info, dict):
                for key in ("Device Name", "Product Type", "Product Version", "Build Version", "IMEI",
                            "Serial Number", "Last Backup Date", "Unique Identifier", "GUID", "ICCID", "MEID",
                            "Phone Number", "Product Name", "Display Name", "iTunes Version"):
                    if key in info and not isinstance(info[key], dict | list):
                        self.info.device[key] = info[key]
                apps = info.get("Installed Applications")
                if isinstance(apps, list):
                    self.info.device["Installed Applications"] = [a for a in apps if isinstance(a, str)]
        lockdown = manifest.get("Lockdown")
        if isinstance(lockdown, dict):
            for key in ("ProductType", "ProductVersion", "BuildVersion", "DeviceName", "SerialNumber"):
                if key in lockdown:
                    self.info.device.setdefault(key, lockdown[key])
        if "Date" in manifest:
            self.info.device.setdefault("Backup Date", manifest["Date"])

    def _unlock(self, password: str | None) -> None:
        if not password:
            raise PasswordError(self.root, "the backup is encrypted: give its password with --password-file "
                                "or --password-env (nothing was checked)")
        from iphone_backup_decrypt import EncryptedBackup
        from iphone_backup_decrypt.exceptions import IncorrectPassphraseError

        self._tmp = Path(tempfile.mkdtemp(prefix="ayiq-backup-", dir=WORK_DIR.get()))
        # the library keeps its own decrypted Manifest.db copy in a temporary folder: make that folder ours
        # (inside the output folder) for the life of the decryptor
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = str(self._tmp)
        try:
            dec = EncryptedBackup(backup_directory=str(self.root), passphrase=password)
            dec.test_decryption()
            dec.save_manifest_file(str(self._tmp / "Manifest.db"))
        except IncorrectPassphraseError as exc:
            self.close()
            raise PasswordError(self.root, "wrong password for this encrypted backup (nothing was checked)") from exc
        except Exception as exc:
            self.close()
            raise InputError(self.root, f"cannot decrypt the backup ({type(exc).__name__}: {exc})") from exc
        finally:
            tempfile.tempdir = saved_tempdir
        self._decryptor = dec

    def iter_manifest(self) -> Iterator[tuple[str, str, str, int, bytes | None]]:
        """(fileID, domain, relativePath, flags, file blob) streamed from Manifest.db."""
        with open_sqlite(self.manifest_db, label=str(self.root / "Manifest.db")) as conn:
            for fid, dom, rel, flags, blob in conn.execute("SELECT fileID, domain, relativePath, flags, file FROM Files"):
                yield (str(fid or ""), str(dom or ""), str(rel or ""), int(flags) if isinstance(flags, int) else 0,
                       bytes(blob) if isinstance(blob, bytes) else None)

    def close(self) -> None:
        stack = getattr(self, "_stack", None)
        if stack is not None:
            stack.close()
        self._decryptor = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> IosBackup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- finding files ---------------------------------------------------------------------------

    def _rx(self, pattern: str) -> re.Pattern[str]:
        rx = self._regex_cache.get(pattern)
        if rx is None:
            rx = self._regex_cache[pattern] = glob_regex(pattern)
        return rx

    def find(self, domain: str, relative_glob: str) -> list[EvidenceFile]:
        """Rows matched in SQL (GLOB has fnmatch's * and ? and uses the Manifest's indexes), re-checked here."""
        drx, rrx = self._rx(domain), self._rx(relative_glob)
        try:
            cur = self._conn.execute("SELECT fileID, domain, relativePath, flags FROM Files "
                                     "WHERE domain GLOB ? AND relativePath GLOB ?", (domain, relative_glob))
            candidates = [ManifestRow(str(f or ""), str(d or ""), str(r or ""), int(fl) if isinstance(fl, int) else 0)
                          for f, d, r, fl in cur]
        except sqlite3.DatabaseError as exc:
            raise InputError(self.root / "Manifest.db", f"cannot query the file list ({exc})") from exc
        out = []
        for row in candidates:
            if row.flags not in (1, 0) or not drx.match(row.domain) or not rrx.match(row.relative_path):
                continue
            local = self.local_file(row)
            if local is not None:
                out.append(EvidenceFile(f"{row.domain}/{row.relative_path}", local))
        return out

    def find_fs(self, path_glob: str) -> list[EvidenceFile]:
        return []

    def local_file(self, row: ManifestRow) -> Path | None:
        """The readable file for a Manifest row, or None (with a warning) when it is absent or unsafe."""
        if not FILE_ID.match(row.file_id):
            self.info.warnings.append(f"Manifest.db row {row.domain}/{row.relative_path} has an invalid file id "
                                      f"{row.file_id[:60]!r}: refused (it could point outside the backup)")
            return None
        stored = self.root / row.file_id[:2] / row.file_id
        try:
            resolved = stored.resolve()
            if not resolved.is_relative_to(self.root.resolve()):
                self.info.warnings.append(f"{stored} resolves outside the backup: refused")
                return None
            if not stored.is_file():
                return None
        except OSError:
            return None
        if not self.info.encrypted:
            return stored
        return self._decrypt(row)

    def _decrypt(self, row: ManifestRow) -> Path | None:
        assert self._tmp is not None and self._decryptor is not None
        out = self._tmp / "files" / row.file_id
        if out.is_file():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = self._decryptor.extract_file_as_bytes(row.relative_path, domain_like=row.domain)
        except Exception as exc:
            self.info.warnings.append(f"could not decrypt {row.domain}/{row.relative_path}: {exc}")
            return None
        out.write_bytes(data)
        return out
