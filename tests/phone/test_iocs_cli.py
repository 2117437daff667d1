"""`ayiq phone iocs list | add | update --from-dir`: the user's collection, used by default in checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app

runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AYIQ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AYIQ_IOCS", raising=False)
    return tmp_path / "home"


def test_add_list_and_default_use(home: Path, mvt: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["phone", "iocs", "list"])
    assert r.exit_code == 0 and "No indicator files yet" in r.output
    r = runner.invoke(app, ["phone", "iocs", "add", str(mvt / "test.stix2")])
    assert r.exit_code == 0 and "added 9 indicators" in r.output
    r = runner.invoke(app, ["phone", "iocs", "list"])
    assert "test.stix2" in r.output and "TestMalware" in r.output
    # with no --iocs the collection is used
    r = runner.invoke(app, ["phone", "check-backup", str(mvt / "ios_backup"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "TestMalware" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"objects": []}')
    r = runner.invoke(app, ["phone", "iocs", "add", str(bad)])
    assert r.exit_code != 0


def test_update_from_local_mirror(home: Path, shared_data: Path) -> None:
    r = runner.invoke(app, ["phone", "iocs", "update", "--from-dir", str(shared_data / "iocs" / "mvt-indicators")])
    assert r.exit_code == 0, r.output
    files = sorted((home / "phone" / "iocs").iterdir())
    assert len(files) == 15  # every entry of the index
    assert "NSO Group Pegasus Indicators of Compromise: 1549 indicators" in r.output.replace("\n", " ")
