"""Timetables: which data intervals get scheduled runs, and when each becomes due.

Expected intervals are written out by hand. Every call passes ``now``; nothing reads
the clock.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from scheduler_helpers import (
    DAY,
    FAR_FUTURE,
    HOUR,
    ONCE,
    PARIS,
    at,
    cron,
    every,
    span,
    walk,
)

from headwater import component, pipeline
from headwater.errors import SpecError
from headwater.scheduler import DataInterval, Timetable
from headwater.spec import ScheduleSpec

JAN_1 = at(2026, 1, 1)


def daily(start: datetime = JAN_1, end: datetime | None = None) -> Timetable:
    return Timetable(cron("@daily"), start, end)


def day(d: int) -> DataInterval:
    """The UTC day January ``d`` 2026 (a day past the 31st runs into February)."""
    return span(JAN_1 + (d - 1) * DAY, JAN_1 + d * DAY)


# --------------------------------------------------------------------------- DataInterval


def test_data_interval_is_stored_in_utc_and_named_by_its_start() -> None:
    interval = DataInterval(at(2026, 3, 1, tz=PARIS), at(2026, 3, 2, tz=PARIS))
    assert interval.start == at(2026, 2, 28, 23)
    assert interval.start.tzinfo is UTC and interval.end.tzinfo is UTC
    assert interval.logical_date == interval.start


def test_data_interval_refuses_naive_times_and_negative_widths() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        DataInterval(datetime(2026, 1, 1), JAN_1)
    with pytest.raises(ValueError, match="is before its start"):
        DataInterval(JAN_1, JAN_1 - timedelta(microseconds=1))
    assert DataInterval(JAN_1, JAN_1).end == JAN_1  # an instant: @once and manual runs


def test_data_interval_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        day(1).start = JAN_1  # type: ignore[misc]


# --------------------------------------------------------------------------- cron presets


@pytest.mark.parametrize(
    ("preset", "first", "second"),
    [
        (
            "@hourly",
            span(at(2026, 1, 1, 1), at(2026, 1, 1, 2)),
            span(at(2026, 1, 1, 2), at(2026, 1, 1, 3)),
        ),
        ("@daily", span(at(2026, 1, 2), at(2026, 1, 3)), span(at(2026, 1, 3), at(2026, 1, 4))),
        ("@midnight", span(at(2026, 1, 2), at(2026, 1, 3)), span(at(2026, 1, 3), at(2026, 1, 4))),
        # 2026-01-01 is a Thursday; @weekly runs on Sundays.
        ("@weekly", span(at(2026, 1, 4), at(2026, 1, 11)), span(at(2026, 1, 11), at(2026, 1, 18))),
        ("@monthly", span(at(2026, 2, 1), at(2026, 3, 1)), span(at(2026, 3, 1), at(2026, 4, 1))),
        ("@yearly", span(at(2027, 1, 1), at(2028, 1, 1)), span(at(2028, 1, 1), at(2029, 1, 1))),
        ("@annually", span(at(2027, 1, 1), at(2028, 1, 1)), span(at(2028, 1, 1), at(2029, 1, 1))),
    ],
)
def test_presets_start_at_the_first_tick_after_start_date(
    preset: str, first: DataInterval, second: DataInterval
) -> None:
    timetable = Timetable(cron(preset), at(2026, 1, 1, 0, 30))
    assert walk(timetable, 2) == [first, second]


def test_a_start_date_on_a_tick_is_the_first_interval_start() -> None:
    assert walk(daily(), 3) == [day(1), day(2), day(3)]


def test_cron_ticks_are_wall_clock_times_in_the_schedule_time_zone() -> None:
    timetable = Timetable(cron("0 3 * * *", "Europe/Paris"), at(2026, 1, 1))
    first, second = walk(timetable, 2)
    assert first == span(at(2026, 1, 1, 3, tz=PARIS), at(2026, 1, 2, 3, tz=PARIS))
    assert first.start == at(2026, 1, 1, 2)  # 03:00 in Paris in winter is 02:00 UTC
    assert second.start == first.end


def test_a_cron_that_never_matches_has_no_intervals() -> None:
    timetable = Timetable(cron("0 0 30 2 *"), JAN_1)  # February 30th
    assert timetable.next_interval(None, now=FAR_FUTURE, catchup=True) is None
    assert timetable.next_interval(None, now=FAR_FUTURE, catchup=False) is None
    assert timetable.intervals_between(JAN_1, FAR_FUTURE) == []


# --------------------------------------------------------------------------- due


def test_a_run_is_due_when_its_interval_ends() -> None:
    timetable = daily()
    first = timetable.next_interval(None, now=at(2026, 1, 1, 12), catchup=True)
    assert first == day(1)  # known before it is due, so the scheduler can sleep until its end
    assert not timetable.due(day(1), now=at(2026, 1, 1, 23, 59) + timedelta(seconds=59))
    assert timetable.due(day(1), now=at(2026, 1, 2))
    assert timetable.due(day(1), now=at(2026, 1, 9))


# --------------------------------------------------------------------------- catchup


def test_catchup_creates_every_missed_interval_oldest_first() -> None:
    timetable = daily()
    now = at(2026, 1, 5, 12)
    created: list[DataInterval] = []
    last = None
    while (nxt := timetable.next_interval(last, now=now, catchup=True)) is not None:
        if not timetable.due(nxt, now=now):
            break
        created.append(nxt)
        last = nxt
    assert created == [day(1), day(2), day(3), day(4)]
    assert nxt == day(5)  # next, not yet due


def test_without_catchup_the_first_run_is_the_latest_ended_interval() -> None:
    timetable = daily()
    first = timetable.next_interval(None, now=at(2026, 1, 5, 12), catchup=False)
    assert first == day(4)
    assert timetable.next_interval(first, now=at(2026, 1, 5, 12), catchup=False) == day(5)


def test_without_catchup_now_on_a_boundary_counts_the_interval_ending_there() -> None:
    assert daily().next_interval(None, now=at(2026, 1, 5), catchup=False) == day(4)


@pytest.mark.parametrize("now", [at(2025, 12, 1), JAN_1, at(2026, 1, 1, 12)])
def test_without_catchup_before_any_interval_ended_the_first_is_next(now: datetime) -> None:
    timetable = daily()
    assert timetable.next_interval(None, now=now, catchup=False) == day(1)
    assert not timetable.due(day(1), now=now)


def test_after_an_outage_catchup_resumes_where_it_stopped_and_no_catchup_skips() -> None:
    timetable = daily()
    now = at(2026, 1, 10, 6)
    assert timetable.next_interval(day(1), now=now, catchup=True) == day(2)
    assert timetable.next_interval(day(1), now=now, catchup=False) == day(9)


def test_without_catchup_a_clock_behind_the_last_run_never_goes_back() -> None:
    timetable = daily()
    assert timetable.next_interval(day(9), now=at(2026, 1, 5), catchup=False) == day(10)


def test_intervals_handed_back_are_normalised_to_utc() -> None:
    paris_day = DataInterval(at(2026, 1, 2, 1, tz=PARIS), at(2026, 1, 3, 1, tz=PARIS))
    assert paris_day == day(2)
    assert daily().next_interval(paris_day, now=FAR_FUTURE, catchup=True) == day(3)


# --------------------------------------------------------------------------- start and end dates


def test_start_date_between_ticks_starts_at_the_next_tick() -> None:
    timetable = daily(start=at(2026, 1, 1, 0, 0) + timedelta(microseconds=1))
    assert walk(timetable, 1) == [day(2)]


def test_a_start_date_moved_past_the_last_run_restarts_at_the_new_start() -> None:
    timetable = daily(start=at(2026, 1, 10))
    assert timetable.next_interval(day(2), now=FAR_FUTURE, catchup=True) == day(10)


def test_end_date_allows_no_interval_starting_at_or_after_it() -> None:
    timetable = daily(end=at(2026, 1, 4))
    assert walk(timetable, 10) == [day(1), day(2), day(3)]
    assert timetable.next_interval(day(3), now=FAR_FUTURE, catchup=False) is None


def test_the_last_interval_may_end_after_end_date() -> None:
    timetable = daily(end=at(2026, 1, 4, 12))
    assert walk(timetable, 10) == [day(1), day(2), day(3), day(4)]


def test_without_catchup_a_past_end_date_gives_its_last_interval_once() -> None:
    timetable = daily(end=at(2026, 1, 4))
    first = timetable.next_interval(None, now=at(2026, 6, 1), catchup=False)
    assert first == day(3)
    assert timetable.next_interval(first, now=at(2026, 6, 1), catchup=False) is None


def test_dates_given_in_any_zone_are_kept_in_utc() -> None:
    timetable = daily(start=at(2026, 1, 1, 1, tz=PARIS))  # midnight UTC
    assert timetable.start_date == JAN_1 and timetable.start_date.tzinfo is UTC
    assert walk(timetable, 1) == [day(1)]


# --------------------------------------------------------------------------- schedule changes


def test_an_interval_from_an_older_schedule_is_bridged_to_the_new_one() -> None:
    # The last run came from an hourly schedule; the pipeline is now daily. The next
    # interval covers the rest of the day, so no hour is skipped or processed twice.
    timetable = daily()
    hourly_run = span(at(2026, 1, 5, 10), at(2026, 1, 5, 11))
    bridge = timetable.next_interval(hourly_run, now=FAR_FUTURE, catchup=True)
    assert bridge == span(at(2026, 1, 5, 11), at(2026, 1, 6))
    assert timetable.next_interval(bridge, now=FAR_FUTURE, catchup=True) == day(6)


def test_without_catchup_an_old_bridge_is_skipped_like_any_interval() -> None:
    hourly_run = span(at(2026, 1, 5, 10), at(2026, 1, 5, 11))
    assert daily().next_interval(hourly_run, now=at(2026, 1, 9, 3), catchup=False) == day(8)


def test_no_bridge_starts_at_or_after_end_date() -> None:
    timetable = daily(end=at(2026, 1, 5, 10))
    hourly_run = span(at(2026, 1, 5, 10), at(2026, 1, 5, 11))
    assert timetable.next_interval(hourly_run, now=FAR_FUTURE, catchup=True) is None


# --------------------------------------------------------------------------- interval schedules


def test_fixed_intervals_are_anchored_at_start_date() -> None:
    timetable = Timetable(every(6 * 3600), at(2026, 1, 1, 5))
    assert walk(timetable, 3) == [
        span(at(2026, 1, 1, 5), at(2026, 1, 1, 11)),
        span(at(2026, 1, 1, 11), at(2026, 1, 1, 17)),
        span(at(2026, 1, 1, 17), at(2026, 1, 1, 23)),
    ]


def test_fixed_intervals_without_catchup_stay_on_the_anchored_grid() -> None:
    timetable = Timetable(every(6 * 3600), at(2026, 1, 1, 5))
    first = timetable.next_interval(None, now=at(2026, 1, 2, 12, 30), catchup=False)
    assert first == span(at(2026, 1, 2, 5), at(2026, 1, 2, 11))


def test_fixed_intervals_are_real_time_across_daylight_saving() -> None:
    # 2026-03-29 in Paris has 23 hours; six-hour intervals stay six real hours long.
    timetable = Timetable(every(6 * 3600, "Europe/Paris"), at(2026, 3, 28, 0, tz=PARIS))
    intervals = walk(timetable, 9)
    assert all(i.end - i.start == 6 * HOUR for i in intervals)
    # Two days of real time after 00:00 CET on the 28th is 01:00 CEST on the 30th.
    assert intervals[8].start == at(2026, 3, 30, 1, tz=PARIS)


def test_fractional_seconds_are_kept() -> None:
    timetable = Timetable(every(1.5), JAN_1)
    assert walk(timetable, 2) == [
        span(JAN_1, JAN_1 + timedelta(seconds=1.5)),
        span(JAN_1 + timedelta(seconds=1.5), JAN_1 + timedelta(seconds=3)),
    ]


def test_fixed_intervals_bridge_an_unaligned_previous_interval() -> None:
    timetable = Timetable(every(3600), JAN_1)
    old = span(at(2026, 1, 1, 4), at(2026, 1, 1, 4, 20))
    assert timetable.next_interval(old, now=FAR_FUTURE, catchup=True) == span(
        at(2026, 1, 1, 4, 20), at(2026, 1, 1, 5)
    )


# --------------------------------------------------------------------------- @once


def test_once_is_one_instant_due_from_start_date() -> None:
    start = at(2026, 1, 1, 9)
    timetable = Timetable(ONCE, start)
    only = timetable.next_interval(None, now=at(2025, 12, 31), catchup=True)
    assert only == span(start, start)
    assert only.logical_date == start
    assert not timetable.due(only, now=start - timedelta(microseconds=1))
    assert timetable.due(only, now=start)
    assert timetable.next_interval(only, now=FAR_FUTURE, catchup=True) is None


def test_once_runs_however_late_the_scheduler_first_looks() -> None:
    timetable = Timetable(ONCE, JAN_1)
    for catchup in (True, False):
        assert timetable.next_interval(None, now=at(2030, 1, 1), catchup=catchup) == span(
            JAN_1, JAN_1
        )


def test_once_is_over_after_any_scheduled_run() -> None:
    timetable = Timetable(ONCE, JAN_1)
    assert timetable.next_interval(day(3), now=FAR_FUTURE, catchup=True) is None


def test_once_in_backfills_and_neighbours() -> None:
    timetable = Timetable(ONCE, at(2026, 1, 2))
    assert timetable.intervals_between(JAN_1, at(2026, 1, 3)) == [
        span(at(2026, 1, 2), at(2026, 1, 2))
    ]
    assert timetable.intervals_between(at(2026, 1, 2), at(2026, 1, 2, 0, 1)) == [
        span(at(2026, 1, 2), at(2026, 1, 2))
    ]
    assert timetable.intervals_between(JAN_1, at(2026, 1, 2)) == []
    assert timetable.intervals_between(at(2026, 1, 2, 0, 1), at(2026, 1, 3)) == []
    assert timetable.interval_before(span(at(2026, 1, 2), at(2026, 1, 2))) is None
    assert timetable.interval_after(span(at(2026, 1, 2), at(2026, 1, 2))) is None


# --------------------------------------------------------------------------- backfills


def test_backfill_lists_every_interval_starting_in_the_range() -> None:
    assert daily().intervals_between(JAN_1, at(2026, 1, 5)) == [day(1), day(2), day(3), day(4)]


def test_backfill_range_need_not_be_aligned() -> None:
    assert daily().intervals_between(at(2026, 1, 1, 12), at(2026, 1, 4, 0, 1)) == [
        day(2),
        day(3),
        day(4),
    ]


def test_backfill_ignores_now_and_keeps_the_timetable_window() -> None:
    timetable = daily(start=at(2026, 1, 3), end=at(2026, 1, 6))
    assert timetable.intervals_between(at(2025, 1, 1), FAR_FUTURE) == [day(3), day(4), day(5)]
    assert timetable.intervals_between(at(2026, 1, 4), at(2026, 1, 4)) == []
    assert timetable.intervals_between(at(2026, 1, 5), at(2026, 1, 4)) == []


def test_backfill_of_fixed_intervals() -> None:
    timetable = Timetable(every(8 * 3600), at(2026, 1, 1, 2))
    assert [i.start.hour for i in timetable.intervals_between(JAN_1, at(2026, 1, 2, 3))] == [
        2,
        10,
        18,
        2,
    ]


# --------------------------------------------------------------------------- neighbours


def test_neighbours_of_a_regular_interval() -> None:
    timetable = daily(end=at(2026, 1, 10))
    assert timetable.interval_before(day(5)) == day(4)
    assert timetable.interval_after(day(5)) == day(6)
    assert timetable.interval_before(day(1)) is None
    assert timetable.interval_after(day(9)) is None


def test_neighbours_of_an_instant_are_the_regular_intervals_around_it() -> None:
    timetable = Timetable(cron("@hourly"), JAN_1)
    manual = span(at(2026, 1, 1, 10, 17), at(2026, 1, 1, 10, 17))
    assert timetable.interval_before(manual) == span(at(2026, 1, 1, 9), at(2026, 1, 1, 10))
    assert timetable.interval_after(manual) == span(at(2026, 1, 1, 11), at(2026, 1, 1, 12))


# --------------------------------------------------------------------------- building one


@component
def tick() -> None:
    pass


def test_a_timetable_for_a_compiled_pipeline() -> None:
    @pipeline(
        schedule="0 6 * * *",
        timezone="Europe/Paris",
        start_date="2026-01-01",
        end_date="2026-01-03",
    )
    def morning() -> None:
        tick()

    timetable = Timetable.for_pipeline(morning.compile())
    assert timetable.timezone.key == "Europe/Paris"
    assert walk(timetable, 5) == [
        span(at(2026, 1, 1, 6, tz=PARIS), at(2026, 1, 2, 6, tz=PARIS)),
        span(at(2026, 1, 2, 6, tz=PARIS), at(2026, 1, 3, 6, tz=PARIS)),
    ]


def test_a_pipeline_without_start_date_needs_a_default() -> None:
    @pipeline(schedule=timedelta(hours=1))
    def hourly() -> None:
        tick()

    spec = hourly.compile()
    with pytest.raises(SpecError, match="has a schedule but no start_date"):
        Timetable.for_pipeline(spec)
    deployed = at(2026, 2, 1, 10, 30)
    timetable = Timetable.for_pipeline(spec, default_start_date=deployed)
    assert walk(timetable, 1) == [span(deployed, deployed + HOUR)]


def test_a_pipeline_without_schedule_has_no_timetable() -> None:
    @pipeline
    def by_hand() -> None:
        tick()

    with pytest.raises(SpecError, match="not scheduled on time") as info:
        Timetable.for_pipeline(by_hand.compile(), default_start_date=JAN_1)
    assert "cron, interval or @once" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (cron("0 3 * * *", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (cron("61 * * * *"), "invalid schedule '61 \\* \\* \\* \\*'"),
        (cron("0 0 3 * * *"), "expected 5 cron fields"),
        (cron("@fortnightly"), "invalid schedule '@fortnightly'"),
    ],
)
def test_a_broken_schedule_is_a_spec_error(schedule: ScheduleSpec, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Timetable(schedule, JAN_1)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"start_date .* has no time zone"):
        Timetable(cron("@daily"), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match=r"now .* has no time zone"):
        daily().next_interval(None, now=datetime(2026, 1, 1), catchup=True)
    with pytest.raises(ValueError, match=r"now .* has no time zone"):
        daily().due(day(1), now=datetime(2026, 1, 1))
