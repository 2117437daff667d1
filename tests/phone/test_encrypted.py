"""Encrypted iOS backups: the right password gives the same findings; no or a wrong password is an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.phone.check import check_ios_backup
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.sources.ios_backup import IosBackup, PasswordError


def test_right_password_same_detections(encrypted_backup: Path, test_stix: Path) -> None:
    out = check_ios_backup(encrypted_backup, IocIndex.from_paths([test_stix]), "correct horse")
    assert out.source.encrypted
    by = {m.name: m for m in out.modules}
    assert len(by["sms"].records) == 1 and len(by["sms"].alerts) == 1
    assert len(by["tcc"].alerts) == 1 and len(by["whatsapp"].alerts) == 1
    assert len(by["datausage"].records) == 42
    assert not out.errors and out.exit_code == 1


def test_missing_and_wrong_password(encrypted_backup: Path) -> None:
    with pytest.raises(PasswordError, match="encrypted: give its password"):
        IosBackup(encrypted_backup)
    with pytest.raises(PasswordError, match="wrong password"):
        IosBackup(encrypted_backup, "not the password")


def test_cli_password_never_written(encrypted_backup: Path, test_stix: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["phone", "check-backup", str(encrypted_backup), "--iocs", str(test_stix), "-o", str(out)])
    assert r.exit_code != 0 and r.exit_code != 1 and not (out / "verdict.json").exists()
    pwfile = tmp_path / "pw"
    pwfile.write_text("wrong one\n")
    r = runner.invoke(app, ["phone", "check-backup", str(encrypted_backup), "--password-file", str(pwfile),
                            "-o", str(out)])
    assert r.exit_code not in (0, 1)
    os.environ["AYIQ_TEST_PW"] = "correct horse"
    try:
        r = runner.invoke(app, ["phone", "check-backup", str(encrypted_backup), "--password-env", "AYIQ_TEST_PW",
                                "--iocs", str(test_stix), "-o", str(out)])
    finally:
        del os.environ["AYIQ_TEST_PW"]
    assert r.exit_code == 1, r.output
    assert "correct horse" not in r.output
    for p in out.rglob("*"):
        if p.is_file():
            assert b"correct horse" not in p.read_bytes(), p
