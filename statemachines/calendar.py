"""England's working-day calendar for statutory clocks.

Working days are Monday to Friday except the bank holidays of England, substitute ("observed")
days included, as published by the ``holidays`` package (``country_holidays("GB", subdiv="ENG")``).
There is deliberately no hand-written holiday list here: a newly announced one-off bank holiday
arrives with a ``holidays`` upgrade.

Conventions (DOMAIN.md, "Deadlines"):

* ``add_working_days(start, n)``: day 0 is ``start`` itself (whatever day it is); the result is
  the n-th working day after it. ``add_working_days(d, 0) == d``.
* ``subtract_working_days(d, n)``: the n-th working day before ``d``.
* ``working_days_between(a, b)``: the number of working days ``w`` with ``a < w <= b`` (negative
  when ``b < a``), so that ``working_days_between(a, add_working_days(a, n)) == n``.
* ``add_months`` / ``add_years``: calendar arithmetic clamped to the end of the month
  (31 August + 6 months = 28 or 29 February; 29 February + 1 year = 28 February).

Every function is pure and thread-safe: holidays are looked up per year through an immutable,
cached ``frozenset``.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt
from functools import lru_cache

import holidays

__all__ = [
    "add_months",
    "add_working_days",
    "add_years",
    "bank_holidays",
    "is_working_day",
    "subtract_working_days",
    "working_days_between",
]

# Safety net against runaway loops on absurd inputs (about 400 years of working days).
_MAX_WORKING_DAYS = 100_000


@lru_cache(maxsize=256)
def _holidays_of_year(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def bank_holidays(year: int) -> frozenset[dt.date]:
    """England's bank holidays (substitute days included) of ``year``."""
    return _holidays_of_year(year)


def is_working_day(day: dt.date) -> bool:
    """True for Monday to Friday outside England's bank holidays."""
    return day.weekday() < 5 and day not in _holidays_of_year(day.year)


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("the number of working days must be an int")
    if abs(n) > _MAX_WORKING_DAYS:
        raise ValueError(f"too many working days: {n}")


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after ``start`` (day 0 is ``start``). Negative ``n`` goes back."""
    _check_n(n)
    if n < 0:
        return subtract_working_days(start, -n)
    day = start
    remaining = n
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def subtract_working_days(day: dt.date, n: int) -> dt.date:
    """The n-th working day before ``day`` (``subtract_working_days(d, 0) == d``)."""
    _check_n(n)
    if n < 0:
        return add_working_days(day, -n)
    remaining = n
    while remaining:
        day -= dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days ``w`` with ``start < w <= end``; negative (mirrored) when ``end < start``."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def add_months(start: dt.date, n: int) -> dt.date:
    """``start`` plus ``n`` calendar months, clamped to the last day of the target month."""
    month_index = start.year * 12 + (start.month - 1) + n
    year, month0 = divmod(month_index, 12)
    month = month0 + 1
    last_day = _stdlib_calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(start.day, last_day))


def add_years(start: dt.date, n: int) -> dt.date:
    """``start`` plus ``n`` years (29 February becomes 28 February in a common year)."""
    return add_months(start, 12 * n)
