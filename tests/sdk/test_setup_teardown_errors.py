"""Bad trigger rules and setup/teardown options: each refused where it is written, with
the pipeline, task, file and line, and a fix."""

from __future__ import annotations

from typing import Any

import pytest
from markers import assert_location, compile_error, definition_error, line_of, only_problem

from headwater import component, pipeline
from headwater.errors import DefinitionError
from headwater.spec import TriggerRule

HERE = __file__


@component
def make() -> str:
    return "made"


@component
def use(thing: str = "") -> str:
    return thing


@component
def clean() -> None:
    pass


@component(setup=True)
def create() -> str:
    return "cluster"


@component(teardown=True)
def delete() -> None:
    pass


def component_error(**options: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:

        @component(**options)  # mark: component
        def configured() -> None:
            pass

    assert info.value.location.line == line_of("component", HERE)
    return info.value


def test_an_unknown_trigger_rule_lists_all_thirteen() -> None:
    error = component_error(trigger_rule="when_ready")

    assert "unknown trigger_rule 'when_ready'" in error.message
    hint = error.hint or ""
    for rule in TriggerRule:
        assert rule.value in hint, f"{rule.value} is not listed in: {hint}"


def test_every_airflow_rule_is_accepted() -> None:
    for rule in TriggerRule:

        @component(trigger_rule=rule.value)
        def ruled() -> None:
            pass


@pytest.mark.parametrize("key", ["setup", "teardown", "on_failure_fail_run"])
def test_setup_flags_must_be_booleans(key: str) -> None:
    error = component_error(**{key: "yes"})

    assert f"{key} must be True or False, got 'yes'" in error.message
    assert error.hint


def test_a_component_cannot_be_both_setup_and_teardown() -> None:
    error = component_error(setup=True, teardown=True)

    assert "both a setup and a teardown" in error.message
    assert "teardown=True" in (error.hint or "")


def test_a_setup_component_made_a_teardown_per_call_is_refused() -> None:
    @pipeline
    def both_ways() -> None:
        create().set_options(teardown=True)  # mark: both-ways

    problem = only_problem(compile_error(both_ways), "setup_teardown")
    assert "both a setup and a teardown" in problem.message
    assert_location(
        problem, pipeline="both_ways", task="create", file=HERE, line=line_of("both-ways", HERE)
    )


def test_a_teardown_without_a_setup_upstream_is_refused() -> None:
    @pipeline
    def lonely_teardown() -> None:
        made = make()
        delete().after(made)  # mark: lonely

    problem = only_problem(compile_error(lonely_teardown), "setup_teardown")
    assert "teardown has no setup task upstream" in problem.message
    assert ".as_teardown(setups=" in (problem.hint or "")
    assert "trigger_rule" in (problem.hint or "")
    assert_location(
        problem, pipeline="lonely_teardown", task="delete", file=HERE, line=line_of("lonely", HERE)
    )


def test_a_teardown_without_a_setup_but_with_a_trigger_rule_compiles() -> None:
    @pipeline
    def ruled_teardown() -> None:
        delete().after(make()).set_trigger_rule("all_done")

    spec = ruled_teardown.compile()
    task = next(t for t in spec.dag.nodes if t.name == "delete")
    assert task.options.trigger_rule is TriggerRule.ALL_DONE


def test_on_failure_fail_run_is_only_for_a_teardown() -> None:
    @pipeline
    def not_a_teardown() -> None:
        use().set_options(on_failure_fail_run=True)  # mark: fail-run

    problem = only_problem(compile_error(not_a_teardown), "setup_teardown")
    assert "on_failure_fail_run is set on a task that is not a teardown" in problem.message
    assert_location(
        problem, pipeline="not_a_teardown", task="use", file=HERE, line=line_of("fail-run", HERE)
    )


def test_a_task_right_after_a_setup_must_use_all_success() -> None:
    @pipeline
    def eager_after_setup() -> None:
        cluster = create()
        use(thing=cluster.output).set_trigger_rule("all_done")  # mark: eager
        delete().after(cluster)

    problem = only_problem(compile_error(eager_after_setup), "setup_teardown")
    assert "right after a setup but has trigger rule 'all_done'" in problem.message
    assert_location(
        problem, pipeline="eager_after_setup", task="use", file=HERE, line=line_of("eager", HERE)
    )


def test_as_teardown_takes_tasks() -> None:
    @pipeline
    def bad_setups() -> None:
        clean().as_teardown(setups=["make"])  # mark: bad-setups

    error = definition_error(bad_setups)
    assert "as_teardown(setups=...) takes the setup tasks, got 'make'" in error.message
    assert_location(
        error, pipeline="bad_setups", task="clean", file=HERE, line=line_of("bad-setups", HERE)
    )


def test_as_teardown_marks_the_setups_and_waits_for_them() -> None:
    @pipeline
    def paired() -> None:
        made = make()
        used = use(thing=made.output)
        clean().after(used).as_teardown(setups=made, on_failure_fail_run=True)

    nodes = {t.name: t for t in paired.compile().dag.nodes}
    assert nodes["make"].options.setup is True
    assert nodes["clean"].options.teardown is True
    assert nodes["clean"].options.on_failure_fail_run is True
    assert set(nodes["clean"].after) == {"use", "make"}
