"""Links from a claim back to the measurements behind it."""

from __future__ import annotations

import re

# OONI API measurement uids: 20231002201514.987612_AZ_webconnectivity_1b2c3d4e5f6a7b8c
_OONI_UID = re.compile(r"^\d{14}\.\d{6}_[A-Z]{2}_[a-z_]+_[0-9a-f]{16}$")


def explorer_url(uid: str | None, report_id: str | None = None) -> str | None:
    """OONI Explorer's page for an OONI measurement (None for ours and synthetic ones)."""
    if not uid or not _OONI_UID.match(uid):
        return None
    if report_id and ("synthetic" in report_id or "ayiq" in report_id):
        return None
    return f"https://explorer.ooni.org/m/{uid}"
