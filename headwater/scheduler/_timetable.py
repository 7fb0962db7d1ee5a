"""When scheduled runs happen, and which slice of time each one processes.

A scheduled run covers a *data interval* ``[start, end)`` and is created once that
interval has ended, as in Airflow 2's data-interval timetables: the run for
2026-03-01 of a daily pipeline processes that day's data and starts just after
midnight on 2026-03-02. Its *logical date* is the interval's start.

Everything here is pure: no database, no clock. The caller passes ``now``.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from headwater.errors import Location, SpecError
from headwater.scheduler._cron import CronGrid

if TYPE_CHECKING:
    from headwater.spec import PipelineSpec, ScheduleSpec

__all__ = ["DataInterval", "Timetable"]


def _utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; naive datetimes are refused, since their instant is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class DataInterval:
    """The half-open slice of time ``[start, end)`` that one run processes.

    Both ends are aware datetimes, stored in UTC whatever zone they were given in.
    ``end == start`` is allowed: an ``@once`` run and a manual run cover an instant,
    not a span.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "data interval start"))
        object.__setattr__(self, "end", _utc(self.end, "data interval end"))
        if self.end < self.start:
            raise ValueError(
                f"data interval end {self.end.isoformat()} is before its start "
                f"{self.start.isoformat()}"
            )

    @property
    def logical_date(self) -> datetime:
        """The date a run is named and templated by: its interval's start (as in Airflow)."""
        return self.start


class _Grid(Protocol):
    """The boundaries of a schedule's regular intervals, unbounded in both directions."""

    def iter_after(self, instant: datetime) -> Iterator[datetime]: ...

    def first_after(self, instant: datetime) -> datetime | None: ...

    def at_or_before(self, instant: datetime) -> datetime | None: ...


