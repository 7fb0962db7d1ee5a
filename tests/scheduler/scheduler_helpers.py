"""Builders shared by the timetable tests, and an oracle for cron ticks.

The oracle knows nothing of the timetable's implementation: it walks real time one
minute at a time and applies the documented rules to each instant's wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from croniter import croniter

from headwater.scheduler import DataInterval, Timetable
from headwater.spec import ScheduleSpec

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # daylight saving moves clocks by 30 minutes


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: tzinfo = UTC
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def cron(expression: str, tz: str = "UTC") -> ScheduleSpec:
    return ScheduleSpec(kind="cron", cron=expression, timezone=tz)


def every(seconds: float, tz: str = "UTC") -> ScheduleSpec:
    return ScheduleSpec(kind="interval", interval_seconds=seconds, timezone=tz)


ONCE = ScheduleSpec(kind="once")


def span(start: datetime, end: datetime) -> DataInterval:
    return DataInterval(start, end)


def walk(timetable: Timetable, count: int) -> list[DataInterval]:
    """The first ``count`` scheduled intervals, as a scheduler with catchup would create them."""
    found: list[DataInterval] = []
    last: DataInterval | None = None
    for _ in range(count):
        last = timetable.next_interval(last, now=FAR_FUTURE, catchup=True)
        if last is None:
            break
        found.append(last)
    return found


def local(instant: datetime, tz: ZoneInfo) -> str:
    """``instant`` as wall-clock time with its offset, e.g. '2026-03-29T03:00:00+02:00'."""
    return instant.astimezone(tz).isoformat()


def hours_cover_the_day(expression: str) -> bool:
    hours = croniter(expression).expanded[1]
    return "*" in hours or {int(h) for h in hours} == set(range(24))


def wall_matcher(expression: str) -> Callable[[datetime], bool]:
    """Whether a wall-clock time matches ``expression`` (five plain fields or a preset).

    Written out here, rather than calling croniter.match for every minute, to be fast
    and to check the timetable against a second reading of cron.
    """
    fields = croniter(expression).expanded

    def allowed(index: int, span: range) -> set[int]:
        values = fields[index]
        return set(span) if "*" in values else {int(v) for v in values}

    minutes, hours, days, months = (
        allowed(0, range(60)),
        allowed(1, range(24)),
        allowed(2, range(1, 32)),
        allowed(3, range(1, 13)),
    )
    weekdays = {int(v) % 7 for v in fields[4]} if "*" not in fields[4] else set(range(7))
    any_day, any_weekday = "*" in fields[2], "*" in fields[4]

    def matches(wall: datetime) -> bool:
        if wall.minute not in minutes or wall.hour not in hours or wall.month not in months:
            return False
        day_ok = wall.day in days
        weekday_ok = (wall.weekday() + 1) % 7 in weekdays  # cron counts from Sunday = 0
        if any_day or any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok  # both restricted: either will do, as in Vixie cron

    return matches


def oracle_ticks(expression: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every instant in ``[start, end)`` at which the schedule fires, by the documented rules.

    An instant fires when its wall-clock time matches, unless it is the second pass
    of a repeated hour and the schedule names its hours; the instant a spring-forward
    gap ends also fires when a skipped wall-clock time matches. ``start`` must be a
    whole minute; the zones used have whole-minute offsets.
    """
    wildcard_hours = hours_cover_the_day(expression)
    matches = wall_matcher(expression)
    ticks: list[datetime] = []
    instant = start.astimezone(UTC)
    previous_wall = (instant - MINUTE).astimezone(tz).replace(tzinfo=None)
    while instant < end:
        here = instant.astimezone(tz)
        wall = here.replace(tzinfo=None)
        fires = matches(wall) and (here.fold == 0 or wildcard_hours)
        if wall - previous_wall > MINUTE:
            skipped = previous_wall + MINUTE
            while skipped < wall and not fires:
                fires = matches(skipped)
                skipped += MINUTE
        if fires:
            ticks.append(instant)
        previous_wall = wall
        instant += MINUTE
    return ticks
