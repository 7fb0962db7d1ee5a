"""The template context of a run: Airflow's names, dates in the schedule's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from scheduler_helpers import NEW_YORK, ONCE, PARIS, at, cron, span

from headwater.scheduler import Macros, Timetable, template_context

DAILY_UTC = Timetable(cron("@daily"), at(2026, 1, 1), at(2026, 2, 1))
MACROS = template_context(span(at(2026, 1, 1), at(2026, 1, 2)), "r", {})["macros"]


def test_utc_daily_run_matches_airflow() -> None:
    interval = span(at(2026, 1, 15), at(2026, 1, 16))
    context = template_context(interval, "scheduled__2026-01-15", {"n": 3}, timetable=DAILY_UTC)
    assert context["ds"] == "2026-01-15"
    assert context["ds_nodash"] == "20260115"
    assert context["ts"] == "2026-01-15T00:00:00+00:00"
    assert context["ts_nodash"] == "20260115T000000"
    assert context["ts_nodash_with_tz"] == "20260115T000000+0000"
    assert context["logical_date"] == at(2026, 1, 15)
    assert context["data_interval_start"] == at(2026, 1, 15)
    assert context["data_interval_end"] == at(2026, 1, 16)
    assert context["prev_ds"] == "2026-01-14"
    assert context["prev_ds_nodash"] == "20260114"
    assert context["next_ds"] == "2026-01-16"
    assert context["next_ds_nodash"] == "20260116"
    assert context["run_id"] == "scheduled__2026-01-15"
    assert context["params"] == {"n": 3}
    assert context["macros"] is MACROS


def test_dates_are_in_the_schedule_time_zone() -> None:
    # Midnight in Paris is 23:00 UTC the day before; Airflow would say ds=2026-01-14.
    paris = Timetable(cron("0 0 * * *", "Europe/Paris"), at(2026, 1, 1, tz=PARIS))
    interval = span(at(2026, 1, 15, tz=PARIS), at(2026, 1, 16, tz=PARIS))
    context = template_context(interval, "r", {}, timetable=paris)
    assert context["ds"] == "2026-01-15"
    assert context["ts"] == "2026-01-15T00:00:00+01:00"
    assert context["ts_nodash"] == "20260115T000000"
    assert context["ts_nodash_with_tz"] == "20260115T000000+0100"
    assert context["logical_date"].utcoffset() == timedelta(hours=1)
    assert context["logical_date"] == at(2026, 1, 14, 23)  # the same instant
    assert context["data_interval_end"].isoformat() == "2026-01-16T00:00:00+01:00"
    assert (context["prev_ds"], context["next_ds"]) == ("2026-01-14", "2026-01-16")


def test_a_negative_offset_keeps_its_sign() -> None:
    new_york = Timetable(cron("0 20 * * *", "America/New_York"), at(2026, 1, 1))
    interval = span(at(2026, 1, 15, 20, tz=NEW_YORK), at(2026, 1, 16, 20, tz=NEW_YORK))
    context = template_context(interval, "r", {}, timetable=new_york)
    assert context["ds"] == "2026-01-15"  # 01:00 UTC on the 16th
    assert context["ts_nodash_with_tz"] == "20260115T200000-0500"


def test_first_and_last_intervals_have_no_prev_or_next() -> None:
    first = template_context(span(at(2026, 1, 1), at(2026, 1, 2)), "r", {}, timetable=DAILY_UTC)
    assert first["prev_ds"] is None and first["prev_ds_nodash"] is None
    assert first["next_ds"] == "2026-01-02"
    last = template_context(span(at(2026, 1, 31), at(2026, 2, 1)), "r", {}, timetable=DAILY_UTC)
    assert last["next_ds"] is None and last["next_ds_nodash"] is None
    assert last["prev_ds"] == "2026-01-30"


def test_hourly_neighbours_can_share_the_day() -> None:
    hourly = Timetable(cron("@hourly"), at(2026, 1, 1))
    context = template_context(span(at(2026, 1, 2), at(2026, 1, 2, 1)), "r", {}, timetable=hourly)
    assert (context["prev_ds"], context["ds"], context["next_ds"]) == (
        "2026-01-01",
        "2026-01-02",
        "2026-01-02",
    )


def test_once_and_unscheduled_runs() -> None:
    start = at(2026, 3, 1, 9, 30)
    once = Timetable(ONCE, start)
    context = template_context(span(start, start), "once", {}, timetable=once)
    assert context["ds"] == "2026-03-01"
    assert context["data_interval_start"] == context["data_interval_end"] == start
    assert context["prev_ds"] is None and context["next_ds"] is None
    manual = template_context(
        span(at(2026, 3, 1, 23, tz=PARIS), at(2026, 3, 1, 23, tz=PARIS)), "m", {}
    )
    assert manual["ds"] == "2026-03-01"  # no timetable: UTC (22:00 UTC)
    assert manual["ts"] == "2026-03-01T22:00:00+00:00"
    assert manual["prev_ds"] is None and manual["next_ds"] is None


def test_params_are_copied() -> None:
    params = {"lr": 0.1}
    context = template_context(span(at(2026, 1, 2), at(2026, 1, 3)), "r", params)
    params["lr"] = 0.2
    assert context["params"] == {"lr": 0.1}


# --------------------------------------------------------------------------- macros


@pytest.mark.parametrize(
    ("ds", "days", "expected"),
    [
        ("2026-03-01", 5, "2026-03-06"),
        ("2026-03-01", -1, "2026-02-28"),
        ("2024-02-28", 1, "2024-02-29"),
        ("2026-12-31", 1, "2027-01-01"),
        ("2026-03-29", 0, "2026-03-29"),
    ],
)
def test_ds_add(ds: str, days: int, expected: str) -> None:
    assert MACROS.ds_add(ds, days) == expected


def test_ds_add_names_what_it_expected() -> None:
    with pytest.raises(ValueError, match="ds_add expects a date like '2026-03-01', got '20260301'"):
        MACROS.ds_add("20260301", 1)


def test_ds_format() -> None:
    assert MACROS.ds_format("2026-03-01", "%Y-%m-%d", "%d/%m/%Y") == "01/03/2026"
    assert MACROS.ds_format("20260301", "%Y%m%d", "%Y-%m-%d") == "2026-03-01"


def test_datetime_and_timedelta() -> None:
    assert MACROS.datetime is datetime
    assert MACROS.timedelta is timedelta
    assert MACROS.datetime(2026, 1, 1) + MACROS.timedelta(days=1) == datetime(2026, 1, 2)
    assert isinstance(MACROS, Macros)


def test_macros_cannot_be_changed() -> None:
    with pytest.raises(AttributeError):
        MACROS.ds_add = None  # type: ignore[method-assign,assignment]


def test_the_context_renders_in_a_sandboxed_jinja_environment() -> None:
    jinja2_sandbox = pytest.importorskip("jinja2.sandbox")
    env = jinja2_sandbox.SandboxedEnvironment()
    context = template_context(
        span(at(2026, 1, 20), at(2026, 1, 21)), "r1", {"table": "events"}, timetable=DAILY_UTC
    )
    template = env.from_string(
        "{{ params.table }}/{{ ds_nodash }} {{ macros.ds_add(ds, -7) }} "
        "{{ macros.ds_format(ds, '%Y-%m-%d', '%d.%m') }} "
        "{{ (logical_date + macros.timedelta(hours=6)).isoformat() }} {{ prev_ds }}"
    )
    assert template.render(context) == (
        "events/20260120 2026-01-13 20.01 2026-01-20T06:00:00+00:00 2026-01-19"
    )


def test_manual_context_uses_the_start_instant_and_the_schedule_time_zone() -> None:
    from datetime import UTC, datetime

    from headwater import component, pipeline
    from headwater.scheduler import manual_context

    @component
    def noop() -> None:
        return None

    @pipeline(schedule="0 3 * * *", timezone="Asia/Tokyo", start_date="2026-01-01")
    def tokyo():
        noop()

    @pipeline
    def by_hand():
        noop()

    instant = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)  # 05:00 on July 1st in Tokyo
    scheduled = manual_context(tokyo.compile(), "r1", {"a": 1}, now=instant)
    assert scheduled["ds"] == "2026-07-01"
    assert scheduled["data_interval_start"] == scheduled["data_interval_end"]
    assert scheduled["run_id"] == "r1" and scheduled["params"] == {"a": 1}
    plain = manual_context(by_hand.compile(), "r2", {}, now=instant)
    assert plain["ds"] == "2026-06-30"
