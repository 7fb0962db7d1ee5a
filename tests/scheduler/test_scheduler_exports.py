"""headwater.scheduler's exported names are pinned, so nothing leaks or vanishes."""

from __future__ import annotations

import headwater.scheduler

SCHEDULER = {
    "BackfillPlan",
    "create_backfill_runs",
    "plan_backfill",
    "DataInterval",
    "Macros",
    "TemplateContext",
    "Timetable",
    "manual_context",
    "template_context",
    "tick",
    "Runner",
    "SchedulerService",
    # What a server or the CLI asks of runs and schedules from outside their engine.
    "LogChunk",
    "cancel",
    "clear",
    "checked_schedule",
    "edit_schedule",
    "schedule_overrides",
    "effective_spec",
    "read_log",
    "retry_failed",
    "trigger",
}


def test_scheduler_exports() -> None:
    assert set(headwater.scheduler.__all__) == SCHEDULER
    for name in SCHEDULER:
        assert hasattr(headwater.scheduler, name), name
