"""Hostile input: crafted SQLite, plist bombs, forged Manifest rows, random bytes into every parser.
Each must give a clear error or a recovered read: never a crash, never a file outside the output folder."""

from __future__ import annotations

import os
import plistlib
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.android_aqf import parse_getprop, parse_ps
from ayiq.phone.artifacts.android_dumpsys import dumpsys_sections, parse_appops, parse_packages
from ayiq.phone.artifacts.android_sms import parse_sms_backup_file
from ayiq.phone.artifacts.ios_shutdownlog import parse_shutdown_log
from ayiq.phone.check import check_ios_backup, work_dir
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.iocs.loader import parse_bundle
from ayiq.phone.readers import load_plist_bytes
from ayiq.phone.report.write import write_outputs
from ayiq.phone.sources.android_backup import decode_android_backup
from ayiq.phone.sources.ios_backup import IosBackup

SMS_ID = "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _copy_backup(mvt: Path, dest: Path) -> Path:
    shutil.copytree(mvt / "ios_backup", dest)
    return dest


def _bplist_bomb(depth: int) -> bytes:
    """A binary plist where each array holds the next one twice: 2**depth leaves from a few hundred bytes."""
    objs = [b"\x10\x01"]  # int 1
    for i in range(1, depth + 1):
        objs.append(bytes([0xA2, i - 1, i - 1]))  # array of two refs to the previous object
    offsets, body = [], b"bplist00"
    for o in objs:
        offsets.append(len(body))
        body += o
    table = b"".join(struct.pack(">H", off) for off in offsets)
    trailer = struct.pack(">6xBBQQQ", 2, 1, len(objs), len(objs) - 1, len(body))
    return body + table + trailer


def test_plist_bomb_and_cycle() -> None:
    with pytest.raises(InputError, match="plist bomb"):
        load_plist_bytes(_bplist_bomb(40), "bomb.plist")
    assert load_plist_bytes(_bplist_bomb(3), "small.plist") == [[[1, 1], [1, 1]], [[1, 1], [1, 1]]]
    cyc = b"bplist00" + bytes([0xA1, 0])  # an array that contains itself
    table = struct.pack(">B", 8)
    cyc += table + struct.pack(">6xBBQQQ", 1, 1, 1, 0, 10)
    with pytest.raises(InputError):
        load_plist_bytes(cyc, "cycle.plist")
    with pytest.raises(InputError, match="entity|not a valid"):
        load_plist_bytes(b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><plist><string>&a;</string></plist>',
                         "xxe.plist")


@given(st.binary(max_size=400))
@FUZZ
def test_fuzz_plist(data: bytes) -> None:
    for blob in (data, b"bplist00" + data):
        try:
            load_plist_bytes(blob, "fuzz.plist")
        except InputError:
            pass


def test_corrupt_sqlite_is_recorded_not_fatal(mvt: Path, tmp_path: Path, test_stix: Path) -> None:
    b = _copy_backup(mvt, tmp_path / "b")
    sms = b / SMS_ID[:2] / SMS_ID
    sms.write_bytes(b"SQLite format 3\0" + os.urandom(4000))
    out = check_ios_backup(b, IocIndex.from_paths([test_stix]))
    by = {m.name: m for m in out.modules}
    assert by["sms"].status == "error" and "HomeDomain/Library/SMS/sms.db" in by["sms"].errors[0]
    assert by["tcc"].alerts  # the other modules still ran
    assert out.exit_code == 1 and out.errors
    # a crafted schema: right table name, wrong columns, hostile values
    con = sqlite3.connect(tmp_path / "x.db")
    con.executescript("CREATE TABLE message (ROWID INTEGER, text BLOB, date TEXT, is_from_me TEXT);"
                      "INSERT INTO message VALUES (1, x'00ff', 'yesterday', 'maybe');"
                      "INSERT INTO message VALUES (2, 'http://[::1', 1e308, NULL);")
    con.commit()
    con.close()
    shutil.copyfile(tmp_path / "x.db", sms)
    out = check_ios_backup(b, IocIndex.from_paths([test_stix]))
    sms_res = next(m for m in out.modules if m.name == "sms")
    assert not sms_res.errors and len(sms_res.records) == 2


