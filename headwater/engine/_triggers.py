"""Trigger rules: given the states of a task's upstream units, what happens to it now.

The rules are Airflow's 13, with Airflow's semantics (its ``TriggerRuleDep``): a rule
first says whether the task can never run (it is then ``skipped`` or
``upstream_failed`` at once, without waiting for the rest of its upstream), and
otherwise whether it may run now or must wait. ``succeeded`` and ``cached`` count as
success; ``failed`` and ``cancelled`` as failed (Airflow has no cancelled task: one
that was stopped ends failed there); ``upstream_failed`` and ``skipped`` are their own;
``None`` is an upstream still pending or running. A task with no upstream runs.

``always`` runs at once whatever its upstream does; the engine only waits for the
upstream whose outputs it reads (a value must exist before it can be passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from headwater.spec import TriggerRule
from headwater.states import TASK_FAILED_ITSELF, TASK_SUCCESS, TaskStatus

T = TaskStatus


class Decision(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True)
class _Counts:
    """How many upstream units ended in each way (Airflow's ``_UpstreamTIStates``)."""

    total: int
    success: int
    failed: int
    upstream_failed: int
    skipped: int

    @classmethod
    def of(cls, states: Sequence[TaskStatus | None]) -> _Counts:
        return cls(
            total=len(states),
            success=sum(s in TASK_SUCCESS for s in states),
            failed=sum(s in TASK_FAILED_ITSELF for s in states),
            upstream_failed=sum(s is T.UPSTREAM_FAILED for s in states),
            skipped=sum(s is T.SKIPPED for s in states),
        )

    @property
    def done(self) -> int:
        return self.success + self.failed + self.upstream_failed + self.skipped

    @property
    def all_done(self) -> bool:
        return self.done == self.total

    @property
    def failures(self) -> int:
        return self.failed + self.upstream_failed


def decide(
    rule: TriggerRule,
    upstream: Sequence[TaskStatus | None],
    setups: Sequence[TaskStatus | None] = (),
) -> Decision:
    """What the trigger ``rule`` says for a task whose upstream units are in ``upstream``.

    ``setups`` are the states of those upstream units that are setup tasks (they are in
    ``upstream`` too); only ``all_done_setup_success`` reads them."""
    if not upstream or rule is TriggerRule.ALWAYS:
        return Decision.RUN
    c = _Counts.of(upstream)
    settled = _settled(rule, c, _Counts.of(setups))
    if settled is not None:
        return settled
    return Decision.RUN if _met(rule, c) else Decision.WAIT


def _settled(rule: TriggerRule, c: _Counts, setups: _Counts) -> Decision | None:
    """The end the rule gives a task that can no longer run, or None while it still may."""
    R = TriggerRule
    skip, upstream_failed = Decision.SKIP, Decision.UPSTREAM_FAILED
    if rule is R.ALL_SUCCESS:
        return upstream_failed if c.failures else skip if c.skipped else None
    if rule is R.ALL_FAILED:
        return skip if c.success or c.skipped else None
    if rule is R.ONE_SUCCESS:
        if c.all_done and c.skipped == c.total:
            return skip
        return upstream_failed if c.all_done and not c.success else None
    if rule is R.ONE_FAILED:
        return skip if c.all_done and not c.failures else None
    if rule is R.ONE_DONE:  # upstream_failed is not "done" here: the upstream never ran
        return skip if c.all_done and not (c.success or c.failed) else None
    if rule is R.NONE_FAILED:
        return upstream_failed if c.failures else None
    if rule is R.NONE_FAILED_MIN_ONE_SUCCESS:
        if c.failures:
            return upstream_failed
        return skip if c.skipped == c.total else None
    if rule is R.NONE_SKIPPED:
        return skip if c.skipped else None
    if rule is R.ALL_SKIPPED:
        return skip if c.success or c.failures else None
    if rule is R.ALL_DONE_MIN_ONE_SUCCESS:  # a skipped upstream skips it, as in Airflow
        if c.skipped:
            return skip
        return upstream_failed if c.all_done and not c.success else None
    if rule is R.ALL_DONE_SETUP_SUCCESS:
        if not (c.all_done and setups.total):
            return None
        if setups.skipped == setups.total:
            return skip
        return upstream_failed if not setups.success else None
    if rule is R.ALL_DONE:
        return None
    raise ValueError(f"unknown trigger rule {rule}")


def _met(rule: TriggerRule, c: _Counts) -> bool:
    """Whether a task the rule has not settled may run now (else it waits)."""
    R = TriggerRule
    if rule is R.ALL_SUCCESS:
        return c.success == c.total
    if rule is R.ALL_FAILED:
        return c.failures == c.total
    if rule is R.ONE_SUCCESS:
        return c.success > 0
    if rule is R.ONE_FAILED:
        return c.failures > 0
    if rule is R.ONE_DONE:
        return c.success + c.failed > 0
    if rule in (R.NONE_FAILED, R.NONE_FAILED_MIN_ONE_SUCCESS):
        return c.success + c.skipped == c.total
    if rule is R.ALL_SKIPPED:
        return c.skipped == c.total
    if rule is R.ALL_DONE_MIN_ONE_SUCCESS:
        return c.all_done and c.success > 0
    # all_done, none_skipped (a skip settled it already), all_done_setup_success (a setup
    # that did not succeed settled it already)
    return c.all_done
