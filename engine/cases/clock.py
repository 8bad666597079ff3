"""Working-day clocks: when a time limit started at some moment falls due, in China time.

Contract:
- `"30min"`, `"1h"`, `"3d"` are elapsed time; `"3wd"` is three working days of elapsed
  working time: a working day counts all its 24 hours, a holiday or weekend counts none.
  So a limit started on a working day at 10:00 falls due at 10:00 on the third working day
  after it (2026-09-30T10:00 + 3wd → 2026-10-10T10:00, the Saturday worked for 国庆), and
  one started on a rest day runs from the next working day's 00:00.
- Working days come from the policy's calendar (`calendar:` — each year's 放假调休 schedule).
  Days outside its known years are Monday–Friday; a due time that needed such a day is
  marked `assumed`, never refused.
- Pure: no clock is read here; the caller passes the moments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from engine.policy.model import Calendar

# China has kept UTC+8 without daylight saving since 1991.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY = timedelta(days=1)
_LIMIT = re.compile(r"^(\d+)(min|h|d|wd)$")
Unit = Literal["min", "h", "d", "wd"]
_ELAPSED = {"min": timedelta(minutes=1), "h": timedelta(hours=1), "d": DAY}


@dataclass(frozen=True)
class Limit:
    """A time limit as the policy writes it: an amount and a unit."""

    amount: int
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Limit:
        """`"3wd"` → Limit(3, "wd"). Raises ValueError for anything else."""
        match = _LIMIT.match(text)
        if match is None:
            raise ValueError(f"`{text}` is not a time limit (write 30min, 1h, 3d or 5wd)")
        return cls(int(match.group(1)), match.group(2))  # type: ignore[arg-type]

    @property
    def working(self) -> bool:
        return self.unit == "wd"

    def length(self) -> timedelta:
        """Elapsed time, or for working days the working time (24 h per working day)."""
        return self.amount * (DAY if self.working else _ELAPSED[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days. Built from the policy's `calendar:` section."""

    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days worked (调休上班)
    first: date
    last: date

    @classmethod
    def of(cls, calendar: Calendar) -> WorkCalendar:
        holidays: set[date] = set()
        for year in calendar.years:
            for span in year.holidays:
                day = span.from_
                while day <= span.to:
                    holidays.add(day)
                    day += DAY
        workdays = {w.date for year in calendar.years for w in year.workdays}
        years = [y.year for y in calendar.years]
        return cls(frozenset(holidays), frozenset(workdays), date(min(years), 1, 1), date(max(years), 12, 31))

    @classmethod
    def weekdays_only(cls) -> WorkCalendar:
        """No known year: every day is Monday–Friday reckoning (and marked assumed)."""
        return cls(frozenset(), frozenset(), date.max, date.min)

    def known(self, day: date) -> bool:
        return self.first <= day <= self.last

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


@dataclass(frozen=True)
class Due:
    """When a limit falls due; `assumed` when a day past the calendar's years was counted."""

    at: datetime
    assumed: bool = False


def china_time(moment: datetime) -> datetime:
    """A moment in China time; a naive one is taken to be China time already."""
    return moment.replace(tzinfo=CHINA) if moment.tzinfo is None else moment.astimezone(CHINA)


def add(start: datetime, limit: Limit, calendar: WorkCalendar, share: float = 1.0) -> Due:
    """The moment `share` of `limit` has run from `start` (1.0: the due time)."""
    length = limit.length() * share
    if not limit.working:
        return Due(china_time(start) + length)
    return add_working(start, length, calendar)


def add_working(start: datetime, length: timedelta, calendar: WorkCalendar) -> Due:
    """`start` plus `length` of working time (the earliest such moment)."""
    moment = china_time(start)
    day = moment.date()
    remaining = length
    assumed = False
    while True:
        assumed = assumed or not calendar.known(day)
        next_midnight = datetime.combine(day + DAY, time(0), CHINA)
        if calendar.is_working(day):
            available = next_midnight - moment
            if remaining <= available:
                return Due(moment + remaining, assumed)
            remaining -= available
        day += DAY
        moment = next_midnight


def due(start: datetime, limit: str | Limit, calendar: WorkCalendar) -> Due:
    """The due time of `limit` started at `start` — the one function cases and the CLI use."""
    return add(start, limit if isinstance(limit, Limit) else Limit.parse(limit), calendar)


def iso(moment: datetime) -> str:
    """China time, ISO 8601 with its offset, to the second: `2026-10-10T10:00:00+08:00`."""
    return china_time(moment).isoformat(timespec="seconds")
