"""One entry point per evidence type: open the source, load indicators, run the module table, judge."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ayiq.core.errors import AyiqError
from ayiq.phone.artifacts import registry
from ayiq.phone.artifacts.base import Artifact
from ayiq.phone.iocs.collection import collection_dir
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import ModuleResult
from ayiq.phone.readers import WORK_DIR
from ayiq.phone.run import run_all
from ayiq.phone.timeutil import iso
from ayiq.phone.verdict import CheckOutcome


def load_iocs(paths: Sequence[Path]) -> IocIndex:
    """The given STIX files/folders, or the user's collection when none is given."""
    if paths:
        return IocIndex.from_paths(paths)
    return IocIndex.from_paths([collection_dir()])


@contextmanager
def work_dir(output: Path | None) -> Iterator[None]:
    """Private scratch space inside the output folder (so nothing is written elsewhere), removed after."""
    if output is None:
        yield
        return
    output.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ayiq-work-", dir=output))
    token = WORK_DIR.set(tmp)
    try:
        yield
    finally:
        WORK_DIR.reset(token)
        shutil.rmtree(tmp, ignore_errors=True)


Heuristic = Callable[[Any, list[ModuleResult]], list[ModuleResult]]


def _run(open_source: Callable[[], Any], modules: Sequence[Artifact], iocs: IocIndex,
         heuristics: Heuristic | None = None) -> CheckOutcome:
    started = iso(datetime.now(UTC))
    source = open_source()
    try:
        results = run_all(modules, source, iocs)
        if heuristics is not None:
            results += heuristics(source, results)
        return CheckOutcome(source.info, results, iocs, started, iso(datetime.now(UTC)))
    finally:
        source.close()


# Each check imports its own source reader (an iOS check needs none of the Android ones).


def check_ios_backup(path: Path, iocs: IocIndex, password: str | None = None) -> CheckOutcome:
    from ayiq.phone.sources.ios_backup import IosBackup

    return _run(lambda: IosBackup(path, password), registry.IOS_BACKUP, iocs)


def check_ios_fs(path: Path, iocs: IocIndex, password: str | None = None) -> CheckOutcome:
    from ayiq.phone.heuristics.processes import processes_without_binary
    from ayiq.phone.sources.ios_fs import IosFilesystem

    def extra(source: Any, results: list[ModuleResult]) -> list[ModuleResult]:
        names = {f.rsplit("/", 1)[-1] for f in source.files()}
        return [processes_without_binary(results, names)]

    return _run(lambda: IosFilesystem(path), registry.IOS_FS, iocs, extra)


def check_androidqf(path: Path, iocs: IocIndex, password: str | None = None) -> CheckOutcome:
    from ayiq.phone.sources.android import AndroidQF

    return _run(lambda: AndroidQF(path, password), registry.ANDROIDQF, iocs)


def check_android_backup(path: Path, iocs: IocIndex, password: str | None = None) -> CheckOutcome:
    from ayiq.phone.sources.android import AndroidBackupFile

    return _run(lambda: AndroidBackupFile(path, password), registry.ANDROID_BACKUP, iocs)


def check_bugreport(path: Path, iocs: IocIndex, password: str | None = None) -> CheckOutcome:
    from ayiq.phone.sources.android import Bugreport

    return _run(lambda: Bugreport(path), registry.BUGREPORT, iocs)


def read_password(password_file: Path | None, password_env: str | None) -> str | None:
    """The backup password from a file (first line) or an environment variable; never logged."""
    if password_file is not None and password_env is not None:
        raise AyiqError("give either --password-file or --password-env, not both")
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AyiqError(f"{password_file}: cannot read the password file ({exc})") from exc
        pw = text.splitlines()[0] if text else ""
        if not pw:
            raise AyiqError(f"{password_file}: the password file is empty")
        return pw
    if password_env is not None:
        env_pw = os.environ.get(password_env)
        if not env_pw:
            raise AyiqError(f"environment variable {password_env} is not set or empty")
        return env_pw
    return None
