"""iOS full-filesystem dumps (a folder with private/var/...): files found by path glob, read in place,
never modified. Backup domains map onto their filesystem roots so backup-style look-ups work too."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from ayiq.core.errors import InputError
from ayiq.phone.sources.base import EvidenceFile, SourceInfo, glob_regex

# where each backup domain lives in the filesystem
DOMAIN_ROOTS = {
    "HomeDomain": "private/var/mobile",
    "RootDomain": "private/var/root",
    "WirelessDomain": "private/var/wireless",
    "SystemPreferencesDomain": "private/var/preferences",
    "DatabaseDomain": "private/var/db",
}
MAX_FILES = 5_000_000


class IosFilesystem:
    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise InputError(path, "is not a folder (an iOS filesystem dump is a folder holding private/var/...)")
        self.root = path
        self.info = SourceInfo(kind="ios_fs", path=str(path))
        self._files: list[str] | None = None
        self._cache: dict[str, re.Pattern[str]] = {}
        if not any((path / p).exists() for p in ("private", "var", "System", "Library", "usr")):
            raise InputError(path, "no private/, var/ or System/ folder: not an iOS filesystem dump")

    def files(self) -> list[str]:
        """Every regular file, as a POSIX path relative to the dump (symlinks are not followed)."""
        if self._files is None:
            out: list[str] = []
            root = self.root
            for p in root.rglob("*"):
                if len(out) > MAX_FILES:
                    self.info.warnings.append(f"more than {MAX_FILES} files: the listing was cut")
                    break
                try:
                    if p.is_file() and not p.is_symlink():
                        out.append(p.relative_to(root).as_posix())
                except OSError:
                    continue
            self._files = sorted(out)
        return self._files

    def find_fs(self, path_glob: str) -> list[EvidenceFile]:
        rx = self._cache.get(path_glob) or self._cache.setdefault(path_glob, glob_regex(path_glob.lstrip("/")))
        alt = None
        if path_glob.startswith("private/var/"):
            alt = self._cache.setdefault("A" + path_glob, glob_regex(path_glob[len("private/"):]))
        return [EvidenceFile("/" + f, self.root / f) for f in self.files()
                if rx.match(f) or (alt is not None and alt.match(f))]

    def find(self, domain: str, relative_glob: str) -> list[EvidenceFile]:
        out: list[EvidenceFile] = []
        for dom, root in DOMAIN_ROOTS.items():
            if fnmatch.fnmatchcase(dom, domain):
                out += self.find_fs(f"{root}/{relative_glob}")
        return out

    def close(self) -> None:
        pass
