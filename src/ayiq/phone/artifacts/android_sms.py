"""SMS and MMS from an Android backup (com.android.providers.telephony): links in messages."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from ayiq.core.errors import InputError
from ayiq.phone.artifacts.base import Artifact, find_urls
from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.model import Alert, Record, TimelineEvent
from ayiq.phone.timeutil import from_unix

SMS_PREFIX = "apps/com.android.providers.telephony/d_f/"


def parse_sms_backup_file(name: str, data: bytes, label: str) -> list[Record]:
    """One `*_sms_backup` / `*_mms_backup` member: zlib-compressed JSON list of messages."""
    try:
        raw = zlib.decompressobj().decompress(data, 512 * 1024 * 1024)
        items = orjson.loads(raw)
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise InputError(label, f"{name}: not a compressed JSON message list ({exc})") from exc
    if not isinstance(items, list):
        raise InputError(label, f"{name}: not a message list")
    out: list[Record] = []
    mms = name.endswith("mms_backup")
    for it in items:
        if not isinstance(it, dict):
            continue
        body = it.get("mms_body" if mms else "body")
        out.append({"kind": "mms" if mms else "sms", "address": it.get("address") or it.get("recipients"),
                    "body": body if isinstance(body, str) else "", "links": find_urls(body),
                    "isodate": _time(it.get("date")), "sent_isodate": _time(it.get("date_sent")),
                    "type": it.get("type") or it.get("msg_box"), "read": it.get("read") == "1",
                    "source_file": name})
    return out


def _time(v: Any) -> str | None:
    try:
        n = int(v)
    except (TypeError, ValueError):
        return None
    return from_unix(n, unit=1000.0 if n > 1e11 else 1.0)


class AndroidSms(Artifact):
    name = "android_sms"
    title = "SMS and MMS (Android backup)"
    platform = "android"

    def records_from(self, source: Any) -> list[Record]:
        out: list[Record] = []
        for name, data in sorted(source.sms_members().items()):
            out += parse_sms_backup_file(name, data, source.info.path)
        return out

    def check(self, records: Sequence[Record], iocs: IocIndex) -> list[Alert]:
        out: list[Alert] = []
        for rec in records:
            out += self.check_urls(rec["links"], iocs, f"an {rec['kind'].upper()} contained the link", rec["isodate"],
                                   rec)
        return out

    def timeline(self, records: Sequence[Record]) -> list[TimelineEvent]:
        out: list[TimelineEvent] = []
        for rec in records:
            out += self.event(rec["isodate"], rec["kind"], f"{rec.get('address')}: {rec['body']}")
        return out
