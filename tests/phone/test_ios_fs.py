"""iOS filesystem dumps, built here from scratch: shutdown.log heuristics, WAL databases read without
touching the originals, processes without binaries, suspicious attachments, threat notifications."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ayiq.cli.main import app
from ayiq.phone.artifacts.ios_shutdownlog import parse_shutdown_log
from ayiq.phone.check import check_ios_fs
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Level

SHUTDOWN_LOG = """\
After 0.50s, these clients are still here:
\t\tremaining client pid: 101 (/usr/libexec/backboardd)
SIGTERM: [1600000000]
After 0.51s, these clients are still here:
\t\tremaining client pid: 202 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
After 1.52s, these clients are still here:
\t\tremaining client pid: 202 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
After 2.53s, these clients are still here:
\t\tremaining client pid: 202 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)
\t\tremaining client pid: 303 (/usr/sbin/bh)
\t\tremaining client pid: 404 (/private/var/tmp/zzsyncd)
After 3.54s, these clients are still here:
\t\tremaining client pid: 303 (/usr/sbin/bh)
SIGTERM: [1620000000]
"""


def _db(path: Path, script: str, *, keep_wal: bool = False) -> None:
    """A SQLite file made by `script`; with keep_wal the last rows stay in an un-checkpointed -wal file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.parent / ("_build_" + path.name)
    con = sqlite3.connect(work)
    if keep_wal:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
    con.executescript(script)
    con.commit()
    if keep_wal:
        shutil.copyfile(work, path)
        shutil.copyfile(str(work) + "-wal", str(path) + "-wal")
    con.close()
    if not keep_wal:
        work.rename(path)
    for p in path.parent.glob("_build_*"):
        p.unlink()


@pytest.fixture()
def fs_dump(tmp_path: Path) -> Path:
    root = tmp_path / "dump"
    (root / "private/var/db/diagnostics").mkdir(parents=True)
    (root / "private/var/db/diagnostics/shutdown.log").write_text(SHUTDOWN_LOG)
    (root / "usr/libexec").mkdir(parents=True)
    (root / "usr/libexec/locationd").write_bytes(b"\xcf\xfa\xed\xfe")
    _db(root / "private/var/mobile/Library/SMS/sms.db", """
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER, service TEXT,
                              date INTEGER, date_read INTEGER, is_from_me INTEGER);
        CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, guid TEXT, filename TEXT, mime_type TEXT,
                                 transfer_name TEXT, total_bytes INTEGER, created_date INTEGER, is_outgoing INTEGER);
        INSERT INTO handle VALUES (1, 'threat-notifications@apple.com', 'iMessage');
        INSERT INTO message VALUES (1, 'g1', 'Apple believes you are being targeted by mercenary spyware', 1,
                                    'iMessage', 700000000000000000, 0, 0);
        INSERT INTO attachment VALUES (1, 'a1', '/private/var/tmp/com.apple.messages/ABCD.gif', 'image/gif',
                                       'ABCD.gif', 100, 700000000, 0);
    """, keep_wal=False)
    # a second database whose newest row lives only in its WAL file
    _db(root / "private/var/mobile/Library/Calendar/Calendar.sqlitedb", """
        CREATE TABLE CalendarItem (ROWID INTEGER PRIMARY KEY, summary TEXT, description TEXT, start_date REAL,
                                   end_date REAL, creation_date REAL, last_modified REAL, organizer_id INTEGER);
        CREATE TABLE Participant (ROWID INTEGER PRIMARY KEY, email TEXT, phone_number TEXT);
        INSERT INTO Participant VALUES (1, 'organizer@example.org', NULL);
        INSERT INTO CalendarItem VALUES (1, 'Invitation', 'see https://urlpush.net/abc', 7e8, 7e8, 7e8, 7e8, 1);
    """, keep_wal=True)
    _db(root / "private/var/wireless/Library/Databases/DataUsage.sqlite", """
        CREATE TABLE ZPROCESS (Z_PK INTEGER PRIMARY KEY, ZPROCNAME TEXT, ZBUNDLENAME TEXT, ZFIRSTTIMESTAMP REAL,
                               ZTIMESTAMP REAL);
        CREATE TABLE ZLIVEUSAGE (Z_PK INTEGER PRIMARY KEY, ZHASPROCESS INTEGER, ZTIMESTAMP REAL, ZWWANIN REAL,
                                 ZWWANOUT REAL);
        INSERT INTO ZPROCESS VALUES (1, 'locationd', NULL, 6e8, 6e8);
        INSERT INTO ZPROCESS VALUES (2, 'com.apple.Preferences', 'com.apple.Preferences', 6e8, 6e8);
        INSERT INTO ZPROCESS VALUES (3, 'fakeimplantd', NULL, 6.1e8, 6.1e8);
        INSERT INTO ZLIVEUSAGE VALUES (1, 3, 6.1e8, 10, 20);
        INSERT INTO ZLIVEUSAGE VALUES (2, 9, 6.2e8, 1, 2);
    """)
    return root


