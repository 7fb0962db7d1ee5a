"""Trigger rules decide what runs downstream of a failure, and skips propagate from an If."""

from __future__ import annotations

from collections.abc import Iterator

import engine_flow
import pytest
from engine_flow import SKIP_CASES, TRIGGER_CASES, mark_name
from engine_helpers import module_home, statuses

import headwater
from headwater.engine import Run
from headwater.states import RunStatus


@pytest.fixture(scope="module")
def triggered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run of engine_triggers: 'boom' fails, 'ok' succeeds, a task per rule after them."""
    with module_home(tmp_path_factory, "triggers-home"):
        yield headwater.run(engine_flow.engine_triggers, max_parallel=4)


def test_the_failing_upstream_fails_the_run(triggered: Run) -> None:
    assert statuses(triggered)["boom"] == "failed"
    assert statuses(triggered)["ok"] == "succeeded"
    assert triggered.status is RunStatus.FAILED


@pytest.mark.parametrize(
    ("index", "label", "rule", "after", "expected"),
    [(i, *case) for i, case in enumerate(TRIGGER_CASES)],
    ids=[case[0] for case in TRIGGER_CASES],
)
def test_trigger_rule_downstream_of_a_failure(
    triggered: Run, index: int, label: str, rule: str, after: tuple[str, ...], expected: str
) -> None:
    name = mark_name(index)
    got = statuses(triggered)[name]
    assert got == expected, f"{rule} after {after}: {got}, expected {expected}"
    if expected == "succeeded":
        assert triggered.outputs(name)["output"] == label
    else:
        assert triggered.tasks[name].pid is None, "a task that did not run had a process"


def test_a_false_if_skips_its_tasks_and_the_skip_reaches_downstream_tasks() -> None:
    run = headwater.run(engine_flow.engine_skips, max_parallel=4)

    got = statuses(run)
    assert got["ok"] == "succeeded"
    for index, (label, rule, expected) in enumerate(SKIP_CASES):
        assert got[mark_name(index)] == expected, f"{label} ({rule}): {got[mark_name(index)]}"
    ran = [mark_name(i) for i, case in enumerate(SKIP_CASES) if case[2] == "succeeded"]
    assert {run.outputs(name)["output"] for name in ran} == {"after-none_failed", "after-all_done"}
    assert run.status is RunStatus.SUCCEEDED
