"""Trigger rules that do not wait for every upstream, and setup/teardown tasks, in real
runs: task processes and a SQLite store."""

from __future__ import annotations

from pathlib import Path

import engine_setup
from engine_helpers import statuses

import headwater
from headwater.states import RunStatus


def test_always_runs_at_once_without_waiting_for_its_upstream(tmp_path: Path) -> None:
    # 'waits_for' ends well only if the 'always' task wrote the marker while it ran.
    run = headwater.run(engine_setup.engine_always, marker=str(tmp_path / "m"), max_parallel=4)

    assert statuses(run) == {"waits_for": "succeeded", "touch": "succeeded"}
    assert run.status is RunStatus.SUCCEEDED


def test_one_done_starts_once_the_first_upstream_ends(tmp_path: Path) -> None:
    # 'waits_for' is still running when 'ok' ends; it ends only after 'touch' (one_done)
    # has run.
    run = headwater.run(engine_setup.engine_one_done, marker=str(tmp_path / "m"), max_parallel=4)

    assert statuses(run) == {"ok": "succeeded", "waits_for": "succeeded", "touch": "succeeded"}


def test_a_teardown_runs_after_failed_work_and_the_work_fails_the_run() -> None:
    run = headwater.run(engine_setup.engine_setup_teardown, work_fails=True)

    assert statuses(run) == {
        "create_cluster": "succeeded",
        "work": "failed",
        "delete_cluster": "succeeded",
    }
    assert run.outputs("delete_cluster")["output"] == "deleted"
    assert run.status is RunStatus.FAILED
    assert run.record.error is not None
    assert "work" in run.record.error and "delete_cluster" not in run.record.error


def test_a_failed_teardown_does_not_fail_the_run() -> None:
    run = headwater.run(engine_setup.engine_setup_teardown, teardown_fails=True)

    assert statuses(run) == {
        "create_cluster": "succeeded",
        "work": "succeeded",
        "delete_cluster": "failed",
    }
    assert run.status is RunStatus.SUCCEEDED


def test_a_failed_teardown_fails_the_run_when_it_says_on_failure_fail_run() -> None:
    run = headwater.run(engine_setup.engine_teardown_fails_run)

    assert statuses(run)["delete_cluster"] == "failed"
    assert run.status is RunStatus.FAILED
    assert run.record.error is not None and "delete_cluster" in run.record.error


def test_a_failed_setup_leaves_its_work_and_teardown_unrun() -> None:
    # Airflow's all_done_setup_success: no setup succeeded -> upstream_failed (a skipped
    # setup would skip it); the teardown has nothing to clean up.
    run = headwater.run(engine_setup.engine_setup_teardown, setup_fails=True)

    assert statuses(run) == {
        "create_cluster": "failed",
        "work": "upstream_failed",
        "delete_cluster": "upstream_failed",
    }
    assert run.tasks["delete_cluster"].pid is None
    assert run.status is RunStatus.FAILED


def test_a_task_inside_a_failed_setups_scope_does_not_run_whatever_its_rule() -> None:
    run = headwater.run(engine_setup.engine_indirect_setup)

    assert statuses(run) == {
        "create_cluster": "failed",
        "work": "upstream_failed",
        "mark": "upstream_failed",
        "delete_cluster": "upstream_failed",
    }
    assert run.tasks["mark"].pid is None


def test_as_teardown_makes_a_call_the_teardown_of_its_setups() -> None:
    spec = engine_setup.engine_as_teardown.compile()
    tasks = {t.name: t for t in spec.dag.nodes}
    assert tasks["ok"].options.setup is True
    assert tasks["mark"].options.teardown is True
    assert set(tasks["mark"].after) == {"boom", "ok"}

    run = headwater.run(engine_setup.engine_as_teardown)

    assert statuses(run) == {"ok": "succeeded", "boom": "failed", "mark": "succeeded"}
    assert run.status is RunStatus.FAILED
