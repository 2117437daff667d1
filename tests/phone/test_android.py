"""Android sources on MVT's artefacts: AndroidQF (folder and zip), adb backups (plain and encrypted)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.core.errors import InputError
from ayiq.phone.artifacts import registry
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Level, ModuleResult
from ayiq.phone.run import run_all
from ayiq.phone.sources.android import AndroidBackupFile, AndroidQF
from ayiq.phone.sources.android_backup import BackupPasswordError
from ayiq.phone.sources.files import FileBag


def _aqf(path: Path, idx: IocIndex, password: str | None = None) -> dict[str, ModuleResult]:
    src = AndroidQF(path, password)
    try:
        return {m.name: m for m in run_all(registry.ANDROIDQF, src, idx)}
    finally:
        src.close()


def test_androidqf_without_iocs(mvt: Path) -> None:
    r = _aqf(mvt / "androidqf", IocIndex())
    assert not [e for m in r.values() for e in m.errors]
    pk = r["aqf_packages"]
    assert len(pk.records) == 7
    flagged = {a.record["name"] for a in pk.alerts}
    assert flagged == {"com.whatsapp", "app.revanced.manager.flutter", "com.google.android.youtube",
                       "org.fdroid.fdroid", "org.nuclearfog.apollo"}
    assert (len(r["aqf_processes"].records), len(r["aqf_processes"].alerts)) == (15, 0)
    gp = r["aqf_getprop"].records
    assert len(gp) == 10 and gp[0] == {"name": "dalvik.vm.appimageformat", "value": "lz4"}
    st = r["aqf_settings"]
    assert {x["namespace"] for x in st.records} == {"random"}
    assert [a.record["name"] for a in st.alerts] == ["samsung_errorlog_agree"]
    fl = r["aqf_files"]
    assert (len(fl.records), len(fl.timeline), len(fl.alerts)) == (3, 6, 0)
    rb = r["root_binaries"]
    assert len(rb.records) == 4 and [a.level for a in rb.alerts] == [Level.HIGH] * 4
    assert len(r["android_sms"].records) == 2


def test_androidqf_with_iocs(mvt: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    pkgs = (mvt / "androidqf" / "packages.json").read_bytes()
    import orjson

    muahaha = next(p for p in orjson.loads(pkgs) if p["name"] == "com.malware.muahaha")
    sha = muahaha["files"][0]["sha256"]
    cert = muahaha["files"][0]["certificate"]["Sha256"]
    for extra in ({"app_id": ["com.malware.blah"]}, {"file_hash": [sha]}, {"cert_hash": [cert]}):
        r = _aqf(mvt / "androidqf", make_index(**extra))
        crit = [a for a in r["aqf_packages"].alerts if a.level == Level.CRITICAL]
        assert len(crit) == 1
        assert crit[0].record["name"] == ("com.malware.blah" if "app_id" in extra else "com.malware.muahaha")
    r = _aqf(mvt / "androidqf", make_index(android_property=["dalvik.vm.heapmaxfree"], process=["lru-add-drain"]))
    assert len(r["aqf_getprop"].alerts) == 1


def test_androidqf_zip(mvt: Path) -> None:
    r = _aqf(mvt / "androidqf.zip", IocIndex())
    assert len(r["aqf_getprop"].records) == 10
    assert r["aqf_packages"].status == "not_found"


def test_androidqf_encrypted_backup(mvt: Path) -> None:
    r = _aqf(mvt / "androidqf_encrypted", IocIndex(), "123456")
    assert len(r["android_sms"].records) == 1
    bad = _aqf(mvt / "androidqf_encrypted", IocIndex(), "nope")
    assert bad["android_sms"].errors and "wrong password" in bad["android_sms"].errors[0]


def test_adb_backups(mvt: Path, test_stix: Path) -> None:
    idx = IocIndex.from_paths([test_stix])
    ab = mvt / "android_backup"
    for path, pw, n in ((ab / "backup.ab", None, 2), (ab / "backup2.ab", "123456", 1), (ab / "backup3.ab", None, 1),
                        (ab, None, 2)):
        src = AndroidBackupFile(path, pw)
        res = run_all(registry.ANDROID_BACKUP, src, idx)[0]
        assert len(res.records) == n and res.records[0]["links"] == ["https://google.com/"], path
    with pytest.raises(BackupPasswordError, match="wrong password"):
        AndroidBackupFile(ab / "backup2.ab", "654321")
    with pytest.raises(BackupPasswordError, match="encrypted"):
        AndroidBackupFile(ab / "backup2.ab")


def test_cli_android(mvt: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["phone", "check-androidqf", str(mvt / "androidqf"), "--iocs", str(mvt / "test.stix2"),
                            "-o", str(tmp_path / "a")])
    assert r.exit_code == 1, r.output  # root binaries, sideloaded apps
    assert (tmp_path / "a" / "report.html").is_file()
    r = runner.invoke(app, ["phone", "check-android-backup", str(mvt / "android_backup" / "backup2.ab"),
                            "--iocs", str(mvt / "test.stix2"), "-o", str(tmp_path / "b")])
    assert r.exit_code == 2 and "encrypted" in r.output
    r = runner.invoke(app, ["phone", "check-android-backup", str(mvt / "android_backup" / "backup.ab"),
                            "--iocs", str(mvt / "test.stix2"), "-o", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert not list((tmp_path / "c").glob(".ayiq-work*"))


def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_zip_traversal_and_bomb(tmp_path: Path) -> None:
    z = tmp_path / "evil.zip"
    z.write_bytes(_zip({"../../escape.txt": b"x", "/abs.txt": b"y", "getprop.txt": b"[a]: [b]\n"}, symlink="link"))
    bag = FileBag(z)
    assert bag.names() == ["getprop.txt"] and len(bag.warnings) == 3
    src = AndroidQF(z)
    assert src.text("getprop.txt") == "[a]: [b]\n"
    assert not (tmp_path.parent / "escape.txt").exists()
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"getprop.txt": b"\0" * (50 * 1024 * 1024)}))
    with pytest.raises(InputError, match="zip bomb"):
        FileBag(bomb)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04" + b"\xff" * 100)
    with pytest.raises(InputError):
        AndroidQF(junk)


def test_bugreport(mvt: Path, test_stix: Path, tmp_path: Path) -> None:
    from ayiq.phone.sources.android import Bugreport

    src = Bugreport(mvt / "android_data" / "bugreport")
    r = {m.name: m for m in run_all(registry.BUGREPORT, src, IocIndex.from_paths([test_stix]))}
    ap = r["dumpsys_appops"]
    assert (len(ap.records), len(ap.timeline)) == (12, 16)
    assert not [a for a in ap.alerts if a.match]
    pk = r["dumpsys_packages"].records
    assert [p["package_name"] for p in pk] == ["com.samsung.android.provider.filterprovider", "com.instagram.android"]
    assert pk[1]["installer"] == "com.android.vending" and len(pk[0]["permissions"]) == 4
    assert r["bugreport_getprop"].records == []
    tb = r["tombstones"].records
    assert len(tb) == 2 and tb[1]["pid"] == 3559
    runner = CliRunner()
    res = runner.invoke(app, ["phone", "check-bugreport", str(mvt / "android_data" / "bugreport"), "--iocs",
                              str(test_stix), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    # the same folder zipped, as phones produce it
    z = tmp_path / "bugreport.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in (mvt / "android_data" / "bugreport").rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(mvt / "android_data" / "bugreport").as_posix())
    zr = {m.name: m for m in run_all(registry.BUGREPORT, Bugreport(z), IocIndex())}
    assert len(zr["tombstones"].records) == 2 and len(zr["dumpsys_appops"].records) == 12


def test_dumpsys_parsers_on_single_sections(mvt: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    from ayiq.phone.artifacts.android_aqf import parse_getprop, parse_ps
    from ayiq.phone.artifacts.android_dumpsys import parse_appops, parse_packages

    data = mvt / "android_data"
    assert len(parse_getprop((data / "getprop.txt").read_text())) == 13
    ps = parse_ps((data / "ps.txt").read_text())
    assert len(ps) == 17
    idx = make_index(process=["lru-add-drain"], app_id=["com.facebook.katana"])
    assert sum(1 for p in ps if idx.match_process(p["proc_name"].strip("[]"))) == 1
    appops = parse_appops((data / "dumpsys_appops.txt").read_text())
    assert len(appops) == 13 and any(idx.match_app_id(a["package_name"]) for a in appops)
    pk = parse_packages((data / "dumpsys_packages.txt").read_text())
    assert len(pk) == 2


def test_more_dumpsys_sections(mvt: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    from ayiq.phone.artifacts.android_dumpsys import (
        DumpsysAccessibility,
        DumpsysDbInfo,
        parse_accessibility,
        parse_adb,
        parse_dbinfo,
    )

    data = mvt / "android_data"
    old = parse_accessibility((data / "dumpsys_accessibility.txt").read_text())
    assert len(old) == 4 and not any(r["enabled"] for r in old)
    idx = make_index(app_id=["com.sec.android.app.camera", "com.wssyncmldm"])
    assert len(DumpsysAccessibility().check(old, idx)) == 1
    new = parse_accessibility((data / "dumpsys_accessibility_v14_or_later.txt").read_text())
    assert [r["package_name"] for r in new] == ["com.malware.accessibility"] and new[0]["enabled"]
    alerts = DumpsysAccessibility().check(new, IocIndex())
    assert [a.level for a in alerts] == [Level.MEDIUM]
    db = parse_dbinfo((data / "dumpsys_dbinfo.txt").read_text())
    assert len(db) == 5 and len(DumpsysDbInfo().check(db, idx)) == 5
    for name in ("dumpsys_adb.txt", "dumpsys_adb_wifi.txt", "dumpsys_adb_xml.txt"):
        keys = parse_adb((data / name).read_text(errors="replace"))
        assert len(keys) == 1 and keys[0]["user_key"].startswith("QAAAA"), name


def test_battery_and_platform_compat(mvt: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    from ayiq.phone.artifacts.android_dumpsys import (
        DumpsysBattery,
        DumpsysPlatformCompat,
        parse_battery_daily,
        parse_battery_history,
        parse_platform_compat,
    )

    data = mvt / "android_data"
    text = (data / "dumpsys_battery.txt").read_text()
    daily = [{"kind": "daily", **r} for r in parse_battery_daily(text)]
    history = [{"kind": "history", **r} for r in parse_battery_history(text)]
    assert (len(daily), len(history)) == (3, 5)
    assert len(DumpsysBattery().check(daily, make_index(app_id=["com.facebook.system"]))) == 1
    assert len(DumpsysBattery().check(history, make_index(app_id=["com.samsung.android.app.reminder"]))) == 2
    pc = parse_platform_compat((data / "dumpsys_platform_compat.txt").read_text())
    assert len(pc) == 2
    idx = make_index(app_id=["org.torproject.torbrowser", "org.article19.circulo.next"])
    assert len(DumpsysPlatformCompat().check(pc, idx)) == 2
