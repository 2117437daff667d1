"""The user's own indicator collection (a folder under Ayiq's data dir): list it, add files to it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ayiq.core.errors import InputError
from ayiq.core.paths import data_dir
from ayiq.phone.iocs.loader import IocFile, find_stix_files, load_stix_file


def collection_dir() -> Path:
    """`AYIQ_IOCS` if set, else `<data dir>/phone/iocs`."""
    env = os.environ.get("AYIQ_IOCS")
    d = Path(env) if env else data_dir() / "phone" / "iocs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def list_collection() -> list[IocFile]:
    return [load_stix_file(p) for p in find_stix_files(collection_dir())]


def safe_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "indicators"
    return clean if clean.endswith((".stix2", ".json")) else clean + ".stix2"


def add_to_collection(path: Path, *, name: str | None = None) -> tuple[Path, IocFile]:
    """Validate a STIX file (it must load and hold at least one phone indicator), then copy it in."""
    loaded = load_stix_file(path)
    if not loaded.indicators:
        raise InputError(path, "holds no indicator Ayiq can use on phones; not added")
    dest = collection_dir() / safe_name(name or path.name)
    shutil.copyfile(path, dest)
    return dest, loaded
