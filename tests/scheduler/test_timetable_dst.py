"""Cron schedules across daylight-saving changes.

In 2026 Europe/Paris springs forward on 29 March (02:00 CET -> 03:00 CEST: 02:xx does
not exist) and falls back on 25 October (03:00 CEST -> 02:00 CET: 02:xx happens twice).
America/New_York springs forward on 8 March (02:xx does not exist) and falls back on
1 November (01:xx happens twice). Australia/Lord_Howe moves by 30 minutes.

The rules (headwater/scheduler/_cron.py): a skipped wall-clock time fires when the gap
ends; a repeated one fires at its first pass, and also at its second when the hour
field covers all 24 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from scheduler_helpers import (
    DAY,
    HOUR,
    LORD_HOWE,
    NEW_YORK,
    PARIS,
    at,
    cron,
    local,
    oracle_ticks,
    span,
    walk,
)

from headwater.scheduler import DataInterval, Timetable


def timetable(expression: str, tz: ZoneInfo, start: datetime) -> Timetable:
    return Timetable(cron(expression, tz.key), start)


def assert_contiguous_and_positive(intervals: list[DataInterval]) -> None:
    for interval, following in pairwise(intervals):
        assert interval.end == following.start
    assert all(i.end > i.start for i in intervals)


def wall_clock(intervals: list[DataInterval], tz: ZoneInfo) -> list[str]:
    return [local(i.start, tz) for i in intervals]


# --------------------------------------------------------------------------- daily


def test_paris_daily_at_two_across_spring_forward() -> None:
    intervals = walk(timetable("0 2 * * *", PARIS, at(2026, 3, 27)), 4)
    assert wall_clock(intervals, PARIS) == [
        "2026-03-27T02:00:00+01:00",
        "2026-03-28T02:00:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00 does not exist: it fires when the gap ends
        "2026-03-30T02:00:00+02:00",  # and then back at 02:00
    ]
    assert [i.end - i.start for i in intervals] == [DAY, DAY, DAY - HOUR, DAY]
    assert_contiguous_and_positive(intervals)


def test_paris_daily_at_two_across_fall_back() -> None:
    intervals = walk(timetable("0 2 * * *", PARIS, at(2026, 10, 24)), 3)
    assert wall_clock(intervals, PARIS) == [
        "2026-10-24T02:00:00+02:00",
        "2026-10-25T02:00:00+02:00",  # the first 02:00 only: a daily run stays daily
        "2026-10-26T02:00:00+01:00",
    ]
    assert [i.end - i.start for i in intervals] == [DAY, DAY + HOUR, DAY]
    assert_contiguous_and_positive(intervals)


def test_new_york_daily_in_the_skipped_hour() -> None:
    intervals = walk(timetable("30 2 * * *", NEW_YORK, at(2026, 3, 7)), 3)
    assert wall_clock(intervals, NEW_YORK) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",  # 02:30 does not exist; the clocks jump at 02:00 to 03:00
        "2026-03-09T02:30:00-04:00",
    ]
    assert_contiguous_and_positive(intervals)


def test_new_york_daily_in_the_repeated_hour() -> None:
    intervals = walk(timetable("30 1 * * *", NEW_YORK, at(2026, 10, 31)), 3)
    assert wall_clock(intervals, NEW_YORK) == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",  # first pass of the repeated 01:30
        "2026-11-02T01:30:00-05:00",
    ]
    assert [i.end - i.start for i in intervals] == [DAY, DAY + HOUR, DAY]


def test_new_york_daily_at_two_keeps_its_wall_clock_time_on_fall_back() -> None:
    # New York repeats 01:xx, not 02:xx: 02:00 exists once and nothing moves.
    intervals = walk(timetable("0 2 * * *", NEW_YORK, at(2026, 10, 31)), 3)
    assert wall_clock(intervals, NEW_YORK) == [
        "2026-10-31T02:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-02T02:00:00-05:00",
    ]
    assert [i.end - i.start for i in intervals] == [DAY + HOUR, DAY, DAY]


def test_paris_midnight_daily_is_unaffected_and_covers_23_and_25_hour_days() -> None:
    spring = walk(timetable("@daily", PARIS, at(2026, 3, 29, tz=PARIS)), 1)[0]
    fall = walk(timetable("@daily", PARIS, at(2026, 10, 25, tz=PARIS)), 1)[0]
    assert spring == span(at(2026, 3, 29, tz=PARIS), at(2026, 3, 30, tz=PARIS))
    assert spring.end - spring.start == 23 * HOUR
    assert fall.end - fall.start == 25 * HOUR


# --------------------------------------------------------------------------- hourly


@pytest.mark.parametrize(
    ("tz", "day", "count"),
    [
        (PARIS, (2026, 3, 29), 23),
        (PARIS, (2026, 10, 25), 25),
        (NEW_YORK, (2026, 3, 8), 23),
        (NEW_YORK, (2026, 11, 1), 25),
    ],
)
def test_hourly_runs_once_per_real_hour(
    tz: ZoneInfo, day: tuple[int, int, int], count: int
) -> None:
    start = at(*day, tz=tz)
    intervals = timetable("@hourly", tz, start).intervals_between(start, start + 30 * HOUR)
    that_day = [i for i in intervals if i.start.astimezone(tz).date() == start.date()]
    assert len(that_day) == count
    assert all(i.end - i.start == HOUR for i in intervals)
    assert_contiguous_and_positive(intervals)


def test_paris_hourly_wall_clock_across_spring_forward() -> None:
    intervals = walk(timetable("@hourly", PARIS, at(2026, 3, 29, 0, tz=PARIS)), 4)
    assert wall_clock(intervals, PARIS) == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]


def test_paris_hourly_runs_both_passes_of_the_repeated_hour() -> None:
    intervals = walk(timetable("@hourly", PARIS, at(2026, 10, 25, 1, tz=PARIS)), 4)
    assert wall_clock(intervals, PARIS) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_named_hours_run_the_repeated_hour_once() -> None:
    intervals = walk(timetable("0 1-3 * * *", PARIS, at(2026, 10, 25, tz=PARIS)), 4)
    assert wall_clock(intervals, PARIS) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00",  # the second 02:00 is not a tick: 2 hours in this one
        "2026-10-26T01:00:00+01:00",
    ]
    assert [i.end - i.start for i in intervals[:3]] == [HOUR, 2 * HOUR, 22 * HOUR]


def test_quarter_hours_in_new_york_fall_back() -> None:
    start = at(2026, 11, 1, 0, 45, tz=NEW_YORK)
    end = start.astimezone(UTC) + 3 * HOUR  # three real hours (aware + timedelta is wall-clock)
    intervals = timetable("*/15 * * * *", NEW_YORK, start).intervals_between(start, end)
    assert len(intervals) == 12
    assert all(i.end - i.start == timedelta(minutes=15) for i in intervals)
    assert [local(i.start, NEW_YORK)[11:] for i in intervals[:7]] == [
        "00:45:00-04:00",
        "01:00:00-04:00",
        "01:15:00-04:00",
        "01:30:00-04:00",
        "01:45:00-04:00",
        "01:00:00-05:00",
        "01:15:00-05:00",
    ]


# ------------------------------------------------------------------ now inside a DST change


def test_without_catchup_now_in_the_second_pass_of_the_repeated_hour() -> None:
    hourly = timetable("@hourly", PARIS, at(2026, 10, 24, tz=PARIS))
    now = at(2026, 10, 25, 1, 30)  # 02:30 CET, the second pass
    latest = hourly.next_interval(None, now=now, catchup=False)
    assert latest == span(at(2026, 10, 25, 0), at(2026, 10, 25, 1))  # 02:00 CEST -> 02:00 CET
    daily = timetable("0 2 * * *", PARIS, at(2026, 10, 20, tz=PARIS))
    assert daily.next_interval(None, now=now, catchup=False) == span(
        at(2026, 10, 24, 0), at(2026, 10, 25, 0)
    )


def test_neighbours_across_the_repeated_hour() -> None:
    hourly = timetable("@hourly", PARIS, at(2026, 10, 24, tz=PARIS))
    second_pass = span(at(2026, 10, 25, 1), at(2026, 10, 25, 2))  # 02:00 CET -> 03:00 CET
    first_pass = span(at(2026, 10, 25, 0), at(2026, 10, 25, 1))
    assert hourly.interval_before(second_pass) == first_pass
    assert hourly.interval_after(first_pass) == second_pass


# --------------------------------------------------------------------------- against the oracle


CASES = [
    ("0 2 * * *", PARIS, (2026, 3, 28)),
    ("0 2 * * *", PARIS, (2026, 10, 24)),
    ("30 2 * * *", PARIS, (2026, 3, 28)),
    ("@hourly", PARIS, (2026, 3, 28)),
    ("@hourly", PARIS, (2026, 10, 24)),
    ("*/15 * * * *", PARIS, (2026, 3, 28)),
    ("*/15 * * * *", PARIS, (2026, 10, 24)),
    ("0 1-3 * * *", PARIS, (2026, 10, 24)),
    ("*/7 2 * * *", PARIS, (2026, 10, 24)),
    ("0,45 2-3 * * *", PARIS, (2026, 3, 28)),
    ("30 2 * * *", NEW_YORK, (2026, 3, 7)),
    ("30 1 * * *", NEW_YORK, (2026, 10, 31)),
    ("@hourly", NEW_YORK, (2026, 3, 7)),
    ("*/20 * * * *", NEW_YORK, (2026, 10, 31)),
    ("*/15 * * * *", LORD_HOWE, (2026, 4, 4)),
    ("*/15 * * * *", LORD_HOWE, (2026, 10, 3)),
    ("0 2 * * *", LORD_HOWE, (2026, 10, 3)),
    ("45 1 * * *", LORD_HOWE, (2026, 4, 4)),
]


@pytest.mark.parametrize(("expression", "tz", "day"), CASES)
def test_ticks_match_the_documented_rules(
    expression: str, tz: ZoneInfo, day: tuple[int, int, int]
) -> None:
    start = at(*day, tz=tz)
    end = start + 3 * DAY
    expected = oracle_ticks(expression, tz, start, end)
    intervals = timetable(expression, tz, start).intervals_between(start, end)
    assert [i.start for i in intervals] == expected
    assert_contiguous_and_positive(intervals)
