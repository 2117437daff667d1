"""Pure parsers for what the censor reads on the wire: the TLS ClientHello's SNI and the HTTP Host.

No I/O; they take the bytes of one TCP segment and return a name or None, never raise on bad input.
"""

from __future__ import annotations

import struct


def client_hello_sni(data: bytes) -> str | None:
    """The server_name in a TLS ClientHello at the start of ``data`` (one record), else None."""
    try:
        return _sni(data)
    except (IndexError, struct.error, UnicodeDecodeError):
        return None


def _sni(data: bytes) -> str | None:
    # TLS record: type 22 (handshake), version, length; then handshake type 1 (ClientHello).
    if len(data) < 9 or data[0] != 22 or data[1] != 3 or data[5] != 1:
        return None
    record_len = struct.unpack_from("!H", data, 3)[0]
    body = data[5 : 5 + record_len]
    hs_len = int.from_bytes(body[1:4], "big")
    hello = body[4 : 4 + hs_len]
    pos = 2 + 32  # client_version, random
    pos += 1 + hello[pos]  # session_id
    pos += 2 + struct.unpack_from("!H", hello, pos)[0]  # cipher_suites
    pos += 1 + hello[pos]  # compression_methods
    if pos + 2 > len(hello):
        return None
    ext_end = pos + 2 + struct.unpack_from("!H", hello, pos)[0]
    pos += 2
    while pos + 4 <= min(ext_end, len(hello)):
        ext_type, ext_len = struct.unpack_from("!HH", hello, pos)
        pos += 4
        if ext_type == 0:  # server_name: list length, then (type, length, name) entries
            ext = hello[pos : pos + ext_len]
            lpos = 2
            list_end = min(2 + struct.unpack_from("!H", ext, 0)[0], len(ext))
            while lpos + 3 <= list_end:
                name_type = ext[lpos]
                name_len = struct.unpack_from("!H", ext, lpos + 1)[0]
                name = ext[lpos + 3 : lpos + 3 + name_len]
                if name_type == 0 and len(name) == name_len:
                    return name.decode("ascii").lower().rstrip(".")
                lpos += 3 + name_len
            return None
        pos += ext_len
    return None


def http_host(data: bytes) -> str | None:
    """The Host header of an HTTP/1.x request at the start of ``data``, lower-case, without port."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    if len(lines) < 2 or b" HTTP/1." not in lines[0]:
        return None
    for line in lines[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == b"host":
            try:
                host = value.strip().decode("ascii").lower()
            except UnicodeDecodeError:
                return None
            if host.startswith("["):
                return host.split("]", 1)[0] + "]"
            return host.split(":", 1)[0].rstrip(".") or None
    return None