def test_shutdown_log_parser() -> None:
    recs = parse_shutdown_log(SHUTDOWN_LOG)
    assert [(r["pid"], r["delays"]) for r in recs] == [(101, 1), (202, 4), (303, 4), (404, 4)]
    assert recs[1]["isodate"].startswith("2021-05-03")


def test_fs_dump_findings(fs_dump: Path, shared_data: Path, digest) -> None:  # type: ignore[no-untyped-def]
    before = digest(fs_dump)
    assert any(k.endswith("-wal") for k in before)
    iocs = IocIndex.from_paths([shared_data / "iocs" / "amnesty-investigations" / "2021-07-18_nso"])
    out = check_ios_fs(fs_dump, iocs)
    assert digest(fs_dump) == before  # read-only, WAL included
    by = {m.name: m for m in out.modules}
    assert not out.errors
    sd = by["shutdown_log"].alerts
    assert any(a.level == Level.HIGH and "zzsyncd" in a.message for a in sd)
    assert any(a.level == Level.CRITICAL and a.match and a.match.indicator.value == "rolexd" for a in sd)
    assert any(a.level == Level.MEDIUM and "delayed 4 times" in a.message for a in sd)
    assert any(a.level == Level.CRITICAL and a.match and a.match.indicator.value == "bh" for a in sd)
    assert not any("backboardd" in a.message for a in sd)
    # the calendar row only exists in the WAL, and its link is a Pegasus domain
    cal = by["calendar"]
    assert len(cal.records) == 1 and cal.alerts and cal.alerts[0].match
    assert cal.alerts[0].match.indicator.family == "Pegasus"
    sms = by["sms"].alerts
    assert any(a.level == Level.HIGH and "threat notification" in a.message for a in sms)
    att = by["sms_attachments"].alerts
    assert [a.level for a in att] == [Level.MEDIUM]
    du = by["datausage"].alerts
    assert any(a.level == Level.HIGH and "deleted" in a.message for a in du)  # usage row for process 9
    pb = by["process_binaries"].alerts
    assert [a.record["proc_name"] for a in pb] == ["fakeimplantd"]
    assert out.exit_code == 1


def test_cli_check_fs(fs_dump: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["phone", "check-fs", str(fs_dump), "--iocs",
                                 str(Path(__file__).parent), "-o", str(tmp_path / "o")])
    # a folder without STIX files gives an empty index: heuristics still run and find the traces
    assert r.exit_code == 1, r.output
    assert "No indicator files were loaded" in (tmp_path / "o" / "verdict.json").read_text()
    bad = CliRunner().invoke(app, ["phone", "check-fs", str(tmp_path / "o"), "-o", str(tmp_path / "p")])
    assert bad.exit_code == 2 and "not an iOS filesystem dump" in bad.output
