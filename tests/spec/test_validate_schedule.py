"""Scheduling metadata: cron strings, presets, time zones and the start/end window."""

from __future__ import annotations

import pytest
from markers import assert_location, compile_error, line_of, only_problem

from headwater import component, pipeline
from headwater.errors import HeadwaterError

HERE = __file__


@component
def tick() -> None:
    pass


def test_cron_field_out_of_range() -> None:
    @pipeline(schedule="61 * * * *")  # mark: minute-61
    def minute_61() -> None:
        tick()

    problem = only_problem(compile_error(minute_61), "invalid_schedule")
    assert_location(
        problem, pipeline="minute_61", task=None, file=HERE, line=line_of("minute-61", HERE)
    )
    assert problem.message.startswith("invalid schedule '61 * * * *'")
    assert "'0 3 * * *'" in (problem.hint or "")


def test_cron_with_too_few_fields() -> None:
    @pipeline(schedule="* * *")  # mark: three-fields
    def three_fields() -> None:
        tick()

    problem = only_problem(compile_error(three_fields), "invalid_schedule")
    assert_location(
        problem, pipeline="three_fields", task=None, file=HERE, line=line_of("three-fields", HERE)
    )
    assert "expected 5 fields (minute hour day month weekday), got 3" in problem.message


def test_unknown_preset() -> None:
    @pipeline(schedule="@fortnightly")  # mark: fortnightly
    def fortnightly() -> None:
        tick()

    problem = only_problem(compile_error(fortnightly), "invalid_schedule")
    assert_location(
        problem, pipeline="fortnightly", task=None, file=HERE, line=line_of("fortnightly", HERE)
    )
    assert "unknown preset '@fortnightly'" in problem.message
    assert "'@daily'" in (problem.hint or "")


@pytest.mark.parametrize("schedule", ["0 3 * * *", "*/15 * * * 1-5", "@daily", "@hourly", "@once"])
def test_good_schedules_compile(schedule: str) -> None:
    @pipeline(schedule=schedule, timezone="Europe/Paris")
    def scheduled() -> None:
        tick()

    spec = scheduled.compile()
    assert spec.schedule is not None
    assert spec.schedule.timezone == "Europe/Paris"


def test_unknown_time_zone() -> None:
    @pipeline(schedule="@daily", timezone="Mars/Olympus")  # mark: bad-tz
    def bad_tz() -> None:
        tick()

    problem = only_problem(compile_error(bad_tz), "invalid_timezone")
    assert_location(problem, pipeline="bad_tz", task=None, file=HERE, line=line_of("bad-tz", HERE))
    assert "unknown time zone 'Mars/Olympus'" in problem.message
    assert "Europe/Paris" in (problem.hint or "")


def test_unknown_time_zone_is_named_when_it_only_dates_the_start() -> None:
    # Without a schedule the time zone still places start_date; a typo in it must be
    # reported as such, not as a start_date "without a time zone". Either the decorator
    # or the compiler may catch it.
    with pytest.raises(HeadwaterError) as info:

        @pipeline(timezone="Mars/Olympus", start_date="2026-01-01")  # mark: tz-start
        def tz_start() -> None:
            tick()

        tz_start.compile()
    text = str(info.value)
    assert "unknown time zone 'Mars/Olympus'" in text, text
    assert f"test_validate_schedule.py:{line_of('tz-start', HERE)}" in text, text


def test_end_date_before_start_date() -> None:
    @pipeline(schedule="@daily", start_date="2026-02-01", end_date="2026-01-01")  # mark: window
    def backwards() -> None:
        tick()

    problem = only_problem(compile_error(backwards), "invalid_date")
    assert_location(
        problem, pipeline="backwards", task=None, file=HERE, line=line_of("window", HERE)
    )
    assert "end_date 2026-01-01T00:00:00+00:00 is not after start_date" in problem.message


def test_end_date_equal_to_start_date() -> None:
    @pipeline(schedule="@daily", start_date="2026-02-01", end_date="2026-02-01")  # mark: same-day
    def same_day() -> None:
        tick()

    problem = only_problem(compile_error(same_day), "invalid_date")
    assert_location(
        problem, pipeline="same_day", task=None, file=HERE, line=line_of("same-day", HERE)
    )


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"kind": "cron", "cron": "0 3 * * *"}, "0 3 * * *"),
        ({"kind": "interval", "interval_seconds": 90}, "every 90s"),
        ({"kind": "once"}, "once"),
        ({"kind": "assets", "assets": ["a://x", "b://y"]}, "a://x & b://y"),
        ({"kind": "assets", "assets": ["a://x", "b://y"], "asset_mode": "any"}, "a://x | b://y"),
    ],
)
def test_a_schedule_describes_itself(data: dict[str, object], text: str) -> None:
    from headwater.spec import ScheduleSpec

    assert ScheduleSpec.model_validate(data).describe() == text


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_cron_that_never_fires_is_refused(cron: str) -> None:
    @pipeline(schedule=cron)  # mark: never-fires
    def never() -> None:
        tick()

    problem = only_problem(compile_error(never), "invalid_schedule")
    assert_location(
        problem, pipeline="never", task=None, file=HERE, line=line_of("never-fires", HERE)
    )
    assert f"invalid schedule '{cron}'" in problem.message
    assert "never fires" in problem.message
    assert "day of the month" in (problem.hint or "")


def test_a_cron_that_fires_only_in_leap_years_is_accepted() -> None:
    @pipeline(schedule="0 0 29 2 *")
    def leap_day() -> None:
        tick()

    assert leap_day.compile().schedule is not None


@pytest.mark.parametrize(
    ("seconds", "says"),
    [
        (float("inf"), "not a finite number"),
        (float("nan"), "not a finite number"),
        (1e308, "longer than"),
        (11 * 366 * 86400.0, "longer than"),
        (0.5, "shorter than a second"),
        (1e-9, "shorter than a second"),
    ],
)
def test_an_interval_that_cannot_be_scheduled_is_refused(seconds: float, says: str) -> None:
    """Before, inf and 1e308 compiled (the scheduler then failed on every pass) and NaN
    slipped past the 'must be positive' check. The decorator or the compiler refuses."""
    with pytest.raises(HeadwaterError) as info:

        @pipeline(schedule=seconds)  # mark: bad-interval
        def bad_interval() -> None:
            tick()

        bad_interval.compile()
    text = str(info.value)
    assert says in text, text
    assert f"test_validate_schedule.py:{line_of('bad-interval', HERE)}" in text, text
    assert "fix:" in text, text


def test_an_interval_schedule_given_as_a_spec_is_held_to_the_same_rules() -> None:
    from headwater.spec import from_data, to_data, validate

    @pipeline(schedule=3600)
    def hourly_spec() -> None:
        tick()

    data = to_data(hourly_spec.compile())
    data["schedule"]["interval_seconds"] = 1e308
    with pytest.raises(HeadwaterError, match="longer than"):
        validate(from_data(data))


def test_text_that_is_not_valid_unicode_in_a_spec_is_refused() -> None:
    """A lone surrogate in a default or a description compiled, then crashed
    'headwater deploy' with a UnicodeEncodeError traceback (and, stored, every list)."""

    @pipeline(description="bad \udcff text")  # mark: surrogate
    def surrogate(s: str = "fine \ud800") -> None:
        tick()

    error = compile_error(surrogate)
    text = str(error)
    assert "description" in text and "not valid Unicode" in text, text
    assert "default" in text, text
