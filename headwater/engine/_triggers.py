"""Trigger rules: given the states of a task's upstream units, what happens to it now.

The rules are Airflow's. ``succeeded`` and ``cached`` count as success;
``failed`` and ``upstream_failed`` as failure; ``None`` is an upstream still
pending or running.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from headwater.spec import TriggerRule
from headwater.states import TASK_NOT_OK, TASK_SUCCESS, TaskStatus

T = TaskStatus


class Decision(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


def decide(rule: TriggerRule, upstream: Sequence[TaskStatus | None]) -> Decision:
    """What the trigger ``rule`` says for a task whose upstream units are in ``upstream``."""
    if not upstream:
        return Decision.RUN
    done = [s for s in upstream if s is not None]
    all_done = len(done) == len(upstream)
    succeeded = sum(s in TASK_SUCCESS for s in done)
    failed = sum(s in TASK_NOT_OK for s in done)
    skipped = sum(s is T.SKIPPED for s in done)
    R = TriggerRule
    if rule is R.ALL_SUCCESS:
        if failed:
            return Decision.UPSTREAM_FAILED
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ALL_FAILED:
        if succeeded or skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ALL_DONE or rule is R.ALWAYS:
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.ONE_SUCCESS:
        if succeeded:
            return Decision.RUN
        if not all_done:
            return Decision.WAIT
        return Decision.SKIP if skipped == len(upstream) else Decision.UPSTREAM_FAILED
    if rule is R.ONE_FAILED:
        if failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if rule is R.NONE_FAILED:
        if failed:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if all_done else Decision.WAIT
    if rule is R.NONE_SKIPPED:
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    raise ValueError(f"unknown trigger rule {rule}")
