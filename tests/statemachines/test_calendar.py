"""England's working-day calendar: bank holidays from ``holidays`` (ENG), day 0, months, years."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statemachines import calendar as wd

D = dt.date


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 12, 25),  # Christmas Day (Friday)
        D(2026, 12, 28),  # Boxing Day falls on Saturday 26th: substitute Monday 28th
        D(2027, 1, 1),  # New Year's Day
        D(2027, 3, 26),  # Good Friday 2027
        D(2027, 3, 29),  # Easter Monday 2027 (missing without subdiv="ENG")
        D(2027, 5, 3),  # Early May bank holiday
        D(2027, 5, 31),  # Spring bank holiday
        D(2027, 8, 30),  # Summer bank holiday (England only)
        D(2026, 5, 4),
        D(2026, 5, 25),
        D(2026, 8, 31),
    ],
)
def test_bank_holidays_of_england(day):
    assert not wd.is_working_day(day)
    assert day in wd.bank_holidays(day.year)


def test_weekends_and_ordinary_days():
    assert not wd.is_working_day(D(2026, 12, 26))  # Saturday
    assert not wd.is_working_day(D(2026, 12, 27))  # Sunday
    assert wd.is_working_day(D(2026, 12, 24))
    assert wd.is_working_day(D(2026, 12, 29))
    assert wd.is_working_day(D(2027, 3, 25))  # the Thursday before Good Friday


def test_day_zero_is_the_start_date():
    assert wd.add_working_days(D(2026, 12, 26), 0) == D(2026, 12, 26)  # even on a Saturday
    assert wd.add_working_days(D(2026, 12, 24), 1) == D(2026, 12, 29)  # skips 25, 26-27, 28
    assert wd.add_working_days(D(2026, 12, 21), 5) == D(2026, 12, 30)
    assert wd.add_working_days(D(2027, 3, 25), 1) == D(2027, 3, 30)  # over Easter 2027
    assert wd.add_working_days(D(2027, 4, 30), 1) == D(2027, 5, 4)  # over the early May holiday
    assert wd.add_working_days(D(2027, 8, 27), 1) == D(2027, 8, 31)  # over the August holiday
    assert wd.add_working_days(D(2026, 12, 30), 3) == D(2027, 1, 5)  # across the year end


def test_subtract_and_count():
    assert wd.subtract_working_days(D(2027, 4, 1), 7) == D(2027, 3, 19)
    assert wd.subtract_working_days(D(2026, 12, 29), 1) == D(2026, 12, 24)
    assert wd.subtract_working_days(D(2027, 6, 1), 1) == D(2027, 5, 28)  # Spring bank holiday 31 May
    assert wd.add_working_days(D(2027, 4, 1), -7) == D(2027, 3, 19)
    assert wd.working_days_between(D(2026, 12, 21), D(2026, 12, 30)) == 5
    assert wd.working_days_between(D(2026, 12, 30), D(2026, 12, 21)) == -5
    assert wd.working_days_between(D(2027, 8, 27), D(2027, 8, 31)) == 1


def test_months_and_years_clamp_to_month_end():
    assert wd.add_months(D(2026, 8, 31), 6) == D(2027, 2, 28)
    assert wd.add_months(D(2027, 8, 31), 6) == D(2028, 2, 29)  # leap year
    assert wd.add_months(D(2026, 10, 15), 6) == D(2027, 4, 15)
    assert wd.add_months(D(2026, 12, 31), 2) == D(2027, 2, 28)
    assert wd.add_years(D(2028, 2, 29), 1) == D(2029, 2, 28)
    assert wd.add_years(D(2027, 3, 1), 2) == D(2029, 3, 1)


def test_no_hand_written_holiday_list():
    source = Path(wd.__file__).read_text(encoding="utf-8")
    assert 'country_holidays("GB", subdiv="ENG"' in source
    assert "date(20" not in source and "12, 25" not in source


def test_bad_inputs():
    with pytest.raises(TypeError):
        wd.add_working_days(D(2027, 1, 4), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        wd.add_working_days(D(2027, 1, 4), 10**7)


days = st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31))


@given(start=days, n=st.integers(min_value=0, max_value=400))
def test_working_day_arithmetic_is_consistent(start, n):
    due = wd.add_working_days(start, n)
    assert wd.working_days_between(start, due) == n
    assert n == 0 or wd.is_working_day(due)
    assert due >= start
    back = wd.subtract_working_days(due, n)
    assert back <= start  # the n-th working day before due is the start or the last working day before it
    assert wd.working_days_between(back, due) == n


@given(start=days, n=st.integers(min_value=-60, max_value=60))
def test_add_months_stays_in_the_target_month(start, n):
    result = wd.add_months(start, n)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == n
    assert result.day == start.day or result.day < start.day and (result + dt.timedelta(days=1)).day == 1
