"""iOS backup modules on MVT's test backup: at least the detections MVT's own tests expect (MANIFEST.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ayiq.phone.artifacts import registry
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Level, ModuleResult
from ayiq.phone.run import run_all
from ayiq.phone.sources.ios_backup import IosBackup


def _run(backup_dir: Path, idx: IocIndex) -> dict[str, ModuleResult]:
    with IosBackup(backup_dir) as b:
        return {m.name: m for m in run_all(registry.IOS_BACKUP, b, idx)}


@pytest.fixture(scope="module")
def plain(mvt: Path) -> dict[str, ModuleResult]:
    return _run(mvt / "ios_backup", IocIndex())


@pytest.fixture(scope="module")
def with_test_stix(mvt: Path, test_stix: Path) -> dict[str, ModuleResult]:
    return _run(mvt / "ios_backup", IocIndex.from_paths([test_stix]))


@pytest.fixture(scope="module")
def with_extra(mvt: Path, make_index) -> dict[str, ModuleResult]:  # type: ignore[no-untyped-def]
    idx = make_index(file_name=["com.apple.CoreBrightness.plist"], process=["CumulativeUsageTracker"],
                     email=["user@example.org"], domain=["en.wikipedia.org", "badbadbad.example.org"])
    return _run(mvt / "ios_backup", idx)


def test_no_module_errors(plain: dict[str, ModuleResult]) -> None:
    assert all(not m.errors for m in plain.values())


def test_manifest(plain: dict[str, ModuleResult], with_extra: dict[str, ModuleResult]) -> None:
    m = plain["manifest"]
    assert (len(m.records), len(m.timeline), len(m.alerts)) == (3721, 5881, 0)
    hits = with_extra["manifest"].alerts
    assert len(hits) == 1 and "com.apple.CoreBrightness.plist" in hits[0].message


def test_backup_info(plain: dict[str, ModuleResult]) -> None:
    rec = plain["backup_info"].records[0]
    assert rec["Build Version"] == "18C66" and rec["IMEI"] == "42"


def test_datausage(plain: dict[str, ModuleResult], with_extra: dict[str, ModuleResult]) -> None:
    m = plain["datausage"]
    assert len(m.records) == 42
    assert min(r["first_isodate"] for r in m.records if r["first_isodate"]).startswith("2019-08-27 15:08:09")
    assert [a.level for a in m.alerts] == [Level.LOW] and "record 5 is missing" in m.alerts[0].message
    crit = [a for a in with_extra["datausage"].alerts if a.level == Level.CRITICAL]
    assert len(crit) == 2 and all("CumulativeUsageTracker" in a.message for a in crit)


def test_global_preferences(plain: dict[str, ModuleResult]) -> None:
    m = plain["global_preferences"]
    assert len(m.records) == 16 and not m.timeline
    assert m.records[0] == {"entry": "WebKitShowLinkPreviews", "value": False, "source_file": m.records[0]["source_file"]}
    assert [(a.level, a.message) for a in m.alerts] == [(Level.INFO, "Lockdown Mode is enabled on this device")]


def test_calendar(plain: dict[str, ModuleResult], with_extra: dict[str, ModuleResult]) -> None:
    m = plain["calendar"]
    assert (len(m.records), len(m.timeline), len(m.alerts)) == (1, 4, 0)
    assert m.records[0]["summary"] == "Super interesting meeting"
    assert len(with_extra["calendar"].alerts) == 1


def test_safari_browser_state(plain: dict[str, ModuleResult], with_extra: dict[str, ModuleResult]) -> None:
    m = plain["safari_browser_state"]
    assert (len(m.records), len(m.timeline), len(m.alerts)) == (1, 1, 0)
    assert m.records[0]["url"] == "https://en.wikipedia.org/wiki/NSO_Group"
    assert len(with_extra["safari_browser_state"].alerts) == 1


def test_sms(plain: dict[str, ModuleResult], with_test_stix: dict[str, ModuleResult],
             with_extra: dict[str, ModuleResult]) -> None:
    m = plain["sms"]
    assert (len(m.records), len(m.timeline), len(m.alerts)) == (1, 2, 0)
    assert m.records[0]["links"] == ["https://badbadbad.example.org/"]
    assert m.records[0]["isodate"].startswith("2019-08-29 23:13:30")
    a = with_test_stix["sms"].alerts
    assert [x.level for x in a] == [Level.CRITICAL] and a[0].match and a[0].match.indicator.value == "example.org"
    b = with_extra["sms"].alerts
    assert len(b) == 1 and b[0].match and b[0].match.indicator.value == "badbadbad.example.org"


def test_tcc(plain: dict[str, ModuleResult], with_test_stix: dict[str, ModuleResult]) -> None:
    m = plain["tcc"]
    assert (len(m.records), len(m.timeline), len(m.alerts)) == (11, 11, 0)
    a = with_test_stix["tcc"].alerts
    assert len(a) == 1 and a[0].record["service"] == "kTCCServiceLiverpool" and a[0].record["client"] == "Launch"


def test_webkit_resource_load_statistics(plain: dict[str, ModuleResult]) -> None:
    m = plain["webkit_resource_load_statistics"]
    assert sorted(r["registrableDomain"] for r in m.records) == ["google.com", "gstatic.com"]
    assert (len(m.timeline), len(m.alerts)) == (2, 0)


def test_whatsapp(plain: dict[str, ModuleResult], with_test_stix: dict[str, ModuleResult]) -> None:
    m = plain["whatsapp"]
    assert len(m.records) == 3 and not m.alerts
    assert [r["links"] for r in m.records if r["links"]] == [["https://example.org/news"]]
    a = with_test_stix["whatsapp"].alerts
    assert [x.level for x in a] == [Level.CRITICAL]


def test_all_shared_iocs_on_backup(mvt: Path, shared_data: Path) -> None:
    """With the whole public index nothing in this synthetic backup is a known indicator."""
    res = _run(mvt / "ios_backup", IocIndex.from_paths([shared_data / "iocs"]))
    assert not [a for m in res.values() for a in m.alerts if a.level >= Level.HIGH]


def test_backup_in_parent_folder(tmp_path: Path, mvt: Path) -> None:
    parent = tmp_path / "Backup"
    parent.mkdir()
    (parent / "0123abcd").symlink_to(mvt / "ios_backup", target_is_directory=True)
    with IosBackup(parent) as b:
        assert b.root.name == "0123abcd" and b.row_count == 3721


def test_interactionc(plain: dict[str, ModuleResult], make_index, mvt: Path) -> None:  # type: ignore[no-untyped-def]
    m = plain["interactionc"]
    assert len(m.records) == 3 and not m.alerts
    assert [r["bundle_id"] for r in m.records] == ["net.whatsapp.WhatsApp", "net.whatsapp.WhatsApp",
                                                   "com.apple.MobileSMS"]
    assert [r["direction"] for r in m.records] == ["incoming", "outgoing", "incoming"]
    assert m.records[2]["sender_name"] == "Bob Example" and len(m.timeline) == 3
    hit = _run(mvt / "ios_backup", make_index(app_id=["com.apple.MobileSMS"]))["interactionc"].alerts
    assert len(hit) == 1
