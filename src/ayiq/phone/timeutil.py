"""Apple, Unix and Android timestamps to one ISO 8601 UTC form; absurd values become None, not crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAC_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(" ", "microseconds")


def from_mac(value: object) -> str | None:
    """Seconds (or nanoseconds, iOS 11+ message tables) since 2001-01-01 UTC."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    if abs(v) > 1e14:  # nanoseconds
        v /= 1e9
    try:
        return iso(MAC_EPOCH + timedelta(seconds=v)) if v else None
    except OverflowError:
        return None


def from_unix(value: object, *, unit: float = 1.0) -> str | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not value:
        return None
    try:
        return iso(UNIX_EPOCH + timedelta(seconds=float(value) / unit))
    except OverflowError:
        return None


def from_any(value: object) -> str | None:
    """A datetime, or a number guessed as Unix seconds/ms (Manifest.db blobs use both)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_unix(value, unit=1000.0 if value > 1e11 else 1.0)
    return None
