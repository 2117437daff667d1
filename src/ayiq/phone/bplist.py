"""A small, bounds-checked binary-plist reader for one job: the file metadata inside each Manifest.db row.

plistlib decodes the whole NSKeyedArchiver graph (dozens of objects) to read six numbers; at 200,000 rows
that is most of a check's time. This reads only `$objects[1]`'s scalar values. Any surprise (XML plist,
odd marker, reference out of range) returns None and the caller falls back to the general, bounded path.
"""

from __future__ import annotations

import struct

_WANTED = frozenset({"Birth", "LastModified", "LastStatusChange", "Mode", "UserID", "Size", "ProtectionClass",
                     "Flags", "GroupID", "InodeNumber"})
MAX_ITEMS = 4096


class _Bad(Exception):
    pass


def manifest_file_metadata(blob: bytes) -> dict[str, int | float] | None:
    """The scalar fields of `$objects[1]` (the MBFile object), or None when the blob is not the usual shape."""
    try:
        return _read(blob)
    except (_Bad, struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
# keys are short ASCII strings: compare their raw encoding (marker 0x5n + bytes) instead of decoding
def _ascii_marker(name: str) -> bytes:
    n = len(name)
    return (bytes([0x50 | n]) if n < 15 else bytes([0x5F, 0x10, n])) + name.encode()


_RAW_KEYS = {_ascii_marker(k): k for k in _WANTED}
_RAW_OBJECTS = bytes([0x58]) + b"$objects"


_TRAILER = struct.Struct(">6xBBQQQ")
_DOUBLE = struct.Struct(">d").unpack_from
_FLOAT = struct.Struct(">f").unpack_from
_from_bytes = int.from_bytes
_STRUCTS: dict[tuple[int, str], struct.Struct] = {}  # compiled ">{n}{fmt}" formats (bounded: hostile sizes vary)


def _array(n: int, fmt: str) -> struct.Struct:
    st = _STRUCTS.get((n, fmt))
    if st is None:
        st = struct.Struct(f">{n}{fmt}")
        if len(_STRUCTS) < 256:
            _STRUCTS[(n, fmt)] = st
    return st


def _container(b: bytes, offsets: tuple[int, ...], i: int, kind: int, ref_size: int, table_off: int) -> tuple[int, int]:
    """(count, first ref position) of the array/dict object i."""
    pos = offsets[i]
    m = b[pos]
    if m >> 4 != kind:
        raise _Bad
    count = m & 0x0F
    start = pos + 1
    if count == 0x0F:
        lm = b[pos + 1]
        if lm >> 4 != 1 or (lm & 0x0F) > 3:
            raise _Bad
        size = 1 << (lm & 0x0F)
        count = _from_bytes(b[pos + 2 : pos + 2 + size], "big")
        start = pos + 2 + size
    if count > MAX_ITEMS or start + 2 * count * ref_size > table_off:
        raise _Bad
    return count, start


def _raw_key(b: bytes, pos: int) -> bytes:
    low = b[pos] & 0x0F
    if low == 0x0F and b[pos + 1] == 0x10:  # long ASCII key: one-byte length follows
        return b[pos : pos + 3 + b[pos + 2]]
    return b[pos : pos + 1 + low]


def _read(b: bytes) -> dict[str, int | float] | None:
    n = len(b)
    if n < 40 or b[:8] != b"bplist00":
        return None
    off_size, ref_size, num_objs, top, table_off = _TRAILER.unpack_from(b, n - 32)
    if off_size not in _FMT or ref_size not in _FMT or num_objs > n or top >= num_objs:
        raise _Bad
    if table_off + num_objs * off_size > n - 32:
        raise _Bad
    offsets: tuple[int, ...] = _array(num_objs, _FMT[off_size]).unpack_from(b, table_off)
    rfmt = _FMT[ref_size]
    count, start = _container(b, offsets, top, 0xD, ref_size, table_off)
    refs = _array(2 * count, rfmt).unpack_from(b, start)
    objects_ref = None
    for j in range(count):
        if _raw_key(b, offsets[refs[j]]) == _RAW_OBJECTS:
            objects_ref = refs[count + j]
            break
    if objects_ref is None:
        return None
    acount, astart = _container(b, offsets, objects_ref, 0xA, ref_size, table_off)
    if acount < 2:
        return None
    meta_ref = _array(2, rfmt).unpack_from(b, astart)[1]
    count, start = _container(b, offsets, meta_ref, 0xD, ref_size, table_off)
    refs = _array(2 * count, rfmt).unpack_from(b, start)
    out: dict[str, int | float] = {}
    keys = _RAW_KEYS
    for j in range(count):
        name = keys.get(_raw_key(b, offsets[refs[j]]))
        if name is None:
            continue
        pos = offsets[refs[count + j]]
        m = b[pos]
        if m >> 4 == 0x1:
            size = 1 << (m & 0x0F)
            if size > 16:
                raise _Bad
            out[name] = _from_bytes(b[pos + 1 : pos + 1 + size], "big", signed=size >= 8)
        elif m == 0x23 or m == 0x33:
            out[name] = float(_DOUBLE(b, pos + 1)[0])
        elif m == 0x22:
            out[name] = float(_FLOAT(b, pos + 1)[0])
    return out
