"""Templated task arguments (headwater.Template): rendered once when a run is created,
with the run's context, in the render sandbox; what the task gets, records and caches.

Runs are real: SQLite, task processes, the scheduler's own run creation and backfills.
Each task writes what it received to a file, so the test reads what the task really got.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import headwater
from headwater.engine import Workspace, deploy, execute_run
from headwater.errors import (
    LimitError,
    ParameterError,
    PipelineDefinitionError,
    ValidationError,
)
from headwater.scheduler import create_backfill_runs, plan_backfill, tick
from headwater.sdk import compile_root, load_pipeline
from headwater.spec import TemplateBinding, dumps, from_data, loads, to_data
from headwater.states import RunStatus

_n = itertools.count()

SOURCE = """
import json
from pathlib import Path

import headwater
from headwater import ParallelFor, component, pipeline


@component
def write(out: str, name: str, path: str, tag: str, literal: str) -> str:
    Path(out, name + ".json").write_text(json.dumps([path, tag, literal]))
    return path


@component
def write_item(out: str, item: int, path: str) -> None:
    Path(out, f"item{{item}}.json").write_text(json.dumps(path))


@pipeline(schedule="@daily", start_date="2026-03-01T00:00:00+00:00", catchup=True)
def daily(out: str = {out!r}, region: str = "eu"):
    write(
        out=out,
        name=headwater.Template("{{{{ ds }}}}-{{{{ run_id }}}}"),
        path=headwater.Template("s3://bucket/{{{{ ds }}}}/events.parquet"),
        tag=headwater.Template("{{{{ params.region }}}}:{{{{ run_id }}}}"),
        literal="s3://bucket/{{{{ ds }}}}/events.parquet",
    )
    with ParallelFor([1, 2]) as item:
        day = headwater.Template("{{{{ ds_nodash }}}}/{{{{ params.region }}}}")
        write_item(out=out, item=item, path=day)
