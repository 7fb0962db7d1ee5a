"""Setup/teardown and the 13 trigger rules in spec documents: they survive JSON and YAML,
and documents edited by hand are held to the same rules as compiled ones."""

from __future__ import annotations

import pytest
from markers import only_problem

from headwater import ExitHandler, FinalStatus, component, pipeline
from headwater.errors import SpecError, ValidationError
from headwater.spec import TriggerRule, dumps, from_data, loads, to_data, validate


@component(setup=True)
def create() -> str:
    return "cluster"


@component
def use(thing: str) -> str:
    return thing


@component(teardown=True)
def delete() -> None:
    pass


@component
def notify(status: FinalStatus) -> None:
    pass


@pipeline
def cluster_flow() -> None:
    cluster = create()
    used = use(thing=cluster.output)
    delete().after(used, cluster).set_options(on_failure_fail_run=True)
    use(thing="x").set_trigger_rule("none_failed_min_one_success").after(used)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_setup_teardown_and_new_rules_survive_json_and_yaml(fmt: str) -> None:
    spec = cluster_flow.compile()

    again = loads(dumps(spec, format=fmt))

    assert again == spec
    assert again.components["create"].options.setup is True
    assert again.components["delete"].options.teardown is True
    nodes = {t.name: t for t in again.dag.nodes}
    assert nodes["delete"].options.on_failure_fail_run is True
    assert nodes["use-2"].options.trigger_rule is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


def test_an_unknown_trigger_rule_in_a_document_names_the_valid_ones() -> None:
    data = to_data(cluster_flow.compile())
    data["root"]["implementation"]["dag"]["nodes"][1]["options"] = {"trigger_rule": "sometimes"}

    with pytest.raises(SpecError) as info:
        from_data(data)

    text = str(info.value)
    assert "nodes.1.task.options.trigger_rule" in text
    assert "one_done" in text and "all_done_setup_success" in text


def test_task_defaults_cannot_make_every_task_a_setup() -> None:
    data = to_data(cluster_flow.compile())
    data["task_defaults"] = {"setup": True}

    with pytest.raises(ValidationError) as info:
        validate(from_data(data))

    problems = [p for p in info.value.problems if "task_defaults cannot set setup" in p.message]
    assert problems, str(info.value)
    assert problems[0].hint and "as_setup()" in problems[0].hint


def test_a_document_teardown_that_loses_its_setup_is_refused() -> None:
    data = to_data(cluster_flow.compile())
    data["components"]["create"]["options"].pop("setup")

    with pytest.raises(ValidationError) as info:
        validate(from_data(data))

    problem = only_problem(info.value, "setup_teardown")
    assert "teardown has no setup task upstream" in problem.message
    assert problem.location.task == "delete"
    assert problem.location.pipeline == "cluster_flow"
    assert problem.location.line is not None


def test_an_exit_task_cannot_be_a_teardown() -> None:
    @pipeline
    def guarded() -> None:
        cluster = create()
        with ExitHandler(notify().set_options(teardown=True).after(cluster)):
            use(thing="x")

    with pytest.raises(ValidationError) as info:
        guarded.compile()

    assert any(
        "exit task cannot be a setup or a teardown" in p.message for p in info.value.problems
    ), str(info.value)
