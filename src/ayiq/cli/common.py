"""Options and helpers shared by command groups."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ayiq.core.errors import AyiqError

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="AYIQ_STORE", help="Store: a .duckdb file or a Parquet dataset folder."),
]


def parse_day(value: str | None, name: str) -> date | datetime | None:
    if value is None:
        return None
    try:
        if len(value) <= 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise AyiqError(f"{name} {value!r} is not a date (YYYY-MM-DD) or ISO 8601 time") from exc


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    raise TypeError


def json_line(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
