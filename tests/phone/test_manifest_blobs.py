"""The targeted Manifest.db metadata reader: plistlib's values on real rows, never an exception on hostile ones."""

from __future__ import annotations

import plistlib
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ayiq.phone.bplist import _WANTED, manifest_file_metadata


def _blobs(mvt: Path) -> list[bytes]:
    con = sqlite3.connect(f"file:{mvt / 'ios_backup' / 'Manifest.db'}?mode=ro&immutable=1", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT file FROM Files WHERE file IS NOT NULL")]
    finally:
        con.close()


def test_same_values_as_plistlib_on_every_row(mvt: Path) -> None:
    blobs = _blobs(mvt)
    assert len(blobs) > 3000
    for blob in blobs:
        want = {k: v for k, v in plistlib.loads(blob)["$objects"][1].items() if k in _WANTED}
        assert manifest_file_metadata(blob) == want


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_rows_never_raise(mvt: Path, data: st.DataObject) -> None:
    blobs = _blobs(mvt)
    blob = bytearray(data.draw(st.sampled_from(blobs[:50])))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    for candidate in (bytes(blob), bytes(blob[:cut])):
        got = manifest_file_metadata(candidate)
        assert got is None or all(isinstance(v, int | float) for v in got.values())
