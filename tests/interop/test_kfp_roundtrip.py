"""Round trip: a Headwater pipeline compiled to Kubeflow IR and run by ``headwater run
pipeline.yaml`` gives the same outputs as the Python original (tests/pipelines/kfp_flow.py,
the set kfp.local also runs in test_kfp_export.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp_helpers import headwater_run
from test_kfp_export import CASES, PIPELINES, Case, _args, _compile, _data_file, _traces

import headwater
from headwater.engine import Workspace
from headwater.engine._api import Run
from headwater.interop import spec_from_kfp, to_kfp
from headwater.spec import DagImplementation, TaskOutputBinding
from headwater.states import RunStatus


def _outputs(run: Run, impl: Any) -> dict[str, Any]:
    """The pipeline's outputs (a single one named ``output``, as Headwater names it):
    parameters as values, artifacts as (type without its prefix, metadata, content)."""
    assert isinstance(impl, DagImplementation)
    found = {}
    for name, binding in impl.outputs.items():
        assert isinstance(binding, TaskOutputBinding)
        value = run.outputs(binding.task)[binding.output]
        if hasattr(value, "record"):
            with value.open("rb") as fh:
                content = fh.read()
            value = (value.record.type.split(".", 1)[1], value.metadata, content)
        found["output" if name == "Output" else name] = value
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_ir_runs_like_the_python_original(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    spec = _compile(case.pipeline, PIPELINES / "kfp_flow.py")
    ir_path = tmp_path / f"{case.pipeline.name}.yaml"
    ir_path.write_text(to_kfp(spec, root=str(PIPELINES)).text, encoding="utf-8")
    data = _data_file(tmp_path)

    home_py = tmp_path / "python-home"
    monkeypatch.setenv("HEADWATER_HOME", str(home_py))
    original = headwater.run(case.pipeline, **_args(case, tmp_path / "trace-py", data))

    args = _args(case, tmp_path / "trace-ir", data)
    done, run_id = headwater_run(
        ir_path,
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items()},
        tmp_path / "ir-home",
    )
    assert run_id, done.stdout + done.stderr
    assert (done.returncode == 0) is (original.status is RunStatus.SUCCEEDED), done.stdout
    assert _traces(tmp_path / "trace-ir") == _traces(tmp_path / "trace-py")
    if original.status is RunStatus.SUCCEEDED:
        monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "ir-home"))
        ws = Workspace.open()
        try:
            ir_spec = spec_from_kfp(yaml.safe_load(ir_path.read_text(encoding="utf-8")))
            theirs = _outputs(Run(ws, run_id), ir_spec.root.implementation)
        finally:
            ws.close()
        mine = _outputs(original, spec.root.implementation)
        assert theirs == mine
