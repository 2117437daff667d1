"""Events: interference around a calendar's dates against the days before them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ayiq.core.errors import InputError
from ayiq.trends.bins import Hourly
from ayiq.trends.events import event_effects, read_calendar
from ayiq.trends.synth import Truth


def test_event_at_an_onset_stands_out_and_a_quiet_day_does_not(tmp_path: Path, history: tuple[Path, Truth],
                                                               history_hourly: Hourly) -> None:
    _, truth = history
    onset = next(c for c in truth.changes if c.kind == "onset" and c.time.day > 20)
    quiet = truth.spec.start.date().replace(day=truth.spec.start.day + 20)
    cal = tmp_path / "cal.csv"
    cal.write_text(f"date,name\n{onset.time.date() + __import__('datetime').timedelta(days=1)},Rally\n"
                   f"{quiet},Quiet day\n")
    effects = event_effects(history_hourly, read_calendar(cal), before=0, after=2, baseline=14)
    hit = next(e for e in effects if e.event.name == "Rally" and e.key.target == onset.target
               and e.key.probe_asn == onset.probe_asn)
    assert hit.rate_event > 0.8 and hit.rate_baseline < 0.2 and hit.cliffs_delta == 1.0
    assert hit.p_value < 0.01
    j = hit.as_json()
    assert j["schema"] == "ayiq.trends.event" and j["test"].startswith("mann-whitney")
    clean = {(t, a) for t, _cc, a, kind in truth.series if kind == "clean"}
    quiet_clean = [e for e in effects if e.event.name == "Quiet day" and (e.key.target, e.key.probe_asn) in clean]
    assert quiet_clean and all(e.q_value > 0.05 for e in quiet_clean)


def test_calendar_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n2020-09-27,war\n")
    with pytest.raises(InputError, match="date,name"):
        read_calendar(bad)
    bad.write_text("date,name\n27/09/2020,war\n")
    with pytest.raises(InputError, match="line 2"):
        read_calendar(bad)
