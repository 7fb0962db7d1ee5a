"""Scheduling: which data intervals get runs, and when (pure timetable logic, no I/O).

:class:`Timetable` turns a pipeline's schedule, start and end dates into data
intervals; :func:`template_context` gives a run's templates its dates under
Airflow's names. Creating runs, catchup loops, backfills and locking build on these.
What a server or the CLI asks of runs from outside their engine (:func:`trigger`,
:func:`cancel`, :func:`clear`, :func:`retry_failed`, :func:`read_log`) and a
schedule's settings with its edits (:func:`effective_spec`, :func:`edit_schedule`)
are here too.
"""

from headwater.scheduler._backfill import BackfillPlan, create_backfill_runs, plan_backfill
from headwater.scheduler._context import (
    Macros,
    TemplateContext,
    manual_context,
    template_context,
)
from headwater.scheduler._loop import tick
from headwater.scheduler._operations import (
    LogChunk,
    cancel,
    clear,
    read_log,
    retry_failed,
    trigger,
)
from headwater.scheduler._runner import Runner
from headwater.scheduler._service import SchedulerService
from headwater.scheduler._settings import (
    checked_schedule,
    edit_schedule,
    effective_spec,
    schedule_overrides,
)
from headwater.scheduler._timetable import DataInterval, Timetable

__all__ = [
    "BackfillPlan",
    "DataInterval",
    "LogChunk",
    "Macros",
    "Runner",
    "SchedulerService",
    "TemplateContext",
    "Timetable",
    "cancel",
    "checked_schedule",
    "clear",
    "create_backfill_runs",
    "edit_schedule",
    "effective_spec",
    "manual_context",
    "plan_backfill",
    "read_log",
    "retry_failed",
    "schedule_overrides",
    "template_context",
    "tick",
    "trigger",
]
