"""``to_kfp``: Headwater pipelines compiled to Kubeflow's pipeline IR, checked against the
real kfp SDK (the peer environment, tests/interop/conftest.py).

- every pipeline of examples/ and tests/pipelines/ compiles, or is refused for what the IR
  cannot express (the list below says which and why); kfp loads every package compiled;
- kfp.local runs a representative set (tests/pipelines/kfp_flow.py: control flow,
  artifacts with metadata, a nested pipeline, an exit handler, ParallelFor and Collected,
  an importer, a timeout) with the outputs, artifacts and trace files of ``headwater.run``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import headwater
from headwater.errors import ExportError, ValidationError
from headwater.interop import to_kfp
from headwater.sdk import Pipeline, compile_root, load_module, pipelines_in
from headwater.spec import DagImplementation, PipelineSpec, TaskOutputBinding
from headwater.states import RunStatus

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PIPELINES = REPO / "tests" / "pipelines"
EXAMPLES = REPO / "examples"
RUNNER = HERE / "kfp_local_run.py"

if str(PIPELINES) not in sys.path:
    sys.path.insert(0, str(PIPELINES))

import kfp_flow  # noqa: E402

# Pipelines Headwater itself refuses to compile: they test its own validation.
INVALID = {"broken_cycle.py:broken_cycle", "broken_many.py:broken_many"}

# What the IR cannot express, by pipeline: a fragment of each problem found (and no more).
REFUSED: dict[str, list[str]] = {
    "asset_events_flow.py:on_orders": [
        "parameter 'events' defaults to the template '{{ triggering_asset_events | tojson }}'",
        "runs when assets lake://orders are updated, and Kubeflow has no assets",
    ],
    "mapping_flow.py:map_bad_kwargs": ["maps dicts of arguments known only at run time"],
    "mapping_flow.py:map_capped": ["caps its items with max_items=3"],
    "mapping_flow.py:map_forms": [
        "mapped task 'add' combines lists (cross) known only at run time",
        "mapped task 'add-4' maps dicts of arguments known only at run time",
    ],
    "mapping_flow.py:map_group": ["ParallelFor 'loop-1' combines lists (cross) known only"],
    "mapping_flow.py:map_imports": ["ParallelFor 'importer-map' combines lists (zip) known"],
    "mapping_flow.py:map_zip_group": ["ParallelFor 'loop-1' combines lists (zip) known only"],
    "airflow_flow.py:airflow_publish": [
        "updates asset(s) warehouse://airflow/published, and Kubeflow has no assets"
    ],
    "assets_flow.py:assets_make_a": ["updates asset(s) warehouse://a, and Kubeflow has no assets"],
    "assets_flow.py:assets_make_b": ["updates asset(s) warehouse://b, and Kubeflow has no assets"],
    "assets_flow.py:assets_all": ["runs when assets warehouse://a & warehouse://b are updated"],
    "assets_flow.py:assets_any": ["runs when assets warehouse://a | warehouse://b are updated"],
    "assets_flow.py:assets_any_one_at_a_time": ["runs when assets warehouse://a | warehouse://b"],
    "concurrency_flow.py:pools_fanout": ["takes slots of pool 'narrow'"],
    "concurrency_flow.py:pools_double": ["takes slots of pool 'narrow'"],
    "concurrency_flow.py:pools_missing": ["takes slots of pool 'no-such-pool'"],
    "concurrency_flow.py:pools_ranked": [
        "takes slots of pool 'single'",
        "has priority 1",
        "takes slots of pool 'single'",
        "has priority 5",
        "takes slots of pool 'single'",
        "has priority 10",
    ],
    "concurrency_flow.py:pools_blocker": ["takes slots of pool 'single'"],
    "concurrency_flow.py:pools_low": ["takes slots of pool 'single'", "has priority 1"],
    "concurrency_flow.py:pools_high": ["takes slots of pool 'single'", "has priority 10"],
    "concurrency_flow.py:limited_pair": ["limits its running tasks to 1 (max_active_tasks)"],
    "concurrency_flow.py:limited_nested": ["limits its running tasks to 1 (max_active_tasks)"],
    "engine_flow.py:engine_triggers": [
        "has trigger rule 'all_failed'",
        "has trigger rule 'all_failed'",
        "has trigger rule 'one_failed'",
        "has trigger rule 'one_failed'",
        "has trigger rule 'one_success'",
        "has trigger rule 'one_success'",
        "has trigger rule 'none_skipped'",
        "has trigger rule 'always' and waits for 'boom'",
    ],
    "engine_flow.py:engine_skips": [
        "waits for If 'never', which has no Else",
        "has trigger rule 'none_skipped'",
    ],
    "engine_setup.py:engine_always": ["has trigger rule 'always' and waits for 'waits_for'"],
    "engine_setup.py:engine_one_done": ["has trigger rule 'one_done'"],
    "engine_setup.py:engine_as_teardown": [
        "is a setup task (setup=True), and Kubeflow Pipelines has no setup or teardown tasks",
        "is a teardown task (teardown=True), and Kubeflow Pipelines has no setup or teardown",
    ],
    "engine_setup.py:engine_indirect_setup": [
        "is a setup task (setup=True), and Kubeflow Pipelines has no setup or teardown tasks",
        "is a teardown task (teardown=True), and Kubeflow Pipelines has no setup or teardown",
    ],
    "engine_setup.py:engine_setup_teardown": [
        "is a setup task (setup=True), and Kubeflow Pipelines has no setup or teardown tasks",
        "is a teardown task (teardown=True), and Kubeflow Pipelines has no setup or teardown",
    ],
    "engine_setup.py:engine_teardown_fails_run": [
        "is a setup task (setup=True), and Kubeflow Pipelines has no setup or teardown tasks",
        "is a teardown task (teardown=True), and Kubeflow Pipelines has no setup or teardown",
    ],
    "importers.py:import_on_asset": ["runs when assets warehouse://imports are updated"],
    "notify_flow.py:notify_missing_pool": [
        "takes slots of pool 'nowhere'",
        "sends notifications, which Kubeflow tasks cannot",
    ],
    "outbox_flow.py:outbox_flow": [
        "sends notifications, which Kubeflow pipelines cannot",
        "sends notifications, which Kubeflow tasks cannot",
    ],
    "scheduler_ha.py:ha_ticks": [
        "parameter 'when' defaults to the template '{{ data_interval_start.isoformat() }}'"
    ],
    "server_api.py:server_report": [
        "parameter 'note' defaults to the template '{{ ds }}'",
        "updates asset(s) warehouse://sales",
    ],
    "warm_flow.py:heavy": [
        "component 'through_helper' imports the project module 'warm_helper'",
        "component 'in_body' imports the project module 'warm_body_dep'",
    ],
}


def _all_pipelines() -> Iterator[tuple[str, Path, Pipeline]]:
    for folder in (EXAMPLES, PIPELINES):
        for path in sorted(folder.glob("*.py")):
            with compile_root(str(path.parent)):
                module = load_module(path)
            for name, p in sorted(pipelines_in(module).items()):
                yield f"{path.name}:{name}", path, p


def _compile(p: Pipeline, path: Path) -> PipelineSpec:
    with compile_root(str(path.parent)):
        return p.compile()


def test_every_example_and_test_pipeline_compiles_or_is_refused_and_kfp_loads_each(
    kfp_python: Path, tmp_path: Path
) -> None:
    packages: dict[str, Path] = {}
    invalid: set[str] = set()
    refused: dict[str, list[str]] = {}
    for key, path, p in _all_pipelines():
        try:
            spec = _compile(p, path)
        except ValidationError:
            invalid.add(key)
            continue
        try:
            package = to_kfp(spec, root=str(path.parent))
        except ExportError as exc:
            assert exc.pipeline == p.name
            assert all(problem.hint for problem in exc.problems), str(exc)
            refused[key] = [problem.message for problem in exc.problems]
            continue
        out = tmp_path / f"{key.replace('.py:', '__')}.yaml"
        out.write_text(package.text, encoding="utf-8")
        packages[key] = out

    assert invalid == INVALID
    assert set(refused) == set(REFUSED), sorted(set(refused) ^ set(REFUSED))
    for key, messages in refused.items():
        assert len(messages) == len(REFUSED[key]), (key, messages)
        for fragment in REFUSED[key]:
            assert any(fragment in m for m in messages), (key, fragment, messages)
    # Both examples compile, and most test pipelines.
    assert {"ml_pipeline.py:ml_pipeline", "sweep.py:sweep"} <= set(packages)
    assert len(packages) >= 40, sorted(packages)

    # One peer process loads them all.
    script = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from kfp import components\n"
        "failed = {}\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        c = components.load_component_from_file(path)\n"
        "        assert c.component_spec.name, path\n"
        "    except Exception as exc:\n"
        "        failed[path] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps({'loaded': len(sys.argv) - 1 - len(failed), 'failed': failed}))\n"
    )
    result = subprocess.run(
        [str(kfp_python), "-c", script, *(str(p) for p in packages.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["loaded"] == len(packages)


# --------------------------------------------------------------------------- kfp.local


@dataclass(frozen=True)
class Case:
    id: str
    pipeline: Pipeline
    args: dict[str, Any]
    traced: bool = True


CASES = [
    Case("branches-if", kfp_flow.kfp_branches, {"value": 20.0, "mode": "full"}),
    Case("branches-elif", kfp_flow.kfp_branches, {"value": 7.0, "mode": "full"}),
    Case("branches-else", kfp_flow.kfp_branches, {"value": 7.0, "mode": "slow"}),
    Case("artifacts", kfp_flow.kfp_artifacts, {"rows": 4}, traced=False),
    Case("nested", kfp_flow.kfp_nested, {"x": 3}),
    Case("exit-succeeded", kfp_flow.kfp_exit, {"fail": False}),
    Case("exit-failed", kfp_flow.kfp_exit, {"fail": True}),
    Case("loop", kfp_flow.kfp_loop, {}),
    Case("nested-loops", kfp_flow.kfp_nested_loops, {}),
    Case("mapped", kfp_flow.kfp_mapped, {}),
    Case("import", kfp_flow.kfp_import, {}, traced=False),
    Case("timeout", kfp_flow.kfp_timeout, {"seconds": 20.0}),
]


def _args(case: Case, trace_dir: Path, data: Path) -> dict[str, Any]:
    args = dict(case.args)
    if case.traced:
        args["trace_dir"] = str(trace_dir)
    if case.pipeline is kfp_flow.kfp_import:
        args["uri"] = str(data)
    return args


def _data_file(folder: Path) -> Path:
    path = folder / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kfp_local(kfp_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case run by kfp.local, in one peer process: its result and trace folder."""
    base = tmp_path_factory.mktemp("kfp-local")
    data = _data_file(base)
    files: dict[str, Path] = {}
    jobs, traces = [], {}
    for case in CASES:
        name = case.pipeline.name
        if name not in files:
            spec = _compile(case.pipeline, PIPELINES / "kfp_flow.py")
            files[name] = base / f"{name}.yaml"
            files[name].write_text(to_kfp(spec, root=str(PIPELINES)).text, encoding="utf-8")
        traces[case.id] = base / case.id / "trace"
        jobs.append(
            {
                "file": str(files[name]),
                "root": str(base / case.id / "root"),
                "args": _args(case, traces[case.id], data),
            }
        )
    (base / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    result = subprocess.run(
        [str(kfp_python), str(RUNNER), str(base / "jobs.json"), str(base / "results.json")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=base,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    results = json.loads((base / "results.json").read_text(encoding="utf-8"))
    return {
        case.id: {**res, "traces": traces[case.id], "log": result.stdout}
        for case, res in zip(CASES, results, strict=True)
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _traces(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {p.name: p.read_text() for p in sorted(folder.glob("*.trace"))}


def _headwater_outputs(run: headwater.engine.Run, spec: PipelineSpec) -> dict[str, Any]:
    """The pipeline's outputs, by their Kubeflow names, as the kfp runner shows them:
    the only output of a pipeline returning one value is ``Output``, and ``headwater.X``
    artifacts are ``system.X`` (docs/kubeflow.md)."""
    impl = spec.root.implementation
    assert isinstance(impl, DagImplementation)
    out: dict[str, Any] = {}
    for name, binding in impl.outputs.items():
        assert isinstance(binding, TaskOutputBinding)
        value = run.outputs(binding.task)[binding.output]
        if hasattr(value, "record"):
            path = value.path
            content = Path(path).read_text() if path and Path(path).is_file() else None
            value = {
                "schema_title": value.record.type.replace("headwater.", "system.", 1),
                "metadata": value.metadata,
                "content": content,
            }
        out["Output" if list(impl.outputs) == ["output"] else name] = value
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kfp_local_runs_the_compiled_pipeline_like_headwater(
    case: Case, kfp_local: dict[str, Any], home: Path, tmp_path: Path
) -> None:
    theirs = kfp_local[case.id]
    trace = tmp_path / "trace"
    run = headwater.run(case.pipeline, **_args(case, trace, _data_file(tmp_path)))
    spec = _compile(case.pipeline, PIPELINES / "kfp_flow.py")

    expected = "succeeded" if run.status is RunStatus.SUCCEEDED else "failed"
    assert theirs["status"] == expected, theirs["error"] or theirs["log"][-3000:]
    if expected == "succeeded":
        assert theirs["outputs"] == _headwater_outputs(run, spec)
    assert _traces(theirs["traces"]) == _traces(trace)
