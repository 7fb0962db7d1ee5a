"""No silent options (DESIGN.md, contract 7; docs/adr/0012): every field of the spec's
task options, on every executor of the registry, is honoured (and a named test proves
it) or refused before the run starts with a clear error.

A new field of ``TaskOptions`` (or of its ``resources``), or a new executor, fails
:func:`test_every_option_has_a_decision_on_every_executor` until it is decided here: add
it to :data:`ENGINE` (the engine honours it everywhere) or give every executor a row in
:data:`EXECUTOR` (the tests that prove it is honoured, or :data:`REFUSED`).
"""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import Cli, write_pipeline

import headwater
from headwater.engine import ENGINE_OPTIONS, Workspace, check_options, execute_run, resume_run
from headwater.errors import OptionNotHonoured
from headwater.executors import EXECUTORS
from headwater.sdk import compile_root, load_pipeline
from headwater.spec import Resources, TaskOptions, digest, to_data
from headwater.states import RunStatus

REPO = Path(__file__).resolve().parents[2]
REFUSED = "refused"

SECRETS_TEST = (
    "tests/engine/test_engine_secrets.py::"
    "test_tasks_get_their_secrets_and_no_stored_place_holds_a_value"
)

# Options the engine honours itself, whatever runs the task: the tests that prove it.
ENGINE: dict[str, list[str]] = {
    "display_name": [
        "ui/src/graph.test.ts::a task's display_name labels its node: its own, else its "
        "component's, else the default",
    ],
    "retry": [
        "tests/engine/test_engine_retries.py::"
        "test_a_task_that_fails_twice_succeeds_on_its_third_attempt_after_growing_waits",
    ],
    "cache": [
        "tests/engine/test_engine_caching.py::test_a_task_with_cache_false_runs_again_while_others_hit",
        "tests/engine/test_engine_caching.py::test_a_cache_entry_expires_after_its_ttl",
    ],
    "trigger_rule": [
        "tests/engine/test_engine_triggers.py::test_trigger_rule_downstream_of_a_failure",
        "tests/engine/test_engine_setup_teardown.py::"
        "test_always_runs_at_once_without_waiting_for_its_upstream",
        "tests/engine/test_engine_setup_teardown.py::"
        "test_one_done_starts_once_the_first_upstream_ends",
    ],
    "setup": [
        "tests/engine/test_engine_setup_teardown.py::"
        "test_a_failed_setup_leaves_its_work_and_teardown_unrun",
        "tests/engine/test_engine_setup_teardown.py::"
        "test_a_task_inside_a_failed_setups_scope_does_not_run_whatever_its_rule",
    ],
    "teardown": [
        "tests/engine/test_engine_setup_teardown.py::"
        "test_a_teardown_runs_after_failed_work_and_the_work_fails_the_run",
        "tests/engine/test_engine_setup_teardown.py::test_a_failed_teardown_does_not_fail_the_run",
    ],
    "on_failure_fail_run": [
        "tests/engine/test_engine_setup_teardown.py::"
        "test_a_failed_teardown_fails_the_run_when_it_says_on_failure_fail_run",
    ],
    "pool": [
        "tests/engine/test_pools_concurrency.py::test_a_one_slot_pool_runs_its_tasks_one_at_a_time",
    ],
    "pool_slots": [
        "tests/engine/test_pools_concurrency.py::"
        "test_tasks_taking_two_slots_share_a_pool_as_far_as_its_slots_go",
    ],
    "priority": [
        "tests/engine/test_pools_concurrency.py::"
        "test_waiting_tasks_of_one_run_start_highest_priority_first",
    ],
    "assets": [
        "tests/scheduler/test_assets_scheduling.py::"
        "test_real_producers_trigger_the_consumer_and_it_runs",
    ],
    "register_models": [
        "tests/registry/test_registry_flow.py::test_the_register_option_registers_the_output",
    ],
    "notifications": [
        "tests/engine/test_task_notifications.py::"
        "test_task_events_reach_the_tasks_own_targets_with_the_task_path",
    ],
    "secrets": [SECRETS_TEST],
    "connections": [SECRETS_TEST],
    "variables": [SECRETS_TEST],
    "sensor": [
        "tests/sensors/test_sensor_waits.py::"
        "test_a_path_sensor_waits_deferred_and_fires_when_the_file_lands",
        "tests/sensors/test_sensor_waits.py::test_a_sensor_that_times_out_fails_or_with_soft_fail_skips",
    ],
}

