"""A read-only bag of named files: a folder, or a zip read in memory with bounds (no extraction, so a
crafted member name can never write anywhere; sizes, ratios and member counts are capped)."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from ayiq.core.errors import InputError

MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 1024 * 1024 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024 * 1024
MAX_RATIO = 200  # uncompressed/compressed, above which a member is treated as a zip bomb


class FileBag:
    """Files by relative POSIX name. `read` returns bytes or None; problems raise InputError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}  # our name -> member name or relative path
        if not path.exists():
            raise InputError(path, "does not exist")
        if path.is_dir():
            root = path.resolve()
            for p in sorted(path.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    rel = p.relative_to(path).as_posix()
                    if p.resolve().is_relative_to(root):
                        self._names[rel] = rel
        elif zipfile.is_zipfile(path):
            self._open_zip(path)
        else:
            raise InputError(path, "is neither a folder nor a zip file")

    def _open_zip(self, path: Path) -> None:
        try:
            zf = zipfile.ZipFile(path)
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError(path, f"not a readable zip ({exc})") from exc
        if len(infos) > MAX_MEMBERS:
            raise InputError(path, f"zip holds {len(infos)} members, over the {MAX_MEMBERS} limit")
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                self.warnings.append(f"zip member {name!r} has an unsafe path (path traversal): ignored")
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                self.warnings.append(f"zip member {name!r} is a symbolic link: ignored")
                continue
            total += info.file_size
            if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                raise InputError(path, f"zip member {name!r} declares {info.file_size} bytes: too large (zip bomb?)")
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
                raise InputError(path, f"zip member {name!r} compresses {info.file_size / info.compress_size:.0f}:1 "
                                 "(zip bomb?)")
            self._names[name] = info.filename
        # an acquisition zipped with its folder: "androidqf/getprop.txt" -> "getprop.txt"
        tops = {n.split("/", 1)[0] for n in self._names}
        if len(tops) == 1 and all("/" in n for n in self._names):
            self._names = {n.split("/", 1)[1]: m for n, m in self._names.items()}
        self._zip = zf

    def names(self) -> list[str]:
        return sorted(self._names)

    def has(self, name: str) -> bool:
        return name in self._names

    def read(self, name: str) -> bytes | None:
        member = self._names.get(name)
        if member is None:
            return None
        label = f"{self.path}:{name}" if self._zip else str(self.path / name)
        try:
            if self._zip is None:
                p = self.path / member
                if p.stat().st_size > MAX_MEMBER_BYTES:
                    raise InputError(label, "file too large")
                return p.read_bytes()
            with self._zip.open(member) as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as exc:
            raise InputError(label, f"cannot read ({type(exc).__name__}: {exc})") from exc
        if len(data) > MAX_MEMBER_BYTES:
            raise InputError(label, "decompresses past the size limit (zip bomb?)")
        return data

    def text(self, name: str) -> str | None:
        data = self.read(name)
        return None if data is None else data.decode("utf-8", "replace")

    def label(self, name: str) -> str:
        return f"{self.path}:{name}" if self._zip else str(self.path / name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
