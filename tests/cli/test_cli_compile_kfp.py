"""``headwater compile --format kfp``: a Kubeflow package, the base image from the flag or
the environment, notes on stderr, and clean errors for what Kubeflow cannot express."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import yaml

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRACEBACK = "Traceback (most recent call last)"
Run = Callable[..., CompletedProcess[str]]


def images(text: str) -> set[str]:
    doc = yaml.safe_load(text)
    return {e["container"]["image"] for e in doc["deploymentSpec"]["executors"].values()}


def test_compile_kfp_writes_a_package_and_prints_its_notes(headwater: Run, tmp_path: Path) -> None:
    out = tmp_path / "build" / "sweep.yaml"
    result = headwater("compile", EXAMPLES / "sweep.py", "--format", "kfp", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# PIPELINE DEFINITION\n# Name: sweep\n")
    doc = yaml.safe_load(text)
    assert doc["schemaVersion"] == "2.1.0"
    assert doc["pipelineInfo"]["name"] == "sweep"
    assert images(text) == {"python:3.11"}
    assert "note: max_active_runs=2: Kubeflow limits concurrent runs only for recurring runs" in (
        result.stderr
    )
    assert f"compiled sweep -> {out}" in result.stderr


def test_compile_kfp_to_stdout(headwater: Run) -> None:
    result = headwater("compile", f"{PIPELINES / 'kfp_flow.py'}:kfp_loop", "--format", "kfp")
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert set(doc["root"]["dag"]["tasks"]) == {"squares", "add-up", "static"}
    assert result.stderr == ""


def test_base_image_flag(headwater: Run) -> None:
    target = f"{PIPELINES / 'kfp_flow.py'}:kfp_loop"
    result = headwater("compile", target, "--format", "kfp", "--base-image", "python:3.12")
    assert result.returncode == 0, result.stderr
    assert images(result.stdout) == {"python:3.12"}


@pytest.fixture
def env_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_KFP_BASE_IMAGE", "registry.example/team/base:2")


def test_base_image_from_the_environment_and_the_flag_wins(env_image: None, headwater: Run) -> None:
    target = f"{PIPELINES / 'kfp_flow.py'}:kfp_loop"
    result = headwater("compile", target, "--format", "kfp")
    assert result.returncode == 0, result.stderr
    assert images(result.stdout) == {"registry.example/team/base:2"}
    result = headwater("compile", target, "--format", "kfp", "--base-image", "python:3.13")
    assert images(result.stdout) == {"python:3.13"}


@pytest.fixture
def bad_env_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_KFP_BASE_IMAGE", "python 3.11")


def assert_clean_error(result: CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert TRACEBACK not in result.stderr
    assert result.stdout == ""
    return result.stderr


def test_a_bad_base_image_from_the_environment_is_an_error(
    bad_env_image: None, headwater: Run
) -> None:
    result = headwater("compile", f"{PIPELINES / 'kfp_flow.py'}:kfp_loop", "--format", "kfp")
    assert_clean_error(
        result,
        "error: HEADWATER_KFP_BASE_IMAGE 'python 3.11' is not an image name",
        "fix: name an image such as python:3.11",
    )


def test_base_image_is_refused_for_other_formats(headwater: Run, tmp_path: Path) -> None:
    out = tmp_path / "good.json"
    result = headwater("compile", PIPELINES / "good.py", "--base-image", "python:3.12", "-o", out)
    assert_clean_error(
        result,
        "error: --base-image applies to --format kfp only, not --format json",
        "fix: drop --base-image, or add --format kfp",
    )
    assert not out.exists()


def test_what_kubeflow_cannot_express_is_an_error_listing_each_problem(
    headwater: Run, tmp_path: Path
) -> None:
    out = tmp_path / "ranked.yaml"
    target = f"{PIPELINES / 'concurrency_flow.py'}:pools_low"
    result = headwater("compile", target, "--format", "kfp", "-o", out)
    assert_clean_error(
        result,
        "error: pipeline 'pools_low' cannot be compiled to Kubeflow Pipelines IR (2 problems):",
        "- pipeline 'pools_low', task 'nap' (concurrency_flow.py:",
        "): takes slots of pool 'single', and Kubeflow has no pools",
        "): has priority 1, and Kubeflow has no task priorities",
        "fix: drop priority=... for the Kubeflow build",
    )
    assert not out.exists()