CONFORMANCE = "tests/executors/test_conformance.py::"

# Options that depend on where a task runs, per executor: the tests that prove the
# executor honours it, or REFUSED.
EXECUTOR: dict[tuple[str, str], list[str] | str] = {
    ("local", "timeout_seconds"): [
        CONFORMANCE + "test_a_timeout_kills_the_whole_process_tree_even_when_it_ignores_sigterm",
        "tests/engine/test_engine_timeouts.py::"
        "test_a_timed_out_task_and_its_child_are_killed_even_when_they_ignore_sigterm",
    ],
    ("local", "env"): [
        CONFORMANCE
        + "test_the_task_sees_its_own_variables_and_directory_but_not_the_callers_secrets",
        CONFORMANCE + "test_variables_an_interpreter_reads_as_it_starts_take_effect_in_the_task",
        "tests/engine/test_task_environment.py::"
        "test_tasks_get_a_scrubbed_environment_plus_what_is_asked_and_allowed",
    ],
    ("local", "packages"): [
        CONFORMANCE
        + "test_a_task_in_a_prepared_environment_sees_its_packages_and_none_of_the_engines",
        "tests/engine/test_engine_envs.py::test_a_step_imports_its_package_which_the_engine_does_not_have",
        "tests/engine/test_engine_envs.py::"
        "test_two_steps_of_one_run_with_conflicting_pins_each_see_their_own_version",
    ],
    ("local", "fresh_interpreter"): [
        CONFORMANCE + "test_a_task_that_asks_for_a_fresh_interpreter_runs_in_one",
    ],
    ("local", "resources.cpu"): [
        CONFORMANCE + "test_capacity_is_held_while_a_task_runs_and_given_back_when_it_ends",
        CONFORMANCE + "test_resources_the_machine_does_not_have_are_refused_with_the_reason",
    ],
    ("local", "resources.memory_bytes"): [
        CONFORMANCE + "test_a_task_over_its_memory_request_is_killed_and_its_use_reported",
    ],
    ("local", "resources.gpu"): [
        "tests/engine/test_engine_gpus.py::"
        "test_gpu_tasks_get_distinct_devices_and_a_third_waits_for_a_free_one",
    ],
    ("local", "resources.accelerator"): REFUSED,
    ("local", "resources.custom"): REFUSED,
    ("local", "image"): REFUSED,
    # The Ray executor runs each task on its node through that node's local executor.
    ("ray", "timeout_seconds"): [
        CONFORMANCE + "test_a_timeout_kills_the_whole_process_tree_even_when_it_ignores_sigterm",
    ],
    ("ray", "env"): [
        CONFORMANCE
        + "test_the_task_sees_its_own_variables_and_directory_but_not_the_callers_secrets",
    ],
    ("ray", "packages"): [
        CONFORMANCE
        + "test_a_task_in_a_prepared_environment_sees_its_packages_and_none_of_the_engines",
    ],
    ("ray", "fresh_interpreter"): [
        CONFORMANCE + "test_a_task_that_asks_for_a_fresh_interpreter_runs_in_one",
    ],
    ("ray", "resources.cpu"): [
        CONFORMANCE + "test_capacity_is_held_while_a_task_runs_and_given_back_when_it_ends",
        "tests/executors/test_ray_runs.py::"
        "test_a_task_needing_more_than_any_node_has_fails_at_once_with_the_reason",
    ],
    ("ray", "resources.memory_bytes"): [
        CONFORMANCE + "test_a_task_over_its_memory_request_is_killed_and_its_use_reported",
    ],
    ("ray", "resources.gpu"): [
        "tests/executors/test_ray_runs.py::"
        "test_gpu_tasks_of_a_run_get_their_own_devices_and_a_third_waits",
    ],
    ("ray", "resources.accelerator"): [
        "tests/executors/test_ray_executor.py::"
        "test_a_task_asking_for_a_kind_of_accelerator_runs_on_the_node_that_has_it",
        "tests/executors/test_ray_executor.py::"
        "test_requests_no_node_can_meet_are_refused_with_the_reason",
    ],
    ("ray", "resources.custom"): [
        "tests/executors/test_ray_runs.py::"
        "test_tasks_asking_for_a_custom_resource_run_on_the_node_that_offers_it",
    ],
    ("ray", "image"): REFUSED,
}