@given(st.binary(min_size=0, max_size=3000))
@settings(max_examples=60, deadline=None)
def test_fuzz_sqlite_bytes(data: bytes) -> None:
    import tempfile

    from ayiq.phone.artifacts.ios_sms import Sms
    from ayiq.phone.sources.base import EvidenceFile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "sms.db"
        p.write_bytes(b"SQLite format 3\0" + data)
        try:
            Sms().parse(EvidenceFile("sms.db", p))
        except InputError:
            pass


def test_manifest_rows_pointing_outside(mvt: Path, tmp_path: Path) -> None:
    b = _copy_backup(mvt, tmp_path / "b")
    outside = tmp_path / "secret.db"
    shutil.copyfile(b / SMS_ID[:2] / SMS_ID, outside)
    con = sqlite3.connect(b / "Manifest.db")
    con.execute("UPDATE Files SET fileID = '../../secret.db' WHERE fileID = ?", (SMS_ID,))
    con.commit()
    con.close()
    # and a stored file that is a symlink to a file outside the backup
    tcc = "64d0019cb3d46bfc8cce545a8ba54b93e7ea9347"
    (b / tcc[:2] / tcc).unlink()
    (b / tcc[:2] / tcc).symlink_to(outside)
    with IosBackup(b) as src:
        from ayiq.phone.artifacts import registry
        from ayiq.phone.run import run_all

        res = {m.name: m for m in run_all(registry.IOS_BACKUP, src, IocIndex())}
        assert res["sms"].status == "not_found" and res["tcc"].status == "not_found"
        assert any("invalid file id" in w for w in src.info.warnings)
        assert any("outside the backup" in w for w in src.info.warnings)


def test_nothing_written_outside_output(mvt: Path, tmp_path: Path, test_stix: Path, encrypted_backup: Path,
                                        digest) -> None:  # type: ignore[no-untyped-def]
    """Plain and encrypted checks write only inside the output folder; the inputs' bytes never change."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    before = digest(mvt / "ios_backup"), digest(encrypted_backup)
    env = {**os.environ, "TMPDIR": str(tmpdir), "AYIQ_HOME": str(tmp_path / "home")}
    for src, extra in ((mvt / "ios_backup", []), (encrypted_backup, ["--password-env", "PW"])):
        out = tmp_path / ("out-" + src.name)
        r = subprocess.run([sys.executable, "-m", "ayiq.cli.main", "phone", "check-backup", str(src), "--iocs",
                            str(test_stix), "-o", str(out), *extra], env={**env, "PW": "correct horse"},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stderr
        assert sorted(p.name for p in out.iterdir()) == ["alerts.json", "modules", "report.html", "timeline.csv",
                                                         "verdict.json"]
    assert list(tmpdir.iterdir()) == []
    assert (digest(mvt / "ios_backup"), digest(encrypted_backup)) == before
    assert not (mvt / "ios_backup" / "Manifest.db-wal").exists()


@given(st.text(max_size=2000))
@settings(max_examples=150, deadline=None)
def test_fuzz_text_parsers(text: str) -> None:
    parse_shutdown_log(text)
    parse_ps(text)
    parse_getprop(text)
    parse_appops(text)
    parse_packages(text)
    dumpsys_sections(text)
    parse_shutdown_log("After 1.0s, these clients are still here:\n" + text + "\nSIGTERM: [99999999999999999]")


@given(st.binary(max_size=600))
@settings(max_examples=150, deadline=None)
def test_fuzz_android_backup(data: bytes) -> None:
    for blob in (data, b"ANDROID BACKUP\n5\n1\nnone\n" + data, b"ANDROID BACKUP\n5\n0\nAES-256\n" + data):
        try:
            decode_android_backup(blob, "fuzz.ab", "pw")
        except InputError:
            pass
    try:
        parse_sms_backup_file("x_sms_backup", data, "fuzz")
    except InputError:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=10), c, max_size=5),
                           max_leaves=30)


@given(st.lists(st.dictionaries(st.sampled_from(["type", "id", "pattern", "name", "source_ref", "target_ref",
                                                  "pattern_type"]),
                                st.one_of(st.sampled_from(["indicator", "malware", "relationship"]), json_values)),
                max_size=8))
@settings(max_examples=200, deadline=None)
def test_fuzz_stix_bundle(objects: list) -> None:  # type: ignore[type-arg]
    try:
        parse_bundle({"objects": objects}, "fuzz.stix2")
    except InputError:
        pass


def test_outputs_of_hostile_records(tmp_path: Path, mvt: Path) -> None:
    """Records holding bytes, NaN-like values and huge ints still serialise."""
    out = check_ios_backup(mvt / "ios_backup", IocIndex())
    out.modules[0].records.append({"blob": b"\x00\xff", "big": 2**80, "nested": {"x": [1, {"y": b"z"}]}})
    with work_dir(tmp_path / "o"):
        write_outputs(out, tmp_path / "o")
    mod = orjson.loads((tmp_path / "o" / "modules" / f"{out.modules[0].name}.json").read_bytes())
    assert mod["records"][-1]["blob"] == {"$bytes": "AP8="}


@pytest.mark.root
def test_checks_in_empty_network_namespace(mvt: Path, tmp_path: Path, test_stix: Path) -> None:
    """Every check command runs, and succeeds, with no network at all (an empty network namespace)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for an empty network namespace")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"network namespaces unsupported here: {probe.stderr.decode()[:200]}")
    # inside the namespace a connection must fail, proving the namespace is empty
    no_net = subprocess.run(["unshare", "--net", sys.executable, "-c",
                             "import socket; socket.create_connection(('93.184.216.34', 443), timeout=2)"],
                            capture_output=True)
    assert no_net.returncode != 0
    cmds = [("check-backup", mvt / "ios_backup", 1), ("check-androidqf", mvt / "androidqf", 1),
            ("check-androidqf", mvt / "androidqf.zip", 0),
            ("check-android-backup", mvt / "android_backup" / "backup.ab", 0),
            ("check-bugreport", mvt / "android_data" / "bugreport", 0)]
    for cmd, path, code in cmds:
        r = subprocess.run(["unshare", "--net", sys.executable, "-m", "ayiq.cli.main", "phone", cmd, str(path),
                            "--iocs", str(test_stix), "-o", str(tmp_path / cmd / path.name)],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "AYIQ_HOME": str(tmp_path)})
        assert r.returncode == code, (cmd, r.stdout, r.stderr)