class _DeltaGrid:
    """``anchor + k * step`` for every whole k: fixed durations of real time."""

    def __init__(self, anchor: datetime, step: timedelta) -> None:
        self.anchor = anchor
        self.step = step

    def at_or_before(self, instant: datetime) -> datetime | None:
        try:
            return self.anchor + ((instant - self.anchor) // self.step) * self.step
        except OverflowError:
            return None

    def first_after(self, instant: datetime) -> datetime | None:
        return next(self.iter_after(instant), None)

    def iter_after(self, instant: datetime) -> Iterator[datetime]:
        point = self.at_or_before(instant)
        if point is None:
            return
        while True:
            try:
                point += self.step
            except OverflowError:
                return
            yield point


def _grid(schedule: ScheduleSpec, tz: zoneinfo.ZoneInfo, anchor: datetime) -> _Grid | None:
    if schedule.kind == "once":
        return None
    if schedule.kind == "interval":
        seconds = schedule.interval_seconds
        try:
            step = timedelta(seconds=seconds) if seconds is not None else timedelta(0)
        except (OverflowError, ValueError):  # inf, nan, beyond 999,999,999 days
            step = timedelta(0)
        if step <= timedelta(0):
            raise SpecError(
                f"interval schedule of {seconds!r} seconds is not a duration that can be scheduled",
                hint="use an interval between a second and ten years, e.g. "
                "schedule=timedelta(hours=6)",
            )
        return _DeltaGrid(anchor, step)
    expression = (schedule.cron or "").strip()
    if not expression.startswith("@") and len(expression.split()) != 5:
        raise SpecError(
            f"invalid schedule '{expression}': expected 5 cron fields or a preset",
            hint="use five cron fields like '0 3 * * *', or a preset such as '@daily'",
        )
    try:
        return _cron_grid(expression, tz)  # parses the expression (once per zone)
    except (ValueError, KeyError) as exc:
        raise SpecError(
            f"invalid schedule '{expression}': {exc}",
            hint="use five cron fields like '0 3 * * *', or a preset such as '@daily'",
        ) from None


@functools.lru_cache(maxsize=1024)
def _cron_grid(expression: str, tz: zoneinfo.ZoneInfo) -> CronGrid:
    """One grid per expression and zone, shared by every schedule that uses them, so that
    the boundaries one schedule worked out serve the others."""
    return CronGrid(expression, tz)


class Timetable:
    """The data intervals of one schedule between a start date and an optional end date.

    **Regular intervals.** For a cron schedule they run from one tick to the next,
    in the schedule's time zone (see ``headwater.scheduler._cron`` for what happens
    to ticks that a daylight-saving change skips or repeats); the first starts at
    the first tick at or after ``start_date``. For an interval schedule they are
    ``interval_seconds`` of real time each, anchored at ``start_date``, and do not
    move with daylight saving. No interval starts at or after ``end_date`` (the last
    one may end after it). Regular intervals are contiguous (each ends where the next
    starts) and never empty.

    **@once** has a single interval, ``[start_date, start_date]``: it covers an
    instant, so it is due as soon as ``now >= start_date``, however late the
    scheduler first looks (Airflow's ``@once`` runs once, as soon as possible).

    **Using it.** The scheduler asks :meth:`next_interval` for the interval after
    the last one it created, creates a run when :meth:`due` says so, and otherwise
    sleeps until the interval's end::

        daily = Timetable(ScheduleSpec(kind="cron", cron="@daily"), start_date=jan_1)
        first = daily.next_interval(None, now=jan_3_noon, catchup=True)
        # first == DataInterval(jan_1, jan_2): the run for Jan 1, due since Jan 2
        assert daily.due(first, now=jan_3_noon)
    """

    def __init__(
        self,
        schedule: ScheduleSpec,
        start_date: datetime,
        end_date: datetime | None = None,
    ) -> None:
        try:
            self.timezone = zoneinfo.ZoneInfo(schedule.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SpecError(
                f"unknown time zone '{schedule.timezone}'",
                hint="use an IANA time zone name such as 'UTC' or 'Europe/Paris'",
            ) from None
        self.schedule = schedule
        self.start_date = _utc(start_date, "start_date")
        self.end_date = None if end_date is None else _utc(end_date, "end_date")
        self._grid = _grid(schedule, self.timezone, self.start_date)
        self._first_start = self._boundary_at_or_after(self.start_date)

    @classmethod
    def for_pipeline(
        cls, spec: PipelineSpec, *, default_start_date: datetime | None = None
    ) -> Timetable:
        """The timetable of a scheduled pipeline.

        ``default_start_date`` stands in for a missing ``start_date``; the time the
        pipeline was deployed is a natural choice, so that nothing older is due.
        """
        if spec.schedule is None or spec.schedule.kind == "assets":
            raise SpecError(
                f"pipeline '{spec.name}' is not scheduled on time, so it has no timetable",
                location=Location(pipeline=spec.name),
                hint="data intervals and backfills need a cron, interval or @once schedule",
            )
        start = spec.start_date or default_start_date
        if start is None:
            raise SpecError(
                f"pipeline '{spec.name}' has a schedule but no start_date",
                location=Location(pipeline=spec.name),
                hint="give the pipeline a start_date, e.g. start_date='2026-01-01'",
            )
        return cls(spec.schedule, start, spec.end_date)

    # ------------------------------------------------------------------ boundaries

    def _boundary_at_or_after(self, instant: datetime) -> datetime | None:
        if self._grid is None:
            return instant
        found = self._grid.at_or_before(instant)
        if found == instant:
            return instant
        return self._grid.first_after(instant)

    def _regular(self, start: datetime | None) -> DataInterval | None:
        """The interval from boundary ``start`` to the next one, if the window allows it."""
        if start is None or self._first_start is None or start < self._first_start:
            return None
        if self.end_date is not None and start >= self.end_date:
            return None
        if self._grid is None:
            return DataInterval(start, start)
        end = self._grid.first_after(start)
        return None if end is None else DataInterval(start, end)

    def _latest_complete(self, now: datetime) -> DataInterval | None:
        """The regular interval with the latest start among those ended by ``now``."""
        if self._grid is None or self._first_start is None:
            return None
        end = self._grid.at_or_before(now)
        start = None if end is None else self._grid.at_or_before(end - timedelta.resolution)
        if start is not None and self.end_date is not None and start >= self.end_date:
            start = self._grid.at_or_before(self.end_date - timedelta.resolution)
        return self._regular(start)

    def _following(self, grid: _Grid, after: DataInterval | None) -> DataInterval | None:
        """The interval right after ``after`` (the first for None), bridging if unaligned."""
        first = self._first_start
        if after is None or (first is not None and after.end <= first):
            return self._regular(first)
        if grid.at_or_before(after.end) == after.end:
            return self._regular(after.end)
        if self.end_date is not None and after.end >= self.end_date:
            return None
        end = grid.first_after(after.end)
        return None if end is None else DataInterval(after.end, end)

    # ------------------------------------------------------------------ public API

    def next_interval(
        self, after: DataInterval | None, *, now: datetime, catchup: bool
    ) -> DataInterval | None:
        """The interval of the next scheduled run, or None when the schedule is over.

        ``after`` is the interval of the last *scheduled* run created (manual runs
        and backfills do not count), None before the first. The answer does not
        depend on whether the interval has ended: it may lie in the future, and
        :meth:`due` says whether its run may be created yet.

        - With ``catchup=True`` this is the interval right after ``after`` (the
          first interval when ``after`` is None), so every missed interval gets a
          run, oldest first.
        - With ``catchup=False`` older intervals are skipped: when the interval
          right after ``after`` is older than the latest interval already ended by
          ``now``, that latest interval comes next instead. This holds for the first
          run and also after a scheduler outage, as in Airflow. ``now`` is used for
          nothing else.
        - The next interval starts where ``after`` ended. If that is not a boundary
          of this schedule (the pipeline's schedule was changed), it runs to the
          next boundary: one shorter interval bridges the two schedules, so no data
          is skipped and none is processed twice.
        - ``@once`` gives its single interval while ``after`` is None, then None.
        """
        now = _utc(now, "now")
        if self._grid is None:
            return self._regular(self.start_date) if after is None else None
        candidate = self._following(self._grid, after)
        if candidate is None or catchup:
            return candidate
        latest = self._latest_complete(now)
        if latest is not None and latest.start > candidate.start:
            return latest
        return candidate

    def due(self, interval: DataInterval, *, now: datetime) -> bool:
        """Whether the run for ``interval`` may be created at ``now``: once the interval has ended.

        An ``@once`` interval ends where it starts, so it is due from ``start_date`` on.
        """
        return _utc(now, "now") >= interval.end

    def intervals_between(self, start: datetime, end: datetime) -> list[DataInterval]:
        """Every regular interval whose start lies in ``[start, end)``, oldest first.

        For backfills. The timetable's own window still applies (nothing before the
        first interval or at/after ``end_date``); whether an interval has ended yet
        is the caller's business.
        """
        return list(self.iter_intervals_between(start, end))

    def iter_intervals_between(self, start: datetime, end: datetime) -> Iterator[DataInterval]:
        """:meth:`intervals_between` one at a time: a caller that counts them can stop
        before a window of millions of intervals is laid out."""
        start = _utc(start, "start")
        end = _utc(end, "end")
        if self.end_date is not None:
            end = min(end, self.end_date)
        if self._first_start is None or start >= end:
            return
        lower = max(start, self._first_start)
        if lower >= end:
            return
        if self._grid is None:
            if lower == self.start_date:
                yield DataInterval(lower, lower)
            return
        boundary = self._boundary_at_or_after(lower)
        if boundary is None or boundary >= end:
            return
        for following in self._grid.iter_after(boundary):
            yield DataInterval(boundary, following)
            boundary = following
            if boundary >= end:
                break

    def interval_before(self, interval: DataInterval) -> DataInterval | None:
        """The latest regular interval that ends at or before ``interval`` starts.

        For a regular interval that is simply the one before it. None when there is
        none in the window, and always for ``@once``.
        """
        if self._grid is None:
            return None
        end = self._grid.at_or_before(interval.start)
        start = None if end is None else self._grid.at_or_before(end - timedelta.resolution)
        return self._regular(start)

    def interval_after(self, interval: DataInterval) -> DataInterval | None:
        """The earliest regular interval that starts at or after ``interval`` ends.

        For a regular interval that is simply the one after it. None when there is
        none in the window, and always for ``@once``.
        """
        if self._grid is None:
            return None
        return self._regular(self._boundary_at_or_after(max(interval.end, self.start_date)))
