"""Reading Kubeflow IR: what cannot run here is refused with the task and the feature
named, container components run as processes, and the other commands (validate,
compile, deploy) take a Kubeflow pipeline as they take a Python one.

The IR is compiled by the real kfp SDK (the ``corpus`` fixture); a test that needs IR the
SDK will not write (a feature of another backend, a broken file) changes compiled IR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp_helpers import headwater_run, task_outputs

from headwater.errors import LoadError
from headwater.interop import load_spec, spec_from_kfp

CLI = [sys.executable, "-c", "from headwater.cli import run; run()"]


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADWATER_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("name", ["gpu", "own-cache-key", "one-of", "own-index"])
def test_what_cannot_run_here_is_refused_by_name(
    corpus: tuple[Path, dict], name: str, tmp_path: Path
) -> None:
    out, listing = corpus
    done = cli(tmp_path / "home", "run", str(out / "refusals" / f"{name}.yaml"))
    text = done.stdout + done.stderr
    assert done.returncode != 0, text
    for word in listing[f"refusals/{name}"]["words"]:
        assert word in text, text
    assert "Traceback" not in text


def test_container_component_runs_as_a_process(
    corpus: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = corpus
    done, run_id = headwater_run(out / "containers.yaml", {"text": "xy"}, tmp_path / "home")
    assert done.returncode == 0 and run_id, done.stdout + done.stderr
    outputs = task_outputs(tmp_path / "home", run_id, monkeypatch)
    assert outputs["shell"]["out"] == "xy!"
    assert outputs["shell"]["data"]["content"] == "xyxy"
    assert outputs["shell"]["data"]["type"] == "system.Dataset"


def _ir(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((out / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


def test_container_command_missing_here_names_the_image(
    corpus: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = corpus
    ir = _ir(out, "containers")
    ir["deploymentSpec"]["executors"]["exec-shell"]["container"]["command"][0] = "no-such-tool"
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(ir), encoding="utf-8")
    done = cli(tmp_path / "home", "run", str(path))
    text = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no-such-tool" in text and "alpine:3" in text and "shell" in text


def test_kubernetes_platform_features_are_refused(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    platform = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {"exec-square": {"secretAsEnv": [{"secretName": "s"}]}}
                }
            }
        }
    }
    with pytest.raises(LoadError, match=r"kubernetes platform features .*secretAsEnv"):
        spec_from_kfp(_ir(out, "loops"), platform=platform)


def test_an_empty_platform_document_is_fine(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    spec = spec_from_kfp(_ir(out, "loops"), platform={"platforms": {"kubernetes": {}}})
    assert spec.name == "loops"


def test_executor_of_another_backend_is_refused(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    ir = _ir(out, "loops")
    ir["deploymentSpec"]["executors"]["exec-rows"] = {"customJob": {"customJob": {}}}
    with pytest.raises(LoadError, match=r"task 'rows'.*customJob executor"):
        spec_from_kfp(ir)


def test_unreadable_condition_is_refused_with_its_text(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    ir = _ir(out, "branches")
    for task in ir["root"]["dag"]["tasks"].values():
        if (task.get("triggerPolicy") or {}).get("condition"):
            task["triggerPolicy"]["condition"] = "size(inputs.parameter_values['x']) ~ 3"
            break
    with pytest.raises(LoadError, match="cannot read its condition"):
        spec_from_kfp(ir)


def test_conditions_become_comparisons(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    spec = spec_from_kfp(_ir(out, "branches"))
    groups = [n for n in spec.dag.nodes if n.kind == "condition"]
    chain = next(g for g in groups if len(g.branches) == 3)
    first = chain.branches[0].condition
    assert first.kind == "compare" and first.op == ">"
    assert first.left.kind == "task_output" and first.left.task == "pick"
    assert first.right.kind == "constant" and first.right.value == 10
    assert [b.condition.kind for b in chain.branches[1:]] == ["logical", "logical"]


def test_options_map_to_task_options(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    spec = spec_from_kfp(_ir(out, "options"))
    task = next(n for n in spec.dag.nodes if n.kind == "task" and n.name == "env-and-more")
    o = task.options
    assert o.display_name == "Env"
    assert o.cache is not None and o.cache.enabled is False
    assert o.retry is not None and o.retry.max_retries == 2
    comp = spec.components[task.component]
    assert comp.options.env == {"GREETING": "hi"}
    assert comp.options.resources is not None
    assert comp.options.resources.cpu == 1.0
    assert comp.options.resources.memory_bytes == 512 * 10**6
    packaged = next(c for c in spec.components.values() if c.name == "with-package")
    assert packaged.options.packages == ["PyYAML"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("pipelineInfo: [unclosed", "cannot read"),
        ("just: a mapping\n", "neither a Kubeflow pipeline nor a Headwater spec"),
        ("- a list\n", "neither a Kubeflow pipeline"),
    ],
)
def test_a_document_that_is_not_a_pipeline_is_refused(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError, match=words):
        load_spec(str(path))
    done = cli(tmp_path / "home", "run", str(path))
    assert done.returncode == 1 and words in done.stderr + done.stdout
    assert not (tmp_path / "home" / "headwater.db").exists() or "run " not in done.stdout


def test_invalid_utf8_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"pipelineInfo: {name: \xff}\n")
    with pytest.raises(LoadError, match="cannot read"):
        load_spec(str(path))


def test_an_oversized_document_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    from headwater.interop._kfp_in import load_kfp
    from headwater.interop._read import MAX_DOCUMENT_BYTES

    path = tmp_path / "big.yaml"
    with path.open("wb") as f:  # sparse: the size without the disk
        f.truncate(MAX_DOCUMENT_BYTES + 1)
    for load in (lambda: load_spec(str(path)), lambda: load_kfp(path)):
        with pytest.raises(LoadError, match="may be at most 32 MiB"):
            load()
    done = cli(tmp_path / "home", "validate", str(path))
    assert done.returncode == 1 and "may be at most 32 MiB" in done.stderr + done.stdout


def test_a_fifo_named_like_a_document_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    with pytest.raises(LoadError, match="not a regular file"):
        load_spec(str(path))
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(LoadError, match="not a regular file"):
        load_spec(str(tmp_path / "dir.yaml"))


def test_a_document_holds_one_pipeline(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    with pytest.raises(LoadError, match="holds one pipeline"):
        load_spec(f"{out / 'loops.yaml'}:other")


def test_validate_compile_and_deploy_take_kubeflow_ir(
    corpus: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = corpus
    home = tmp_path / "home"
    checked = cli(home, "validate", str(out / "loops.yaml"))
    assert checked.returncode == 0 and "loops" in checked.stdout, checked.stderr
    compiled = cli(home, "compile", str(out / "loops.yaml"), "-o", str(tmp_path / "loops.json"))
    assert compiled.returncode == 0, compiled.stderr
    spec = json.loads((tmp_path / "loops.json").read_text(encoding="utf-8"))
    assert spec["schema_version"] == "headwater.pipeline/v1" and spec["name"] == "loops"
    # The Headwater spec document runs too, with the same tasks.
    done, run_id = headwater_run(tmp_path / "loops.json", {}, home)
    assert done.returncode == 0 and run_id, done.stdout + done.stderr
    deployed = cli(home, "deploy", str(out / "loops.yaml"))
    assert deployed.returncode == 0 and "deployed" in deployed.stdout, deployed.stderr
    again = cli(home, "deploy", str(out / "loops.yaml"))
    assert again.returncode == 0 and "unchanged" in again.stdout
    # The deployed version runs from the store alone: its components carry their source.
    (tmp_path / "loops.json").unlink()
    triggered = cli(home, "trigger", "loops", "-p", "items=[7]", "--no-cache")
    assert triggered.returncode == 0, triggered.stdout + triggered.stderr
    assert "for-loop-3[0].square-2" in triggered.stdout or "succeeded" in triggered.stdout


def test_a_kubeflow_pipeline_is_scheduled_and_backfilled(
    corpus: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = corpus
    home = tmp_path / "home"
    bad = cli(home, "deploy", str(out / "loops.yaml"), "--cron", "every day")
    assert bad.returncode == 1 and "invalid schedule 'every day'" in bad.stdout + bad.stderr
    listed = cli(home, "pipelines", "list")
    assert "loops" not in listed.stdout  # nothing deployed
    deployed = cli(
        home, "deploy", str(out / "loops.yaml"), "--cron", "0 3 * * *", "--start", "2026-12-01"
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    done = cli(home, "backfill", "loops", "--start", "2026-12-01", "--end", "2026-12-03")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("succeeded") == 2, done.stdout
    assert "2026-12-01 03:00" in done.stdout and "2026-12-02 03:00" in done.stdout