"""


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return Workspace.open()


def deployed(ws: Workspace, tmp_path: Path, out: Path) -> None:
    name = f"templated_pipeline_{next(_n)}"
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(SOURCE.format(out=str(out)))
    with compile_root(str(folder)):
        spec = load_pipeline(f"{path}:daily").compile()
    deploy(ws, spec, str(folder))


def received(out: Path, run: Any, ds: str) -> list[str]:
    return json.loads((out / f"{ds}-{run.id}.json").read_text())  # type: ignore[no-any-return]


def check_run(ws: Workspace, out: Path, run: Any, ds: str) -> None:
    assert execute_run(ws, run, owner="templates-test", adopt=True) is RunStatus.SUCCEEDED
    path, tag, literal = received(out, run, ds)
    assert path == f"s3://bucket/{ds}/events.parquet"
    assert tag == f"eu:{run.id}"
    assert literal == "s3://bucket/{{ ds }}/events.parquet"  # a plain str is never rendered
    nodash = ds.replace("-", "")
    # Tasks inside a ParallelFor, created as the run goes, get the same rendering.
    assert json.loads((out / "item1.json").read_text()) == f"{nodash}/eu"
    assert json.loads((out / "item2.json").read_text()) == f"{nodash}/eu"
    # What the task is recorded as receiving (the UI, 'headwater tasks', the API) is the
    # rendered value, and the run keeps its rendered templates apart from its parameters.
    rows = {r.path: r for r in ws.store.tasks.task_runs(run.id)}
    assert rows["write"].inputs["path"] == path
    assert rows["write"].inputs["tag"] == tag
    assert rows["write"].inputs["literal"] == literal
    assert rows["loop-1[1].write_item"].inputs["path"] == f"{nodash}/eu"
    stored = ws.store.runs.get_run(run.id)
    assert set(stored.parameters) == {"out", "region"}
    assert stored.templates["s3://bucket/{{ ds }}/events.parquet"] == path


def test_scheduled_runs_give_tasks_their_rendered_templates(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    deployed(ws, tmp_path, out)
    runs = tick(ws, datetime(2026, 3, 3, 1, tzinfo=UTC))
    assert [r.data_interval_start.day for r in runs] == [1, 2]
    assert runs[0].templates["s3://bucket/{{ ds }}/events.parquet"] == (
        "s3://bucket/2026-03-01/events.parquet"
    )
    for run, ds in zip(runs, ["2026-03-01", "2026-03-02"], strict=True):
        check_run(ws, out, run, ds)


def test_backfilled_runs_give_tasks_their_rendered_templates(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    deployed(ws, tmp_path, out)
    plan, timetable = plan_backfill(
        ws, "daily", datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC), "none"
    )
    (run,) = create_backfill_runs(ws, "daily", plan, timetable, owner="templates-test")
    check_run(ws, out, run, "2026-03-05")


# --------------------------------------------------------------------------- manual runs


@headwater.component
def echo(text: str) -> str:
    return text


@headwater.component
def count(text: str, n: int = 0) -> str:
    return text


def test_a_manual_run_renders_params_run_id_and_the_cache_key_uses_the_result(
    ws: Workspace,
) -> None:
    @headwater.pipeline
    def by_hand(region: str = "eu"):
        echo(text=headwater.Template("{{ params.region }}/{{ ds }}"))

    @headwater.pipeline
    def by_id():
        echo(text=headwater.Template("{{ run_id }}"))

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    first = headwater.run(by_hand, region="us")
    assert first.outputs("echo")["output"] == f"us/{today}"
    # The same rendered text: the same cache key, and the task's result is reused.
    again = headwater.run(by_hand, region="us")
    assert again.task("echo").cached_from is not None
    one = headwater.run(by_id)
    two = headwater.run(by_id)
    assert one.outputs("echo")["output"] == one.id
    assert two.outputs("echo")["output"] == two.id
    assert two.task("echo").cached_from is None  # another run id, another input


@headwater.pipeline
def inner(text: str):
    echo(text=text)
    echo(text=headwater.Template("inner {{ run_id }}"))


def test_a_pipeline_used_as_a_step_renders_its_own_templates_and_gets_rendered_ones(
    ws: Workspace,
) -> None:
    @headwater.pipeline
    def outer():
        inner(text=headwater.Template("outer {{ run_id }}"))

    run = headwater.run(outer)
    assert run.outputs("inner.echo")["output"] == f"outer {run.id}"
    assert run.outputs("inner.echo-2")["output"] == f"inner {run.id}"


@pytest.mark.parametrize(
    ("template", "error", "says"),
    [
        ("{{ nope }}/x", ParameterError, "'nope' is undefined"),
        ("{{ ds.__class__.__mro__ }}", ParameterError, "tried something templates may not do"),
        ("{{ 'x' * 100000 }}", LimitError, "renders to more than"),
    ],
)
def test_a_template_that_cannot_render_creates_no_run(
    ws: Workspace, template: str, error: type[Exception], says: str
) -> None:
    @headwater.pipeline
    def broken():
        echo(text="fine")
        echo(text=headwater.Template(template))

    with pytest.raises(error) as info:
        headwater.run(broken)
    message = str(info.value)
    assert says in message
    assert "pipeline 'broken', task 'echo-2', input 'text'" in message
    assert ws.store.runs.list_runs() == []


# --------------------------------------------------------------------------- compile time


def test_a_template_that_does_not_parse_is_refused_at_compile_time() -> None:
    @headwater.pipeline
    def unparsable():
        echo(text=headwater.Template("s3://{{ ds }/x"))

    with pytest.raises(ValidationError) as info:
        unparsable.compile()
    (problem,) = info.value.problems
    assert problem.location.pipeline == "unparsable"
    assert problem.location.task == "echo"
    assert problem.location.line is not None and __file__.endswith(str(problem.location.file))
    assert "input 'text' gets the template 's3://{{ ds }/x', which does not parse" in (
        problem.message
    )
    assert "pass a plain str" in (problem.hint or "")


def test_a_template_for_a_typed_input_is_refused_at_compile_time() -> None:
    @headwater.pipeline
    def typed():
        count(text="x", n=headwater.Template("{{ ds_nodash }}"))

    with pytest.raises(ValidationError) as info:
        typed.compile()
    (problem,) = info.value.problems
    assert "input 'n' is a int but gets a template, which renders to text" in problem.message
    assert "str input" in (problem.hint or "")


def test_a_template_inside_a_list_and_a_template_of_no_text_are_refused() -> None:
    @headwater.pipeline
    def nested():
        echo(text=[headwater.Template("{{ ds }}")])

    with pytest.raises(PipelineDefinitionError, match=r"a headwater\.Template inside a list"):
        nested.compile()
    with pytest.raises(PipelineDefinitionError, match="takes the template's text"):
        headwater.Template(3)  # type: ignore[arg-type]


def test_a_template_binding_survives_json_and_yaml_and_kubeflow_refuses_it() -> None:
    from headwater.errors import ExportError
    from headwater.interop import to_kfp

    @headwater.pipeline
    def round_trip():
        echo(text=headwater.Template("{{ ds }}/{{ params }}"))
        echo(text="{{ ds }}")

    spec = round_trip.compile()
    inputs = [t.inputs["text"] for t in spec.dag.nodes]  # type: ignore[union-attr]
    assert inputs[0] == TemplateBinding(kind="template", template="{{ ds }}/{{ params }}")
    assert inputs[1].kind == "constant"
    assert to_data(spec)["root"]["implementation"]["dag"]["nodes"][0]["inputs"]["text"] == {
        "kind": "template",
        "template": "{{ ds }}/{{ params }}",
    }
    assert from_data(to_data(spec)) == spec
    assert loads(dumps(spec, format="yaml")) == spec
    with pytest.raises(ExportError) as info:
        to_kfp(spec)
    assert "Kubeflow has no Jinja templates" in str(info.value)
