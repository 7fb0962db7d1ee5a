"""What ``to_kfp`` writes for each Headwater option and construct (docs/kubeflow.md's
table), and each refusal with its message, location and fix. No kfp needed: the IR is read
as YAML; test_kfp_export.py has kfp load and run it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from headwater.errors import ExportError, Problem
from headwater.interop import DEFAULT_BASE_IMAGE, KFP_RUNTIME, KfpPackage, to_kfp
from headwater.sdk import Pipeline, compile_root
from headwater.spec import PipelineSpec

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PIPELINES = REPO / "tests" / "pipelines"
for folder in (HERE, PIPELINES):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import kfp_cases  # noqa: E402
from markers import line_of  # noqa: E402

CASES_FILE = HERE / "kfp_cases.py"


def compiled(p: Pipeline, folder: Path = HERE) -> PipelineSpec:
    with compile_root(str(folder)):
        return p.compile()


def export(p: Pipeline, **kwargs: Any) -> tuple[KfpPackage, dict[str, Any]]:
    package = to_kfp(compiled(p), root=str(HERE), **kwargs)
    return package, yaml.safe_load(package.text)


def refused(p: Pipeline) -> list[Problem]:
    with pytest.raises(ExportError) as info:
        to_kfp(compiled(p), root=str(HERE))
    error = info.value
    assert error.pipeline == p.name
    assert str(error).startswith(f"pipeline '{p.name}' cannot be compiled to Kubeflow")
    for problem in error.problems:
        assert problem.hint, problem
        assert str(problem) in str(error)
    return error.problems


def only(p: Pipeline) -> Problem:
    problems = refused(p)
    assert len(problems) == 1, problems
    return problems[0]


def executor(doc: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    comp = doc["components"][task["componentRef"]["name"]]
    return dict(doc["deploymentSpec"]["executors"][comp["executorLabel"]])


# --------------------------------------------------------------------------- options


def test_task_options_map_to_the_ir_fields_kfp_writes() -> None:
    package, doc = export(kfp_cases.options_pipeline)
    tasks = doc["root"]["dag"]["tasks"]

    heavy = tasks["heavy"]
    assert heavy["taskInfo"] == {"name": "Heavy lifting"}
    assert heavy["retryPolicy"] == {
        "maxRetryCount": 3,
        "backoffDuration": "5s",
        "backoffFactor": 2.0,
        "backoffMaxDuration": "60s",
    }
    assert heavy["cachingOptions"] == {"enableCache": True}
    container = executor(doc, heavy)["container"]
    assert container["image"] == "python:3.12-slim"
    assert container["env"] == [{"name": "MODE", "value": "fast"}]
    assert container["resources"] == {
        "cpuLimit": 0.5,
        "resourceCpuLimit": "500m",
        "memoryLimit": 3 * 2**30 / 1e9,
        "resourceMemoryLimit": "3Gi",
        "accelerator": {
            "count": "2",
            "resourceCount": "2",
            "resourceType": "nvidia.com/gpu",
            "type": "nvidia.com/gpu",
        },
    }
    setup, run = container["command"][2], container["command"][5]
    assert "pip install --quiet --no-warn-script-location 'tabulate==0.9.0'" in setup
    assert f"'{KFP_RUNTIME}' '--no-deps'" in setup
    # The timeout is the container's: the executor runs under coreutils' timeout.
    assert "timeout --kill-after=10 90 python3 -m kfp.dsl.executor_main" in run
    assert container["args"] == ["--executor_input", "{{$}}", "--function_to_execute", "heavy"]

    # A cache that expires cannot be kept by Kubeflow: caching is off, and a note says so.
    assert tasks["expiring"]["cachingOptions"] == {}
    assert any("caching is off for 'expiring'" in n for n in package.notes)
    assert tasks["uncached"]["cachingOptions"] == {}
    assert tasks["plain"]["taskInfo"] == {"name": "Plain step"}
    assert "triggerPolicy" not in tasks["plain"]
    assert tasks["plain-3"]["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert "triggerPolicy" not in tasks["plain-4"]  # none_failed: Kubeflow's own default
    assert tasks["plain-3"]["dependentTasks"] == ["plain-2"]
    assert executor(doc, tasks["plain"])["container"]["image"] == DEFAULT_BASE_IMAGE


def test_the_base_image_is_for_components_without_their_own() -> None:
    _, doc = export(kfp_cases.options_pipeline, base_image="registry.example/base:1")
    tasks = doc["root"]["dag"]["tasks"]
    assert executor(doc, tasks["plain"])["container"]["image"] == "registry.example/base:1"
    assert executor(doc, tasks["heavy"])["container"]["image"] == "python:3.12-slim"


def test_caching_off_for_the_pipeline_is_off_for_every_task() -> None:
    _, doc = export(kfp_cases.uncached_pipeline)
    assert doc["root"]["dag"]["tasks"]["plain"]["cachingOptions"] == {}


def test_single_return_values_are_named_output_as_kubeflow_names_them() -> None:
    _, doc = export(kfp_cases.options_pipeline)
    comp = doc["components"]["comp-pair"]
    assert comp["outputDefinitions"] == {
        "artifacts": {
            "out": {"artifactType": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}}
        },
        "parameters": {"Output": {"parameterType": "NUMBER_INTEGER"}},
    }
    # The only output of a pipeline that returns one value is Kubeflow's Output too.
    assert doc["root"]["outputDefinitions"] == {
        "parameters": {"Output": {"parameterType": "NUMBER_INTEGER"}}
    }
    _, single = export(kfp_cases.single_output)
    assert single["root"]["dag"]["outputs"] == {
        "parameters": {
            "Output": {
                "valueFromParameter": {"producerSubtask": "plain", "outputParameterKey": "Output"}
            }
        }
    }


def test_component_code_is_the_function_with_kubeflow_annotations_and_its_constants() -> None:
    _, doc = export(kfp_cases.options_pipeline)
    source = executor(doc, doc["root"]["dag"]["tasks"]["lookup"])["container"]["command"][-1]
    assert source.startswith("import kfp\nfrom kfp import dsl\nfrom kfp.dsl import *\n")
    assert "LIMITS = {'rows': [1, 2, 3], 'name': 'limits'}\n" in source
    assert "def lookup(rows: list, table: dict, name: str = 'limits') -> int:" in source
    # Kubeflow may hand a list of ints over as floats: they are made ints again.
    assert "rows = _headwater_ints(rows, ('list', 'int'))" in source
    assert "table = _headwater_ints(table, ('dict', 'int'))" in source
    namespace: dict[str, Any] = {}
    exec(compile(source.split("\n", 4)[4], "lookup", "exec"), namespace)  # without kfp
    assert namespace["lookup"](rows=[1.0, 2.0], table={"a": 1.0}) == 2 + 1 + 6 + 2


def test_a_component_of_the_same_module_is_a_helper_with_its_python_func() -> None:
    _, doc = export(kfp_cases.helper_component)
    task = doc["root"]["dag"]["tasks"]["calls-plain"]
    source = executor(doc, task)["container"]["command"][-1]
    assert "def plain(x):\n    return x\nplain.python_func = plain\n" in source
    namespace: dict[str, Any] = {}
    exec(compile(source.split("\n", 4)[4], "calls_plain", "exec"), namespace)  # without kfp
    assert namespace["calls_plain"](x=2) == 3


def test_conditions_are_cel_over_the_inputs_of_each_branch() -> None:
    _, doc = export(kfp_cases.conditions)
    comps = doc["components"]
    branches = comps["comp-either"]["dag"]["tasks"]
    first = (
        "(int(inputs.parameter_values['pipelinechannel--plain-Output']) == 2) || "
        "(inputs.parameter_values['pipelinechannel--mode'] in ['a', 'b'])"
    )
    assert branches["either-1"]["triggerPolicy"] == {"condition": first}
    assert branches["either-2"]["triggerPolicy"] == {"condition": f"!({first})"}
    assert branches["either-1"]["taskInfo"] == {"name": "either-if"}
    assert branches["either-2"]["taskInfo"] == {"name": "either-else"}
    single = doc["root"]["dag"]["tasks"]["condition-1"]
    assert single["triggerPolicy"] == {
        "condition": "(!(int(inputs.parameter_values['pipelinechannel--plain-Output']) != 3)) && "
        "(!(inputs.parameter_values['pipelinechannel--mode'] in ['c']))"
    }
    assert single["dependentTasks"] == ["plain"]
    assert single["inputs"]["parameters"]["pipelinechannel--mode"] == {
        "componentInputParameter": "mode"
    }


def test_a_schedule_is_a_note_and_the_arguments_of_a_recurring_run() -> None:
    package, doc = export(kfp_cases.nightly)
    assert package.recurring_run == {
        "cron_expression": "0 0 4 * * *",
        "start_time": "2026-01-01T00:00:00+00:00",
        "no_catchup": True,
        "max_concurrency": 1,
    }
    note = next(n for n in package.notes if n.startswith("schedule 0 4 * * *"))
    assert "create_recurring_run(" in note and "cron_expression='0 0 4 * * *'" in note
    assert f"#    - {note}" in package.text  # the package's header says it too
    assert "schedule" not in yaml.safe_dump(doc)

    package, _ = export(kfp_cases.every_ten_minutes)
    assert package.recurring_run == {"interval_second": 600, "no_catchup": True}

    package, _ = export(kfp_cases.daily_in_paris)
    assert package.recurring_run == {"cron_expression": "0 0 0 * * *", "no_catchup": False}
    assert any(
        "Headwater reads the cron in Europe/Paris, Kubeflow in UTC" in n for n in package.notes
    )


def test_what_kubeflow_does_not_check_or_keep_is_noted() -> None:
    spec = compiled(_example("ml_pipeline"), REPO / "examples")
    package = to_kfp(spec, root=str(REPO / "examples"))
    notes = "\n".join(package.notes)
    assert (
        "constraints of parameter(s) n_samples, n_features, model_type, c, min_accuracy, "
        "model_name (they are in the parameters' descriptions)"
    ) in notes
    assert "tags example, classification and owner ml-platform" in notes
    assert "component 'make_dataset' imports pandas, sklearn" in notes
    doc = yaml.safe_load(package.text)
    assert doc["pipelineInfo"] == {
        "name": "ml-pipeline",
        "displayName": "ml_pipeline",
        "description": spec.description,
    }
    make = doc["root"]["dag"]["tasks"]["make-dataset"]
    assert make["taskInfo"] == {"name": "make_dataset"}
    assert make["retryPolicy"]["maxRetryCount"] == 1  # the pipeline's task_defaults
    n_samples = doc["root"]["inputDefinitions"]["parameters"]["n_samples"]
    assert n_samples == {
        "parameterType": "NUMBER_INTEGER",
        "isOptional": True,
        "defaultValue": 5000,
        "description": "Rows of synthetic data to generate. (Headwater checks: minimum 100.0)",
    }


def _example(name: str) -> Pipeline:
    from headwater.sdk import load_module

    with compile_root(str(REPO / "examples")):
        module = load_module(REPO / "examples" / f"{name}.py")
    value = getattr(module, name)
    assert isinstance(value, Pipeline)
    return value


# --------------------------------------------------------------------------- refusals


def assert_at(problem: Problem, pipeline: str, task: str | None, mark: str) -> None:
    loc = problem.location
    assert loc.pipeline == pipeline, problem
    assert loc.task == task, problem
    assert loc.file is not None and Path(loc.file).name == CASES_FILE.name, problem
    assert loc.line == line_of(mark, CASES_FILE), problem


def test_a_deadline_is_refused() -> None:
    problem = only(kfp_cases.with_deadline)
    assert problem.message == "has a deadline, which Kubeflow runs do not have"
    assert problem.location.pipeline == "with_deadline"
    assert problem.location.line == line_of("deadline", CASES_FILE)


@pytest.mark.parametrize(
    ("p", "task", "mark", "message"),
    [
        (
            kfp_cases.custom_resources,
            "disk_hungry",
            "custom",
            "asks for custom resources fast_disk, which Kubeflow's IR cannot express",
        ),
        (
            kfp_cases.gpu_model,
            "on_h100",
            "accelerator",
            "asks for accelerator 'nvidia-h100'; Kubeflow's accelerator type is a Kubernetes "
            "resource name such as nvidia.com/gpu",
        ),
        (
            kfp_cases.any_parameter,
            "anything",
            "any",
            "component 'anything' takes 'value' typed Any, and Kubeflow passes only values of "
            "a declared type",
        ),
        (
            kfp_cases.any_return,
            "anything_out",
            "any-out",
            "component 'anything_out' returns 'output' typed Any, and Kubeflow passes only "
            "values of a declared type",
        ),
        (
            kfp_cases.foreign_component,
            "calls_number",
            "foreign",
            "component 'calls_number' uses the component 'number' of module kfp_flow",
        ),
        (
            kfp_cases.headwater_names,
            "imports_component",
            "names",
            "component 'imports_component' imports 'component' from headwater, which a "
            "Kubeflow component cannot import",
        ),
        (
            kfp_cases.optional_return,
            "maybe",
            "optional",
            "component 'maybe' returns Optional[int] as 'output', and Kubeflow outputs cannot "
            "be None",
        ),
        (
            kfp_cases.module_value,
            "digits",
            "value",
            "component 'digits' reads the module-level value 'PATTERN' (Pattern), which cannot "
            "be written into a Kubeflow component",
        ),
        (
            kfp_cases.headwater_object,
            "uses_headwater",
            "headwater",
            "component 'uses_headwater' uses 'Asset' from Headwater (headwater.sdk._assets), "
            "which a Kubeflow component cannot import",
        ),
        (
            kfp_cases.headwater_import,
            "imports_headwater",
            "import",
            "component 'imports_headwater' imports headwater, which a Kubeflow component "
            "cannot import",
        ),
        (
            kfp_cases.step_with_options,
            "inner",
            "step",
            "runs pipeline 'inner' as a step and sets retries, which a step runs nothing to honour",
        ),
        (
            kfp_cases.importer_with_options,
            "importer",
            "importer",
            "imports a URI and sets retries, which an importer has no process to honour",
        ),
        (
            kfp_cases.all_done_inside,
            "plain-2",
            "inside",
            "has trigger rule 'all_done' and waits for 'plain' outside the block it is in; "
            "Kubeflow can only make the whole block wait",
        ),
        (
            kfp_cases.exit_after_if,
            "plain-3",
            "skip",
            "waits for If 'gate', which has no Else: where no branch runs, Headwater skips "
            "this task and Kubeflow runs it",
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Pipeline) else None,
)
def test_task_refusals_name_the_task_and_its_line(
    p: Pipeline, task: str, mark: str, message: str
) -> None:
    problem = only(p)
    assert problem.message == message
    assert_at(problem, p.name, task, mark)


def test_loops_and_conditions_on_keys_of_a_loop_item_are_refused() -> None:
    problem = only(kfp_cases.loop_over_key)
    assert problem.message == (
        "ParallelFor 'loop-2' loops over key 'values' of an outer loop's item, and Kubeflow "
        "loops only over whole values"
    )
    assert problem.location.line == line_of("keyed-loop", CASES_FILE)
    problem = only(kfp_cases.condition_on_key)
    assert problem.message == (
        "If 'condition-1' compares key 'n' of a loop item, which a Kubeflow condition cannot read"
    )
    assert problem.location.line == line_of("keyed-if", CASES_FILE)


def test_a_component_whose_code_changed_since_compiling_is_refused() -> None:
    spec = compiled(kfp_cases.single_output)
    comp = spec.components["plain"]
    impl = comp.implementation.model_copy(update={"code_digest": "sha256:" + "0" * 64})
    changed = spec.model_copy(
        update={"components": {"plain": comp.model_copy(update={"implementation": impl})}}
    )
    with pytest.raises(ExportError) as info:
        to_kfp(changed, root=str(HERE))
    (problem,) = info.value.problems
    assert problem.message == "component 'plain': its code changed since the spec was compiled"
    assert problem.hint == "compile the pipeline again from its file"


def test_a_component_that_cannot_be_loaded_is_refused() -> None:
    spec = compiled(kfp_cases.single_output)
    comp = spec.components["plain"]
    impl = comp.implementation.model_copy(
        update={"module": "kfp_no_such_module", "file": "kfp_no_such_module.py"}
    )
    gone = spec.model_copy(
        update={"components": {"plain": comp.model_copy(update={"implementation": impl})}}
    )
    with pytest.raises(ExportError) as info:
        to_kfp(gone, root=str(HERE))
    (problem,) = info.value.problems
    assert problem.message.startswith(
        "component 'plain' cannot be loaded from kfp_no_such_module.py: LoadError"
    )
    assert problem.location.task == "plain"


# --------------------------------------------------------------------------- task mapping


def _iterators(node: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for task in node.get("dag", {}).get("tasks", {}).values():
        if "parameterIterator" in task:
            found.append(task["parameterIterator"])
    return found


def test_mapped_tasks_over_literal_lists_loop_over_their_combined_items() -> None:
    import mapping_flow

    package, doc = export(mapping_flow.map_literal)
    raws = [json.loads(it["items"]["raw"]) for it in _iterators(doc["root"], [])]
    expected = [
        [{"x": 1, "y": 10}, {"x": 1, "y": 20}, {"x": 2, "y": 10}, {"x": 2, "y": 20}],
        [{"x": 1, "y": 10}, {"x": 2, "y": 20}, {"x": 3, "y": 0}],
        # expand_kwargs: each dict complete, the defaults of what it leaves out filled in.
        [{"z": 0, "x": 1}, {"z": 3, "x": 2}],
    ]
    assert len(raws) == len(expected)
    assert all(items in raws for items in expected), raws
    assert not package.notes


@pytest.mark.parametrize(
    ("flow", "fragment", "hint"),
    [
        ("map_group", "combines lists (cross) known only at run time", "expand_kwargs"),
        ("map_bad_kwargs", "maps dicts of arguments known only at run time", "ParallelFor"),
        ("map_capped", "caps its items with max_items=3", "drop max_items"),
    ],
)
def test_mapping_kubeflow_cannot_do_is_refused(flow: str, fragment: str, hint: str) -> None:
    import mapping_flow

    problem = only(getattr(mapping_flow, flow))
    assert fragment in problem.message
    assert hint in (problem.hint or "")
    assert problem.location.file is not None and problem.location.line is not None


def test_an_empty_mapped_list_notes_how_kubeflow_differs() -> None:
    import mapping_flow

    package, _ = export(mapping_flow.map_empty)
    assert any("over an empty list Headwater skips it" in n for n in package.notes)
