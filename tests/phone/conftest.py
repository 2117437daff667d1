"""Fixtures for phone tests: MVT's artefacts and indicator files from ../shared/data, never copied."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.iocs.loader import parse_bundle


@pytest.fixture(scope="session", autouse=True)
def _ioc_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Phone tests keep the parsed-indicator cache in a temporary folder, never the user's cache dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AYIQ_CACHE", str(tmp_path_factory.mktemp("ioc-cache")))
        yield


@pytest.fixture(scope="session")
def mvt(shared_data: Path) -> Path:
    p = shared_data / "mvt-artifacts"
    if not p.is_dir():
        pytest.skip("../shared/data/mvt-artifacts is absent")
    return p


@pytest.fixture(scope="session")
def test_stix(mvt: Path) -> Path:
    return mvt / "test.stix2"


def index_with(test_stix: Path, **extra: list[str]) -> IocIndex:
    """MVT's test.stix2 plus extra values added in memory, as MVT's own tests do ("+IOC")."""
    idx = IocIndex.from_paths([test_stix])
    path_of = {"domain": "domain-name:value", "process": "process:name", "email": "email-addr:value",
               "file_name": "file:name", "app_id": "app:id", "android_property": "android-property:name",
               "file_hash": "file:hashes.sha256", "cert_hash": "app:cert.sha256", "url": "url:value"}
    objs: list[dict[str, str]] = [{"type": "malware", "id": "malware--t", "name": "TestMalware"}]
    for kind, values in extra.items():
        for v in values:
            objs.append({"type": "indicator", "id": f"indicator--{kind}-{v}", "pattern": f"[{path_of[kind]}='{v}']"})
    for ind in parse_bundle({"objects": objs}, "extra.stix2").indicators:
        idx.add(ind)
    return idx


@pytest.fixture(scope="session")
def make_index(test_stix: Path):  # type: ignore[no-untyped-def]
    return lambda **extra: index_with(test_stix, **extra)


@pytest.fixture(scope="session")
def digest():  # type: ignore[no-untyped-def]
    return tree_digest


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under root (WAL/SHM files included), and the set of names."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _tlv(tag: bytes, value: bytes | int) -> bytes:
    import struct

    data = struct.pack(">L", value) if isinstance(value, int) else value
    return tag + struct.pack(">L", len(data)) + data


def make_encrypted_backup(src: Path, dest: Path, password: str) -> None:
    """An encrypted copy of an unencrypted backup, built the way iOS does it (keybag with
    passphrase-wrapped class keys, per-file keys in Manifest.db, AES-CBC everywhere), with tiny
    key-derivation costs so the test is fast. Only rows whose file exists are kept."""
    import os
    import plistlib
    import sqlite3
    import struct

    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    def cbc(key: bytes, data: bytes) -> bytes:
        p = padding.PKCS7(128).padder()
        padded = p.update(data) + p.finalize()
        e = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).encryptor()
        return e.update(padded) + e.finalize()

    dpsl, salt = os.urandom(20), os.urandom(20)
    r1 = PBKDF2HMAC(hashes.SHA256(), 32, dpsl, 1).derive(password.encode())
    pkey = PBKDF2HMAC(hashes.SHA1(), 32, salt, 1).derive(r1)
    class_keys = {c: os.urandom(32) for c in (1, 2, 3, 4)}
    bag = _tlv(b"VERS", 3) + _tlv(b"TYPE", 1) + _tlv(b"UUID", os.urandom(16)) + _tlv(b"HMCK", os.urandom(40))
    bag += _tlv(b"WRAP", 0) + _tlv(b"SALT", salt) + _tlv(b"ITER", 1) + _tlv(b"DPWT", 1) + _tlv(b"DPIC", 1)
    bag += _tlv(b"DPSL", dpsl)
    for c, k in class_keys.items():
        bag += _tlv(b"UUID", os.urandom(16)) + _tlv(b"CLAS", c) + _tlv(b"WRAP", 2) + _tlv(b"KTYP", 0)
        bag += _tlv(b"WPKY", aes_key_wrap(pkey, k))
    dest.mkdir(parents=True)
    plain_db = dest / "plain-Manifest.db"
    con = sqlite3.connect(plain_db)
    con.execute("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB)")
    con.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
    src_con = sqlite3.connect(f"file:{src / 'Manifest.db'}?mode=ro&immutable=1", uri=True)
    for fid, dom, rel, flags in src_con.execute("SELECT fileID, domain, relativePath, flags FROM Files"):
        stored = src / fid[:2] / fid
        if not stored.is_file():
            continue
        data = stored.read_bytes()
        fkey = os.urandom(32)
        wrapped = struct.pack("<l", 3) + aes_key_wrap(class_keys[3], fkey)
        blob = plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver",
                               "$top": {"root": plistlib.UID(1)},
                               "$objects": ["$null", {"$class": plistlib.UID(3), "Size": len(data), "Mode": 33188,
                                                      "ProtectionClass": 3, "EncryptionKey": plistlib.UID(2),
                                                      "LastModified": 1600000000, "Birth": 1600000000,
                                                      "LastStatusChange": 1600000000, "UserID": 501},
                                            {"NS.data": wrapped}, {"$classname": "MBFile"}]},
                               fmt=plistlib.FMT_BINARY)
        con.execute("INSERT INTO Files VALUES (?,?,?,?,?)", (fid, dom, rel, flags, blob))
        (dest / fid[:2]).mkdir(exist_ok=True)
        (dest / fid[:2] / fid).write_bytes(cbc(fkey, data))
    con.commit()
    con.close()
    src_con.close()
    mkey = os.urandom(32)
    (dest / "Manifest.db").write_bytes(cbc(mkey, plain_db.read_bytes()))
    plain_db.unlink()
    manifest = {"IsEncrypted": True, "BackupKeyBag": bag,
                "ManifestKey": struct.pack("<l", 4) + aes_key_wrap(class_keys[4], mkey),
                "Lockdown": {"ProductType": "iPhone9,3", "ProductVersion": "14.3", "BuildVersion": "18C66"}}
    (dest / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    (dest / "Info.plist").write_bytes((src / "Info.plist").read_bytes())


@pytest.fixture(scope="session")
def encrypted_backup(mvt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("enc") / "backup"
    make_encrypted_backup(mvt / "ios_backup", dest, "correct horse")
    return dest
