"""The iOS modules MVT's test backup has no data for, on artefacts built here in their real schemas."""

from __future__ import annotations

import plistlib
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from ayiq.phone.check import check_ios_fs
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.iocs.loader import parse_bundle
from ayiq.phone.model import Level

APP = "private/var/mobile/Containers/Data/Application/0A1B2C3D"


def _sql(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()


def _plist(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(obj, fmt=plistlib.FMT_BINARY))


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("more") / "dump"
    mob = root / "private/var/mobile"
    _plist(mob / "Library/Caches/locationd/clients.plist", {
        "com.bad.locator:": {"BundleId": "com.bad.locator", "LocationTimeStopped": 650000000.0},
        "com.apple.Maps:": {"BundleId": "com.apple.Maps", "Executable": "/Applications/Maps.app/Maps"},
        "MigrationVersion": 3})
    _plist(mob / "Library/Preferences/com.apple.osanalytics.addaily.plist", {
        "netUsageBaseline": {"badsyncd": [datetime(2021, 7, 1, 10, 0), 1, 2, 3, 4], "locationd": [datetime(2021, 7, 1), 0, 0, 0, 0]}})
    _plist(mob / "Library/Preferences/com.apple.identityservices.idstatuscache.plist", {
        "com.apple.madrid": {"mailto:spy@bad.example": {"IDStatus": 1, "LookupDate": 640000000.0},
                             "tel:+15550100": {"IDStatus": 2, "LookupDate": 640000001.0}}})
    _plist(root / "private/var/containers/Shared/SystemGroup/ABC/Library/ConfigurationProfiles/profile-1.plist", {
        "PayloadUUID": "76dab334-7e17-475d-a5d6-0794eb5818a5", "PayloadIdentifier": "com.bad.profile",
        "PayloadDisplayName": "Carrier settings", "InstallDate": datetime(2021, 5, 5),
        "PayloadContent": [{"PayloadType": "com.apple.security.root"}]})
    _sql(mob / "Library/Safari/History.db", """
        CREATE TABLE history_items (id INTEGER PRIMARY KEY, url TEXT);
        CREATE TABLE history_visits (id INTEGER PRIMARY KEY, history_item INTEGER, visit_time REAL, title TEXT,
                                     redirect_source INTEGER, redirect_destination INTEGER);
        INSERT INTO history_items VALUES (1, 'https://news.example/'), (2, 'https://x.y.bad.example:8443/land?a=b=c');
        INSERT INTO history_visits VALUES (1, 1, 640000000, 'News', NULL, 2), (2, 2, 640000001, NULL, 1, NULL);""")
    _sql(root / APP / "Library/Application Support/Google/Chrome/Default/History", """
        CREATE TABLE urls (id INTEGER PRIMARY KEY, url TEXT, title TEXT, last_visit_time INTEGER);
        CREATE TABLE visits (id INTEGER PRIMARY KEY, url INTEGER, visit_time INTEGER, from_visit INTEGER);
        INSERT INTO urls VALUES (1, 'http://bit.ly/3xyz', '', 0);
        INSERT INTO visits VALUES (1, 1, 13270000000000000, 0);""")
    _sql(root / APP / "Profile.profile/browser.db", """
        CREATE TABLE history (id INTEGER PRIMARY KEY, url TEXT, title TEXT);
        CREATE TABLE visits (id INTEGER PRIMARY KEY, siteID INTEGER, date INTEGER, type INTEGER);
        CREATE TABLE favicons (id INTEGER PRIMARY KEY, url TEXT, width INTEGER, height INTEGER, type INTEGER, date REAL);
        INSERT INTO history VALUES (1, 'https://bad.example/x', 't');
        INSERT INTO visits VALUES (1, 1, 1620000000000000, 1);
        INSERT INTO favicons VALUES (1, 'https://cdn.bad.example/favicon.ico', 16, 16, 1, 1620000000);""")
    _sql(mob / "Library/Shortcuts/Shortcuts.sqlite", """
        CREATE TABLE ZSHORTCUT (Z_PK INTEGER PRIMARY KEY, ZNAME TEXT, ZCREATIONDATE REAL, ZMODIFICATIONDATE REAL,
                                ZACTIONSDESCRIPTION TEXT);
        CREATE TABLE ZSHORTCUTACTIONS (Z_PK INTEGER PRIMARY KEY, ZSHORTCUT INTEGER, ZDATA BLOB);
        INSERT INTO ZSHORTCUT VALUES (1, 'Morning', 640000000, 640000100, NULL);""")
    con = sqlite3.connect(mob / "Library/Shortcuts/Shortcuts.sqlite")
    con.execute("INSERT INTO ZSHORTCUTACTIONS VALUES (1, 1, ?)",
                (plistlib.dumps([{"WFURL": "https://bad.example/s"}], fmt=plistlib.FMT_BINARY),))
    con.commit()
    con.close()
    _sql(root / APP / "Library/Caches/com.some.app/Cache.db", """
        CREATE TABLE cfurl_cache_response (entry_ID INTEGER PRIMARY KEY, request_key TEXT, time_stamp TEXT);
        INSERT INTO cfurl_cache_response VALUES (1, 'https://api.bad.example/v1', '2021-06-01 10:00:00');""")
    wd = root / APP / "Library/WebKit/WebsiteData"
    (wd / "IndexedDB/v1/https_evil.bad.example_0").mkdir(parents=True)
    (wd / "IndexedDB/v1/https_evil.bad.example_0/IndexedDB.sqlite3").write_bytes(b"x")
    (wd / "IndexedDB/v1/https_evil.bad.example_0/IndexedDB.sqlite3-wal").write_bytes(b"x")
    (wd / "LocalStorage").mkdir(parents=True)
    (wd / "LocalStorage/https_www.news.example_0.localstorage").write_bytes(b"x")
    return root


@pytest.fixture(scope="module")
def iocs() -> IocIndex:
    objs = [{"type": "malware", "id": "malware--m", "name": "BadSpy"}]
    for n, p in enumerate(["[app:id='com.bad.locator']", "[process:name='badsyncd']",
                           "[email-addr:value='spy@bad.example']", "[domain-name:value='bad.example']",
                           "[configuration-profile:id='76DAB334-7E17-475D-A5D6-0794EB5818A5']"]):
        objs.append({"type": "indicator", "id": f"indicator--{n}", "pattern": p})
    return IocIndex(files=[parse_bundle({"objects": objs}, "badspy.stix2")])


def test_more_ios_modules(dump: Path, iocs: IocIndex) -> None:
    out = check_ios_fs(dump, iocs)
    assert not out.errors
    by = {m.name: m for m in out.modules}
    crit = {name: [a for a in m.alerts if a.level == Level.CRITICAL] for name, m in by.items()}
    assert len(by["locationd_clients"].records) == 2 and len(crit["locationd_clients"]) == 1
    assert len(crit["osanalytics_addaily"]) == 1
    assert len(by["idstatuscache"].records) == 2 and len(crit["idstatuscache"]) == 1
    assert len(crit["configuration_profiles"]) == 1
    hist = by["safari_history"]
    assert len(hist.records) == 2 and len(crit["safari_history"]) == 1
    assert crit["safari_history"][0].match and crit["safari_history"][0].match.how == "subdomain of bad.example"
    ch = by["chrome_history"]
    assert ch.records[0]["isodate"].startswith("2021-") and [a.level for a in ch.alerts] == [Level.LOW]  # shortener
    assert len(crit["firefox_history"]) == 1 and len(crit["firefox_favicon"]) == 1
    assert by["shortcuts"].records[0]["urls"] == ["https://bad.example/s"] and len(crit["shortcuts"]) == 1
    assert len(crit["cache_files"]) == 1
    wk = by["webkit_website_data"]
    assert sorted(r["domain"] for r in wk.records) == ["evil.bad.example", "www.news.example"]
    assert len(crit["webkit_website_data"]) == 1
    fams = {f["family"]: f for f in out.as_json()["families"]}
    assert fams["BadSpy"]["matches"] == sum(len(v) for v in crit.values())
