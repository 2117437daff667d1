"""One account of an intimidation wave, as the case keeps it and the analysis reads it.

An account is given by a person who was called by the police **or who was not**: the identification analysis
(``ayiq case analyze``) needs both. Coded fields are kept apart from free text, so analysis and exports never
touch what people wrote in their own words. The CSV/XLSX/JSON batch schema (docs/formats/case-report.md) uses
these field names as its column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Tri(StrEnum):
    """A yes/no answer the person may not know or may not give."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class Attendance(StrEnum):
    ATTENDED = "attended"
    PASSED_BY = "passed_by"
    ELSEWHERE = "elsewhere"
    UNKNOWN = "unknown"


class SimOwner(StrEnum):
    SELF = "self"
    RELATIVE = "relative"
    OTHER = "other"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    SUMMONED = "summoned"
    FINED = "fined"
    DETAINED = "detained"
    NOTHING = "nothing"
    UNKNOWN = "unknown"


# Coded fields: the analysis reads these. Quasi-identifiers (checked for k-anonymity before any table leaves
# the case): precinct, home_precinct, carrier, age_band, occupation.
QUASI_IDENTIFIERS = ("precinct", "home_precinct", "carrier", "age_band", "occupation")
# Fields that identify a person: never in a redacted export, never in a published table.
IDENTIFYING_FIELDS = ("name", "phone_number", "caller_number")
# Free text: kept apart, never analysed, never in a redacted export.
FREE_TEXT_FIELDS = ("questions", "pretext", "notes")


@dataclass(frozen=True, slots=True)
class Report:
    """One person's account. ``called`` is False for people who were not called (then call fields are None)."""

    report_id: str
    called: bool
    call_time: datetime | None = None  # timezone-aware; when the call came
    precinct: str | None = None  # the police unit or precinct that called
    caller_number: str | None = None  # the number the call came from (identifying)
    carrier: str | None = None  # the person's mobile carrier, lower case: azercell, bakcell, nar, other
    sim_owner: SimOwner = SimOwner.UNKNOWN  # whose name the SIM is registered in
    home_precinct: str | None = None  # the precinct of the SIM owner's registered address
    attendance: Attendance = Attendance.UNKNOWN  # attended / passed by / was elsewhere
    distance_m: int | None = None  # how far from the square the person was at the time, if known
    phone_with_them: Tri = Tri.UNKNOWN
    phone_on: Tri = Tri.UNKNOWN
    photographed: Tri = Tri.UNKNOWN  # photographed or filmed
    posted: Tri = Tri.UNKNOWN  # posted about the rally in public
    known_activist: Tri = Tri.UNKNOWN  # a known activist or journalist
    outcome: Outcome = Outcome.UNKNOWN
    age_band: str | None = None  # e.g. "18-24", "25-34"
    occupation: str | None = None
    name: str | None = None  # identifying
    phone_number: str | None = None  # identifying
    free_text: dict[str, str] = field(default_factory=dict)  # keys from FREE_TEXT_FIELDS
    entered_at: datetime | None = None  # when the account was entered into the case
