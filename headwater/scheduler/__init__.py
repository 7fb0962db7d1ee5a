"""Scheduling: which data intervals get runs, and when (pure timetable logic, no I/O).

:class:`Timetable` turns a pipeline's schedule, start and end dates into data
intervals; :func:`template_context` gives a run's templates its dates under
Airflow's names. Creating runs, catchup loops, backfills and locking build on these.
"""

from headwater.scheduler._backfill import BackfillPlan, create_backfill_runs, plan_backfill
from headwater.scheduler._context import (
    Macros,
    TemplateContext,
    manual_context,
    template_context,
)
from headwater.scheduler._loop import tick
from headwater.scheduler._runner import Runner
from headwater.scheduler._service import SchedulerService
from headwater.scheduler._timetable import DataInterval, Timetable

__all__ = [
    "BackfillPlan",
    "DataInterval",
    "Macros",
    "Runner",
    "SchedulerService",
    "TemplateContext",
    "Timetable",
    "create_backfill_runs",
    "manual_context",
    "plan_backfill",
    "template_context",
    "tick",
]
