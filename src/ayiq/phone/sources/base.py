"""What every evidence source offers artefact modules: files found by device path, each as a local path."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One file of the device: where it lived on the phone, and where we can read it now."""

    device_path: str  # "HomeDomain/Library/SMS/sms.db" for backups, "/private/var/mobile/..." for dumps
    local: Path


@dataclass(slots=True)
class SourceInfo:
    kind: str  # ios_backup, ios_fs, androidqf, bugreport, android_backup
    path: str
    device: dict[str, Any] = field(default_factory=dict)
    encrypted: bool = False
    warnings: list[str] = field(default_factory=list)


class IosSource(Protocol):
    info: SourceInfo

    def find(self, domain: str, relative_glob: str) -> list[EvidenceFile]:
        """Files whose backup domain matches `domain` (fnmatch) and relative path matches `relative_glob`."""
        ...

    def find_fs(self, path_glob: str) -> list[EvidenceFile]:
        """Files whose filesystem path (from /) matches `path_glob`."""
        ...


def glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.S)