def test_no_socket_opened_in_process(mvt: Path, test_stix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces, also when not root: any socket creation during a check fails the test."""
    import socket

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a phone check tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from ayiq.phone import check

    idx = IocIndex.from_paths([test_stix])
    check.check_ios_backup(mvt / "ios_backup", idx)
    check.check_androidqf(mvt / "androidqf", idx)
    check.check_bugreport(mvt / "android_data" / "bugreport", idx)
    check.check_android_backup(mvt / "android_backup" / "backup2.ab", idx, "123456")


def _manifest_blobs(mvt: Path) -> list[bytes]:
    con = sqlite3.connect(f"file:{mvt / 'ios_backup' / 'Manifest.db'}?mode=ro&immutable=1", uri=True)
    try:
        return [b for (b,) in con.execute("SELECT file FROM Files WHERE file IS NOT NULL LIMIT 200")]
    finally:
        con.close()


def test_fast_manifest_reader_agrees_with_plistlib(mvt: Path) -> None:
    from ayiq.phone.bplist import manifest_file_metadata

    for blob in _manifest_blobs(mvt):
        fast = manifest_file_metadata(blob)
        ref = plistlib.loads(blob)["$objects"][1]
        assert fast is not None
        assert {k: ref[k] for k in FIELDS if k in ref} == \
            {k: fast[k] for k in FIELDS if k in ref}


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_fuzz_fast_manifest_reader(data: st.DataObject) -> None:
    """Mutated real blobs: the fast reader never raises, and whatever it returns plistlib agrees with."""
    from ayiq.phone.bplist import manifest_file_metadata

    blobs = _BLOBS
    blob = bytearray(data.draw(st.sampled_from(blobs)))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    fast = manifest_file_metadata(bytes(blob))
    if fast:
        try:
            ref = plistlib.loads(bytes(blob))["$objects"][1]
        except Exception:
            return  # plistlib rejects what we read leniently: the values we read are still bounded
        if isinstance(ref, dict):
            for k, v in fast.items():
                if k in ref and isinstance(ref[k], int | float) and not isinstance(ref[k], bool):
                    assert ref[k] == v


_BLOBS: list[bytes] = []
FIELDS = ("Birth", "LastModified", "LastStatusChange", "Mode", "Size", "UserID")


@pytest.fixture(autouse=True, scope="module")
def _load_blobs(mvt: Path) -> None:
    _BLOBS[:] = _manifest_blobs(mvt)