# The real runs that see each executor refuse: 'headwater run' here for the local one, on
# a real two-node cluster for the Ray one.
REFUSED_RUNS = {
    "local": "tests/engine/test_options_honoured.py::"
    "test_headwater_run_refuses_an_option_before_any_run_is_created",
    "ray": "tests/executors/test_ray_cli.py::test_run_on_ray_refuses_an_image_and_creates_no_run",
}

# How a component sets each option that depends on the executor (keyword, value), and
# the value the spec holds for it.
SETS: dict[str, tuple[str, Any, Any]] = {
    "timeout_seconds": ("timeout", 30, 30.0),
    "env": ("env", {"APP_MODE": "test"}, {"APP_MODE": "test"}),
    "packages": ("packages", ["six==1.17.0"], ["six==1.17.0"]),
    "image": ("image", "python:3.12-slim", "python:3.12-slim"),
    "fresh_interpreter": ("fresh_interpreter", True, True),
    "resources.cpu": ("cpu", 1, 1.0),
    "resources.memory_bytes": ("memory", "64Mi", 64 * 2**20),
    "resources.gpu": ("gpu", 1, 1),
    "resources.accelerator": ("accelerator", "nvidia-h100", "nvidia-h100"),
    "resources.custom": ("resources", {"special": 1.0}, {"special": 1.0}),
}


def all_options() -> list[str]:
    """Every field of TaskOptions, with its resources field by field."""
    names = []
    for name in TaskOptions.model_fields:
        if name == "resources":
            names.extend(f"resources.{field}" for field in Resources.model_fields)
        else:
            names.append(name)
    return names


def executor_options() -> list[str]:
    return [o for o in all_options() if o not in ENGINE_OPTIONS]


