"""Cron ticks in a time zone, as UTC instants, well defined across daylight-saving changes.

croniter walks *wall-clock* times (naive datetimes in the schedule's zone), where a
day always has 24 hours. Mapping those onto real instants needs a rule for the two
kinds of wall-clock time that a daylight-saving change creates:

- A time that does not exist (spring forward: in Europe/Paris 02:00-02:59 on
  2026-03-29): a matching time fires at the instant the gap ends (03:00 CEST).
  Several skipped times, or a skipped time and the time right after the gap,
  fire once, together. This is what croniter itself does with aware datetimes,
  and what Vixie cron does ("jobs in the skipped hour run right after the change").
- A time that happens twice (fall back: 02:00-02:59 on 2026-10-25 in Paris):
  a schedule that names its hours (``0 2 * * *``, ``30 9-17 * * 1-5``) fires at the
  first occurrence only, so a daily run stays daily. A schedule whose hour field
  covers all 24 hours (``@hourly``, ``*/15 * * * *``) fires at both occurrences, so
  it keeps one run per real hour (or quarter-hour). Vixie cron draws the same line
  between "fixed-time" and "wildcard" jobs; croniter alone would fire
  ``0 2 * * *`` twice that night, which is why this module does not hand it aware
  datetimes.

With these rules the map from wall-clock ticks to instants never goes backwards,
so consecutive ticks are strictly increasing and the intervals between them are
never empty.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

_ONE_SECOND = timedelta(seconds=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
# Raised by croniter when no wall-clock time matches any more (``0 0 30 2 *``, or
# the end of the datetime range).
_EXHAUSTED = (CroniterBadDateError, OverflowError)


def _naive_local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in ``(before, after]`` with ``after``'s UTC offset.

    tzdata transitions fall on whole seconds, so a bisection to one second is exact.
    """
    target = after.astimezone(tz).utcoffset()
    while after - before > _ONE_SECOND:
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle <= before:
            middle = before + _ONE_SECOND
        if middle.astimezone(tz).utcoffset() == target:
            after = middle
        else:
            before = middle
    return after


class CronGrid:
    """Every instant a cron expression fires at in a time zone (see the module docstring).

    The grid is unbounded; a timetable clips it to its start and end dates.
    """

    def __init__(self, expression: str, tz: ZoneInfo) -> None:
        self.expression = expression
        self.tz = tz
        self._parsed = croniter(expression)  # parsed once; walks start from copies
        # A scheduler asks about the same boundaries pass after pass: remember answers.
        self._after: dict[datetime, datetime | None] = {}
        self._before: dict[datetime, datetime | None] = {}
        hours = self._parsed.expanded[1]
        self.every_hour = "*" in hours or {int(h) for h in hours} >= set(range(24))

    def _walker(self, start: datetime) -> croniter:
        walker = copy.copy(self._parsed)
        walker.set_current(start, force=True)
        return walker

    def _instants(self, wall: datetime) -> tuple[datetime, datetime | None]:
        """The instant a matching wall-clock time fires at, and its repeat if it has one."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        if first == second:
            return first, None
        if _naive_local(first, self.tz) == wall:  # it exists, twice: a fall-back
            return first, second if self.every_hour else None
        # It does not exist. fold=1 read it with the offset after the change and
        # fold=0 with the one before, so the change lies between the two.
        return _transition(second, first, self.tz), None

    def first_after(self, instant: datetime) -> datetime | None:
        """The first tick strictly after ``instant`` (remembered)."""
        if instant not in self._after:
            if len(self._after) > 4096:
                self._after.clear()
            self._after[instant] = next(self.iter_after(instant), None)
        return self._after[instant]

    def iter_after(self, instant: datetime) -> Iterator[datetime]:
        """The ticks strictly after ``instant``, in increasing order, as UTC datetimes.

        Ends when no later wall-clock time matches.
        """
        wall = _naive_local(instant, self.tz)
        start = wall
        if self.every_hour:
            # The second occurrence of a repeated wall time up to one fall-back before
            # ``wall`` may still lie after ``instant``; start the walk early enough.
            later = wall.replace(tzinfo=self.tz, fold=1).utcoffset()
            assert later is not None
            start = min(wall, instant.astimezone(UTC).replace(tzinfo=None) + later)
        walk = self._walker(start)
        # Each wall time's first instant is >= every earlier wall time's first
        # instant; repeats come later. A heap holds what is not yet known to be next.
        pending: list[datetime] = []
        last: datetime | None = None
        while True:
            try:
                first, second = self._instants(walk.get_next(datetime))
            except _EXHAUSTED:
                break
            while pending and pending[0] <= first:
                tick = heapq.heappop(pending)
                if tick > instant and tick != last:
                    last = tick
                    yield tick
            heapq.heappush(pending, first)
            if second is not None:
                heapq.heappush(pending, second)
        while pending:
            tick = heapq.heappop(pending)
            if tick > instant and tick != last:
                last = tick
                yield tick

    def at_or_before(self, instant: datetime) -> datetime | None:
        """The latest tick at or before ``instant``, or None when there is none (remembered)."""
        if instant not in self._before:
            if len(self._before) > 4096:
                self._before.clear()
            self._before[instant] = self._at_or_before(instant)
        return self._before[instant]

    def _at_or_before(self, instant: datetime) -> datetime | None:
        wall = _naive_local(instant, self.tz)
        try:
            # get_prev is strictly before its start; a microsecond later includes ``wall``.
            found = self._walker(wall + _ONE_MICROSECOND).get_prev(datetime)
        except _EXHAUSTED:
            return None
        # Any wall time up to ``wall`` fires at or before ``instant``. Later ticks can
        # still precede it when ``instant`` is the second pass of a repeated hour.
        best, _ = self._instants(found)
        for tick in self.iter_after(best):
            if tick > instant:
                break
            best = tick
        return best
