"""``headwater validate``: a table of every pipeline in a file; exit 1 when any is invalid."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from markers import line_of

from headwater.errors import ValidationError
from headwater.sdk import compile_root, load_pipeline

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
TRACEBACK = "Traceback (most recent call last)"
Run = Callable[..., CompletedProcess[str]]


def test_good_file(headwater: Run) -> None:
    result = headwater("validate", PIPELINES / "good.py")
    assert result.returncode == 0, result.stderr
    for column in ("pipeline", "tasks", "parameters", "schedule", "digest"):
        assert column in result.stdout
    assert "good" in result.stdout
    assert "0 3 * * *" in result.stdout
    assert "ok 1 pipeline(s) valid" in result.stdout
    assert TRACEBACK not in result.stderr


def test_file_with_two_good_pipelines(headwater: Run) -> None:
    result = headwater("validate", PIPELINES / "two_pipelines.py")
    assert result.returncode == 0, result.stderr
    assert "morning" in result.stdout and "evening" in result.stdout
    assert "@daily" in result.stdout
    assert "ok 2 pipeline(s) valid" in result.stdout


def test_one_pipeline_of_a_file(headwater: Run) -> None:
    result = headwater("validate", f"{PIPELINES / 'two_pipelines.py'}:morning")
    assert result.returncode == 0, result.stderr
    assert "morning" in result.stdout and "evening" not in result.stdout
    assert "ok 1 pipeline(s) valid" in result.stdout


def test_invalid_pipeline_exits_1(headwater: Run) -> None:
    path = PIPELINES / "broken_cycle.py"
    result = headwater("validate", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "broken_cycle" in result.stdout and "invalid" in result.stdout
    assert "ok " not in result.stdout
    assert "tasks form a cycle" in result.stderr
    lines = {line_of("first", path), line_of("second", path)}
    assert any(f"broken_cycle.py:{n})" in result.stderr for n in lines), result.stderr
    assert TRACEBACK not in result.stderr


def test_every_problem_is_printed_whole(headwater: Run) -> None:
    path = PIPELINES / "broken_many.py"
    with compile_root(str(PIPELINES)), pytest.raises(ValidationError) as info:
        load_pipeline(str(path)).compile()
    result = headwater("validate", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    for problem in info.value.problems:
        # Printed as one unbroken message, whatever the terminal width.
        assert str(problem) in result.stderr, f"{problem}\nnot in:\n{result.stderr}"


def test_invalid_pipeline_beside_a_good_one(headwater: Run, tmp_path: Path) -> None:
    path = tmp_path / f"mixed_{uuid.uuid4().hex[:8]}.py"
    path.write_text(
        "from headwater import component, pipeline\n"
        "\n"
        "@component\n"
        "def count(n: int) -> int:\n"
        "    return n\n"
        "\n"
        "@pipeline\n"
        "def fine() -> None:\n"
        "    count(n=1)\n"
        "\n"
        "@pipeline\n"
        "def wrong() -> None:\n"
        "    count(n='one')\n",
        encoding="utf-8",
    )
    result = headwater("validate", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "fine" in result.stdout and "wrong" in result.stdout
    assert f"pipeline 'wrong', task 'count' ({path.name}:13)" in result.stderr
    assert "'one' is a str, not int" in result.stderr


def test_missing_file(headwater: Run, tmp_path: Path) -> None:
    result = headwater("validate", tmp_path / "nowhere.py")
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert TRACEBACK not in result.stderr


def test_file_without_a_pipeline(headwater: Run, tmp_path: Path) -> None:
    path = tmp_path / f"plain_{uuid.uuid4().hex[:8]}.py"
    path.write_text("X = 1\n", encoding="utf-8")
    result = headwater("validate", path)
    assert result.returncode == 1
    assert "defines no @pipeline" in result.stderr
    assert TRACEBACK not in result.stderr


def test_definition_error_is_reported_not_raised(headwater: Run, tmp_path: Path) -> None:
    path = tmp_path / f"undefined_{uuid.uuid4().hex[:8]}.py"
    path.write_text(
        "from headwater import component, pipeline\n"
        "\n"
        "@component\n"
        "def count(n: int) -> int:\n"
        "    return n\n"
        "\n"
        "@pipeline\n"
        "def typo() -> None:\n"
        "    count(m=1)\n",
        encoding="utf-8",
    )
    result = headwater("validate", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "count() has no input 'm'" in result.stderr
    assert f"{path.name}:9" in result.stderr
    assert TRACEBACK not in result.stderr
