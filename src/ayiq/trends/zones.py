"""The local time zone of a network, by country: schedules are read in the time people live by.

Countries spanning several zones get their capital's zone; `--tz` overrides. Unknown countries use UTC.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

COUNTRY_ZONES: dict[str, str] = {
    "AZ": "Asia/Baku",
    "AM": "Asia/Yerevan",
    "GE": "Asia/Tbilisi",
    "TR": "Europe/Istanbul",
    "IR": "Asia/Tehran",
    "RU": "Europe/Moscow",
    "BY": "Europe/Minsk",
    "UA": "Europe/Kyiv",
    "KZ": "Asia/Almaty",
    "UZ": "Asia/Tashkent",
    "TM": "Asia/Ashgabat",
    "PK": "Asia/Karachi",
    "MM": "Asia/Yangon",
    "CN": "Asia/Shanghai",
    "EG": "Africa/Cairo",
    "ET": "Africa/Addis_Ababa",
    "VE": "America/Caracas",
    "CU": "America/Havana",
}


def zone_for(country: str | None, override: str | None = None) -> str:
    """The IANA zone name for a country code (or the override, validated)."""
    name = override or COUNTRY_ZONES.get((country or "").upper(), "UTC")
    ZoneInfo(name)  # raises on an unknown zone name
    return name


def zone_case_sql(column: str = "probe_cc", override: str | None = None) -> str:
    """A SQL expression giving each row's zone name (constants only: no user text reaches the SQL)."""
    if override:
        ZoneInfo(override)
        return "'" + override.replace("'", "") + "'"
    whens = " ".join(f"WHEN '{cc}' THEN '{tz}'" for cc, tz in COUNTRY_ZONES.items())
    return f"(CASE upper({column}) {whens} ELSE 'UTC' END)"
