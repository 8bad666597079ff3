"""Working-day clocks against the official calendar (policy/calendar.yaml)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cases import CHINA, Limit, WorkCalendar, add, due, iso
from tests.conftest import SEED_POLICY, runtime_for


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    policy = runtime_for(SEED_POLICY).policy
    assert policy.calendar is not None
    return WorkCalendar.of(policy.calendar)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def test_three_working_days_across_national_day_land_on_the_swapped_saturday(calendar: WorkCalendar) -> None:
    # 2026-10-01..07 off; Saturday 10-10 is worked for 国庆
    found = due(at("2026-09-30T10:00"), "3wd", calendar)
    assert iso(found.at) == "2026-10-10T10:00:00+08:00"
    assert not found.assumed


def test_a_limit_started_on_a_rest_day_runs_from_the_next_working_day(calendar: WorkCalendar) -> None:
    assert iso(due(at("2026-10-03T15:00"), "1wd", calendar).at) == "2026-10-09T00:00:00+08:00"
    assert iso(due(at("2026-11-07T15:00"), "2wd", calendar).at) == "2026-11-11T00:00:00+08:00"  # Saturday


def test_hours_and_minutes_are_elapsed_time_even_on_holidays(calendar: WorkCalendar) -> None:
    assert iso(due(at("2026-10-01T23:30"), "1h", calendar).at) == "2026-10-02T00:30:00+08:00"
    assert iso(due(at("2026-10-01T23:30"), "30min", calendar).at) == "2026-10-02T00:00:00+08:00"
    assert iso(due(at("2026-10-01T08:00"), "3d", calendar).at) == "2026-10-04T08:00:00+08:00"


def test_spring_festival_2026_and_its_two_worked_saturdays(calendar: WorkCalendar) -> None:
    assert calendar.is_working(date(2026, 2, 14)) and calendar.is_working(date(2026, 2, 28))
    assert not any(calendar.is_working(date(2026, 2, d)) for d in range(15, 24))
    assert iso(due(at("2026-02-13T09:00"), "2wd", calendar).at) == "2026-02-24T09:00:00+08:00"


def test_past_the_last_known_year_weekdays_count_and_the_answer_says_so(calendar: WorkCalendar) -> None:
    assert calendar.last == date(2026, 12, 31)
    found = due(at("2026-12-28T10:00"), "15wd", calendar)
    assert iso(found.at) == "2027-01-18T10:00:00+08:00"
    assert found.assumed
    inside = due(at("2026-12-21T10:00"), "5wd", calendar)
    assert not inside.assumed


def test_warning_share_of_a_working_day_limit(calendar: WorkCalendar) -> None:
    warn = add(at("2026-11-02T09:00"), Limit.parse("1wd"), calendar, 0.8)
    assert iso(warn.at) == "2026-11-03T04:12:00+08:00"


def test_bad_limits_are_refused() -> None:
    for text in ("3 wd", "wd", "-1h", "1w", ""):
        with pytest.raises(ValueError):
            Limit.parse(text)


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2004, 1, 1), max_value=datetime(2028, 12, 1)),
    days=st.integers(min_value=1, max_value=30),
)
def test_n_working_days_contain_exactly_n_days_of_working_time(calendar: WorkCalendar, start: datetime, days: int) -> None:
    """Independent count: walk the hours between start and due, summing working ones."""
    begin = start.replace(tzinfo=CHINA, second=0, microsecond=0)
    end = due(begin, f"{days}wd", calendar).at
    total = timedelta()
    moment = begin
    while moment < end:
        nxt = min(end, datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), CHINA))
        if calendar.is_working(moment.date()):
            total += nxt - moment
        moment = nxt
    assert total == timedelta(days=days)
    assert calendar.is_working((end - timedelta(microseconds=1)).date())
