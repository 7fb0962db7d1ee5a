"""Properties of timetables over random schedules, time zones, start dates and clocks.

Start dates and clocks are drawn near the 2026 and 2027 daylight-saving changes of the
zones used as often as anywhere else, so most examples cross one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_helpers import FAR_FUTURE, MINUTE, cron, every, oracle_ticks, walk, wall_matcher

from headwater.scheduler import DataInterval, Timetable

EXPRESSIONS = [
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "0 2 * * *",
    "30 2 * * *",
    "30 1 * * 0",
    "45 23 * * *",
    "0 1-3 * * *",
    "*/15 * * * *",
    "*/7 2 * * *",
    "0,45 2-3 * * 1-5",
    "0 0 1,15 * 5",
]
ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",  # changes at midnight: daily 00:00 falls in the gap
    "Australia/Lord_Howe",  # 30-minute changes
    "Asia/Kolkata",  # +05:30, no daylight saving
]
CHANGES = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York spring
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Europe spring
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe autumn
    datetime(2026, 4, 5, 3, tzinfo=UTC),  # Santiago autumn
    datetime(2026, 9, 6, 4, tzinfo=UTC),  # Santiago spring
    datetime(2026, 10, 3, 15, tzinfo=UTC),  # Lord Howe spring
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Europe autumn
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York autumn
    datetime(2027, 3, 28, 1, tzinfo=UTC),  # Europe spring
]

expressions = st.sampled_from(EXPRESSIONS)
zones = st.sampled_from(ZONES).map(ZoneInfo)
near_a_change = st.builds(
    lambda change, minutes: change + timedelta(minutes=minutes),
    st.sampled_from(CHANGES),
    st.integers(min_value=-3 * 24 * 60, max_value=24 * 60),
)
anywhere = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
instants = st.one_of(near_a_change, anywhere)


def is_tick(instant: datetime, expression: str, tz: ZoneInfo) -> bool:
    """A tick is a matching wall-clock time, or the end of a gap that skipped one."""
    matches = wall_matcher(expression)
    wall = instant.astimezone(tz).replace(tzinfo=None)
    if matches(wall):
        return True
    before = (instant - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
    skipped = before.replace(second=0) + MINUTE
    while skipped < wall:
        if matches(skipped):
            return True
        skipped += MINUTE
    return False


@settings(max_examples=150, deadline=None)
@given(expression=expressions, tz=zones, start=instants)
def test_successive_intervals_are_contiguous_increasing_ticks(
    expression: str, tz: ZoneInfo, start: datetime
) -> None:
    timetable = Timetable(cron(expression, tz.key), start)
    intervals = walk(timetable, 40)
    assert intervals
    assert intervals[0].start >= start
    for interval, following in pairwise(intervals):
        assert interval.end == following.start
    for interval in intervals:
        assert interval.end > interval.start
        assert is_tick(interval.start, expression, tz)
    assert is_tick(intervals[-1].end, expression, tz)


@settings(max_examples=60, deadline=None)
@given(expression=expressions, tz=zones, start=instants)
def test_ticks_agree_with_the_oracle(expression: str, tz: ZoneInfo, start: datetime) -> None:
    start = start.replace(second=0, microsecond=0)
    end = start + timedelta(days=2)
    intervals = Timetable(cron(expression, tz.key), start).intervals_between(start, end)
    assert [i.start for i in intervals] == oracle_ticks(expression, tz, start, end)


@settings(max_examples=100, deadline=None)
@given(expression=expressions, tz=zones, start=instants)
def test_neighbours_are_the_adjacent_scheduled_intervals(
    expression: str, tz: ZoneInfo, start: datetime
) -> None:
    timetable = Timetable(cron(expression, tz.key), start)
    intervals = walk(timetable, 12)
    assert timetable.interval_before(intervals[0]) is None
    for interval, following in pairwise(intervals):
        assert timetable.interval_after(interval) == following
        assert timetable.interval_before(following) == interval


def latest_ended(intervals: list[DataInterval], now: datetime) -> DataInterval | None:
    ended = [i for i in intervals if i.end <= now]
    return ended[-1] if ended else None


@settings(max_examples=120, deadline=None)
@given(
    expression=expressions,
    tz=zones,
    start=instants,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
    earlier=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
)
def test_without_catchup_the_first_run_is_the_latest_ended_interval(
    expression: str, tz: ZoneInfo, start: datetime, later: timedelta, earlier: timedelta
) -> None:
    timetable = Timetable(cron(expression, tz.key), start)
    now = start + later - earlier
    horizon = timedelta(days=70 if expression == "@monthly" else 16)
    everything = timetable.intervals_between(start, max(start, now) + horizon)
    expected = latest_ended(everything, now) or everything[0]
    first = timetable.next_interval(None, now=now, catchup=False)
    assert first == expected
    with_catchup = timetable.next_interval(None, now=now, catchup=True)
    assert with_catchup == everything[0]
    # The run after it is the next interval: never one that has been skipped, never a gap.
    assert (
        timetable.next_interval(first, now=now, catchup=False)
        == everything[everything.index(expected) + 1]
    )


@settings(max_examples=150, deadline=None)
@given(
    seconds=st.floats(min_value=1.0, max_value=10 * 86400.0),
    start=instants,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
)
def test_fixed_intervals_are_an_anchored_grid(
    seconds: float, start: datetime, later: timedelta
) -> None:
    timetable = Timetable(every(seconds, "Europe/Paris"), start)
    step = timedelta(seconds=seconds)
    now = start + later
    latest = timetable.next_interval(None, now=now, catchup=False)
    assert latest is not None
    k = max((now - start) // step - 1, 0)
    assert latest == DataInterval(start + k * step, start + (k + 1) * step)
    assert latest.end <= now or k == 0
    following = timetable.next_interval(latest, now=FAR_FUTURE, catchup=True)
    assert following == DataInterval(latest.end, latest.end + step)
