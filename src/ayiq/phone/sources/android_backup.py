"""Android `adb backup` files (.ab): header, optional AES-256 encryption (PBKDF2 master key with its
checksum, so a wrong password is detected, not guessed), zlib stream, then a tar read in memory."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass

from ayiq.core.errors import InputError

MAX_TAR_BYTES = 2 * 1024 * 1024 * 1024
MAX_ROUNDS = 10_000_000


class BackupPasswordError(InputError):
    """Encrypted Android backup with a missing or wrong password."""


@dataclass(frozen=True, slots=True)
class AndroidBackupHeader:
    version: int
    compressed: bool
    encryption: str


def _java_utf8_mk(key: bytes) -> bytes:
    """Android derives the checksum from the master key bytes as Java chars ("modified UTF-8" of each
    signed byte), a known quirk every reader must reproduce."""
    out = bytearray()
    for b in key:
        c = b if b < 0x80 else (b - 256) & 0xFFFF
        if c < 0x80:
            out.append(c)
        elif c < 0x800:
            out += bytes([0xC0 | (c >> 6), 0x80 | (c & 0x3F)])
        else:
            out += bytes([0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)])
    return bytes(out)


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    raw = d.update(data) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return u.update(raw) + u.finalize()


def decode_android_backup(data: bytes, label: str, password: str | None = None) -> tuple[AndroidBackupHeader, bytes]:
    """The header and the tar bytes of an .ab file."""
    lines = data.split(b"\n", 4)
    if len(lines) < 5 or lines[0] != b"ANDROID BACKUP":
        raise InputError(label, "not an Android backup (no 'ANDROID BACKUP' header)")
    try:
        version, compressed = int(lines[1]), lines[2] == b"1"
    except ValueError as exc:
        raise InputError(label, "broken Android backup header") from exc
    enc = lines[3].decode("ascii", "replace")
    body = lines[4]
    header = AndroidBackupHeader(version, compressed, enc)
    if enc == "AES-256":
        body = _decrypt(body, label, password)
    elif enc != "none":
        raise InputError(label, f"unknown Android backup encryption {enc!r}")
    elif password:
        pass
    if compressed:
        d = zlib.decompressobj()
        try:
            body = d.decompress(body, MAX_TAR_BYTES)
        except zlib.error as exc:
            raise InputError(label, f"corrupt compressed data ({exc})") from exc
        if d.unconsumed_tail:
            raise InputError(label, f"decompresses past {MAX_TAR_BYTES} bytes (zip bomb?)")
    return header, body


def _decrypt(body: bytes, label: str, password: str | None) -> bytes:
    if not password:
        raise BackupPasswordError(label, "the Android backup is encrypted: give its password (nothing was checked)")
    parts = body.split(b"\n", 5)
    if len(parts) < 6:
        raise InputError(label, "broken encryption header")
    try:
        user_salt, ck_salt = bytes.fromhex(parts[0].decode()), bytes.fromhex(parts[1].decode())
        rounds = int(parts[2])
        user_iv, mk_blob = bytes.fromhex(parts[3].decode()), bytes.fromhex(parts[4].decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(label, "broken encryption header") from exc
    if not 0 < rounds <= MAX_ROUNDS:
        raise InputError(label, f"implausible key-derivation rounds {rounds}")
    user_key = hashlib.pbkdf2_hmac("sha1", password.encode("utf-8"), user_salt, rounds, 32)
    try:
        blob = _aes_cbc_decrypt(user_key, user_iv, mk_blob)
        i = 0
        iv_len = blob[i]
        iv = blob[i + 1 : i + 1 + iv_len]
        i += 1 + iv_len
        mk_len = blob[i]
        mk = blob[i + 1 : i + 1 + mk_len]
        i += 1 + mk_len
        ck_len = blob[i]
        ck = blob[i + 1 : i + 1 + ck_len]
    except (ValueError, IndexError) as exc:
        raise BackupPasswordError(label, "wrong password for this Android backup (nothing was checked)") from exc
    if hashlib.pbkdf2_hmac("sha1", _java_utf8_mk(mk), ck_salt, rounds, 32) != ck:
        raise BackupPasswordError(label, "wrong password for this Android backup (nothing was checked)")
    try:
        return _aes_cbc_decrypt(mk, iv, parts[5])
    except ValueError as exc:
        raise InputError(label, f"cannot decrypt the backup data ({exc})") from exc


def tar_members(tar_bytes: bytes, label: str, wanted: tuple[str, ...]) -> dict[str, bytes]:
    """Regular files whose names start with one of `wanted`, read in memory (nothing is extracted)."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
            for m in tf:
                if m.isfile() and m.name.startswith(wanted):
                    fh = tf.extractfile(m)
                    if fh is not None:
                        out[m.name] = fh.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        if not out:
            raise InputError(label, f"the backup's archive is unreadable ({exc})") from exc
    return out