def refused_pairs(kinds: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    return [
        (kind, option)
        for (kind, option), how in EXECUTOR.items()
        if how == REFUSED and (kinds is None or kind in kinds)
    ]


def exists(reference: str) -> bool:
    """Whether the test ``file::name`` is there (a Python test function, or a UI test)."""
    file, _, name = reference.partition("::")
    path = REPO / file
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    if file.endswith(".py"):
        return re.search(rf"^def {re.escape(name)}\(", text, re.MULTILINE) is not None
    return f'test("{name}"' in text


@pytest.fixture(autouse=True)
def _no_ignore_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWATER_IGNORE_IMAGE", raising=False)


# --------------------------------------------------------------------------- the table


def test_every_option_has_a_decision_on_every_executor() -> None:
    assert set(ENGINE) == ENGINE_OPTIONS, "the engine's own options and this table differ"
    assert "resources" not in ENGINE_OPTIONS  # asked of executors field by field
    missing = [
        f"{kind} x {option}"
        for option in executor_options()
        for kind in EXECUTORS
        if (kind, option) not in EXECUTOR
    ]
    assert not missing, f"no decision for: {', '.join(missing)}"
    assert set(SETS) == set(executor_options())


@pytest.mark.parametrize("option", sorted(ENGINE))
def test_an_option_of_the_engine_is_proved_by_a_test_that_exists(option: str) -> None:
    assert ENGINE[option], option
    for reference in ENGINE[option]:
        assert exists(reference), f"{option}: no test {reference}"


@pytest.mark.parametrize(("kind", "option"), sorted(EXECUTOR))
def test_an_executor_declares_what_the_table_says(kind: str, option: str) -> None:
    refuse = EXECUTORS[kind].refuse
    reason = refuse(option, SETS[option][2])
    if EXECUTOR[(kind, option)] == REFUSED:
        assert reason, f"the {kind} executor does not refuse {option}"
        assert f"the {kind} executor" in reason and "; " in reason, reason  # why; what to do
        assert exists(REFUSED_RUNS[kind]), f"no real run sees the {kind} executor refuse"
    else:
        assert reason is None, f"the {kind} executor refuses {option}: {reason}"
        for reference in EXECUTOR[(kind, option)]:
            assert exists(reference), f"{kind} x {option}: no test {reference}"


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
def test_an_option_an_executor_does_not_know_is_refused(kind: str) -> None:
    assert EXECUTORS[kind].refuse("resources.qubits", 2)


# --------------------------------------------------------------------------- refused


_probes = itertools.count()


def _probe(folder: Path, option: str) -> Path:
    """A pipeline whose one task sets ``option``, in a module of a name used once."""
    keyword, value, _ = SETS[option]
    name = f"probe_{option.replace('.', '_')}_{next(_probes)}"
    return write_pipeline(
        folder,
        name,
        f"""
        from headwater import component, pipeline


        @component({keyword}={value!r})
        def fit() -> str:
            return "ran"


        @pipeline
        def {name}() -> None:
            fit()
        """,
    )


def _nothing_recorded(home: Path) -> None:
    ws = Workspace.open()
    try:
        assert ws.store.runs.list_runs(limit=10) == []
        assert ws.store.pipelines.list_pipelines() == []
    finally:
        ws.close()


@pytest.mark.parametrize(("kind", "option"), refused_pairs())
def test_a_refused_option_names_the_pipeline_task_option_and_executor(
    kind: str, option: str, tmp_path: Path
) -> None:
    path = _probe(tmp_path, option)
    with compile_root(str(tmp_path)):
        spec = load_pipeline(str(path)).compile()

    with pytest.raises(OptionNotHonoured) as caught:
        check_options(spec, kind)

    error = caught.value
    keyword, value, _ = SETS[option]
    assert (error.location.pipeline, error.location.task) == (path.stem, "fit")
    assert f"{keyword}={value!r}" in error.message and f"the {kind} executor" in error.message
    assert error.hint


# headwater run with a cluster executor connects first: tests/executors runs those.
@pytest.mark.parametrize(("kind", "option"), refused_pairs(("local",)))
def test_headwater_run_refuses_an_option_before_any_run_is_created(
    kind: str, option: str, tmp_path: Path, home: Path, cli: Cli
) -> None:
    path = _probe(tmp_path, option)
    with compile_root(str(tmp_path)):
        spec = load_pipeline(str(path)).compile()
    (comp,) = spec.components.values()
    assert option.split(".")[0] in comp.options.model_dump(exclude_defaults=True)

    args = ["run", path] if kind == "local" else ["run", path, "--executor", kind]
    done = cli(*args)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    keyword, value, _ = SETS[option]
    for part in (
        f"pipeline '{path.stem}'",
        "task 'fit'",
        f"{keyword}={value!r}",
        f"the {kind} executor",
        "fix: ",
    ):
        assert part in output, f"{part!r} missing from: {output}"
    assert "Traceback" not in output
    _nothing_recorded(home)


def test_image_says_what_to_use_instead_and_how_to_run_anyway(tmp_path: Path, cli: Cli) -> None:
    done = cli("run", _probe(tmp_path, "image"))
    assert done.returncode == 1
    assert (
        "task 'fit' sets image='python:3.12-slim', but the local executor runs steps on "
        "this machine's Python\n  fix: use packages= for its dependencies or compile the "
        "pipeline for Kubeflow, or pass --ignore-image to run it here anyway" in done.stderr
    ), done.stderr


def test_ignore_image_runs_it_saying_so_once_and_in_the_tasks_log(
    tmp_path: Path, workspace: Workspace, cli: Cli
) -> None:
    done = cli("run", _probe(tmp_path, "image"), "--ignore-image")

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("image= is ignored as asked") == 1, output
    assert "task 'fit' (python:3.12-slim) runs there, not in its image" in output
    (run,) = workspace.store.runs.list_runs()
    (attempt,) = workspace.store.tasks.task_runs(run.id)
    assert attempt.log_path is not None
    log = Path(attempt.log_path).read_text()
    assert log.startswith("[headwater] image='python:3.12-slim' is ignored as asked"), log


def test_the_setting_ignores_image_for_python_runs_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = _probe(tmp_path, "image")
    with compile_root(str(tmp_path)):
        pipeline = load_pipeline(str(path))
    with pytest.raises(OptionNotHonoured, match="pass --ignore-image"):
        headwater.run(pipeline)

    monkeypatch.setenv("HEADWATER_IGNORE_IMAGE", "1")
    with caplog.at_level(logging.WARNING, logger="headwater.engine"):
        run = headwater.run(pipeline)
    assert run.succeeded
    assert [r.getMessage() for r in caplog.records].count(
        f"run {run.id}: image= is ignored as asked (--ignore-image or HEADWATER_IGNORE_IMAGE=1): "
        "the local executor runs steps on this machine's Python, so task 'fit' "
        "(python:3.12-slim) runs there, not in its image"
    ) == 1


def test_a_bad_ignore_image_setting_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_IGNORE_IMAGE", "maybe")
    with pytest.raises(Exception, match="HEADWATER_IGNORE_IMAGE='maybe' is neither on nor off"):
        Workspace.open()


# --------------------------------------------------------------------------- the engine's rules


def _spec(tmp_path: Path, name: str, source: str) -> Any:
    """The spec of pipeline ``name`` in ``source`` (a module of a name used once)."""
    path = write_pipeline(tmp_path, f"{name}_{next(_probes)}", source)
    with compile_root(str(tmp_path)):
        return load_pipeline(f"{path}:{name}").compile()


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
def test_options_on_a_pipeline_used_as_a_step_are_refused_but_its_trigger_rule_is_not(
    kind: str, tmp_path: Path
) -> None:
    spec = _spec(
        tmp_path,
        "nested_options",
        """
        from headwater import component, pipeline


        @component
        def leaf() -> str:
            return "x"


        @pipeline
        def inner_steps() -> None:
            leaf()


        @pipeline
        def nested_options() -> None:
            inner_steps().set_trigger_rule("all_done").set_display_name("Inner")
            inner_steps().set_retry(2)
        """,
    )
    with pytest.raises(OptionNotHonoured) as caught:
        check_options(spec, kind)
    error = caught.value
    assert (error.location.pipeline, error.location.task) == ("nested_options", "inner_steps-2")
    assert (
        "task 'inner_steps-2' sets retries=2, but 'inner_steps-2' is a pipeline used as a step"
        in (error.message)
    )
    assert error.hint is not None and "pipeline 'inner_steps'" in error.hint


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
def test_cache_on_an_importer_is_refused(kind: str, tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "importer_cache",
        """
        from headwater import Dataset, importer, pipeline


        @pipeline
        def importer_cache() -> None:
            importer("file:///tmp/data.csv", Dataset).set_caching_options(False)
        """,
    )
    with pytest.raises(OptionNotHonoured, match="an importer does not cache"):
        check_options(spec, kind)


@pytest.mark.parametrize("kind", sorted(EXECUTORS))
@pytest.mark.parametrize(
    ("env", "gpu", "named"),
    [
        ({"HEADWATER_RUN_ID": "mine"}, None, "HEADWATER_RUN_ID"),
        (
            {"HEADWATER_ATTEMPT": "1", "HEADWATER_TASK": "t"},
            None,
            "HEADWATER_TASK, HEADWATER_ATTEMPT",
        ),
        ({"CUDA_VISIBLE_DEVICES": "3"}, 1, "CUDA_VISIBLE_DEVICES"),
    ],
)
def test_env_that_headwater_sets_itself_is_refused(
    kind: str, env: dict[str, str], gpu: int | None, named: str, tmp_path: Path
) -> None:
    options = {"env": env, **({"gpu": gpu} if gpu is not None else {})}
    spec = _spec(
        tmp_path,
        "env_taken",
        f"""
        from headwater import component, pipeline


        @component(**{options!r})
        def fit() -> str:
            return "x"


        @pipeline
        def env_taken() -> None:
            fit()
        """,
    )
    with pytest.raises(OptionNotHonoured, match=f"sets env {named}, but Headwater sets"):
        check_options(spec, kind)


def test_cuda_visible_devices_of_a_task_without_gpus_is_its_own(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "env_no_gpu",
        """
        from headwater import component, pipeline


        @component(env={"CUDA_VISIBLE_DEVICES": ""})
        def fit() -> str:
            return "x"


        @pipeline
        def env_no_gpu() -> None:
            fit()
        """,
    )
    assert check_options(spec, "local") == []
    # The Ray executor's node sets it for every task (empty for a task that asks for no
    # GPU: tests/executors/test_ray_executor.py::test_a_task_without_a_gpu_sees_none).
    with pytest.raises(OptionNotHonoured) as caught:
        check_options(spec, "ray")
    assert caught.value.message.startswith(
        "task 'fit' sets env={'CUDA_VISIBLE_DEVICES': ''}, but the ray executor sets "
        "CUDA_VISIBLE_DEVICES to the GPUs Ray gives a task"
    )
    assert caught.value.hint == "ask for gpu= instead"


# --------------------------------------------------------------------------- every path


def _stored_run(ws: Workspace, tmp_path: Path, option: str) -> Any:
    """A queued run of a version that sets ``option``, stored as an older Headwater (or a
    schedule) would have: without the check."""
    path = _probe(tmp_path, option)
    with compile_root(str(tmp_path)):
        spec = load_pipeline(str(path)).compile()
    version = ws.store.pipelines.register_version(
        spec.name, spec.description, digest(spec), to_data(spec), str(tmp_path)
    )
    return ws.store.runs.create_run(version, {})


@pytest.mark.parametrize("option", ["image", "resources.accelerator"])
def test_a_run_created_without_the_check_fails_at_its_start_before_any_task(
    option: str, tmp_path: Path, workspace: Workspace
) -> None:
    run = _stored_run(workspace, tmp_path, option)

    status = execute_run(workspace, run)

    assert status is RunStatus.FAILED
    record = workspace.store.runs.get_run(run.id)
    assert record.error is not None and f"sets {SETS[option][0]}=" in record.error
    assert "the local executor" in record.error
    assert workspace.store.tasks.task_runs(run.id) == []


def test_resume_refuses_before_it_touches_the_run(tmp_path: Path, workspace: Workspace) -> None:
    run = _stored_run(workspace, tmp_path, "image")
    with pytest.raises(OptionNotHonoured, match="pass --ignore-image"):
        resume_run(workspace, run.id)
    assert workspace.store.runs.get_run(run.id).status is RunStatus.QUEUED
    assert resume_run(workspace, run.id, ignore_image=True) is RunStatus.SUCCEEDED


def test_deploy_and_a_local_trigger_are_refused(tmp_path: Path, home: Path, cli: Cli) -> None:
    path = _probe(tmp_path, "resources.accelerator")
    deployed = cli("deploy", path)
    assert deployed.returncode == 1
    assert "sets accelerator='nvidia-h100', but the local executor" in deployed.stderr
    _nothing_recorded(home)

    ws = Workspace.open()
    try:
        stored = _stored_run(ws, tmp_path, "resources.accelerator")  # as an older Headwater would
        before = len(ws.store.runs.list_runs())
    finally:
        ws.close()
    triggered = cli("trigger", path.stem, "--version", stored.version_id)
    assert triggered.returncode == 1
    assert "sets accelerator='nvidia-h100', but the local executor" in triggered.stderr
    ws = Workspace.open()
    try:
        assert len(ws.store.runs.list_runs()) == before
    finally:
        ws.close()


def test_refusals_travel_as_json_with_their_location(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "located",
        """
        from headwater import component, pipeline


        @component(image="python:3.12-slim")
        def fit() -> str:
            return "x"


        @pipeline
        def located() -> None:
            fit()
        """,
    )
    with pytest.raises(OptionNotHonoured) as caught:
        check_options(spec)
    where = caught.value.location
    assert (where.pipeline, where.task) == ("located", "fit")
    assert where.file is not None and where.file.startswith("located_")
    lines = (tmp_path / where.file).read_text().splitlines()
    assert where.line is not None and lines[where.line - 1].strip() == "fit()"
