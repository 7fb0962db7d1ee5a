"""``headwater compile``: specs that load back equal, and clear one-line-per-fact errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from markers import line_of

from headwater import __version__
from headwater.sdk import compile_root, load_pipeline
from headwater.spec import PipelineSpec, digest, load, loads

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
TRACEBACK = "Traceback (most recent call last)"
Run = Callable[..., CompletedProcess[str]]


@pytest.fixture(scope="module")
def expected_good() -> PipelineSpec:
    """good.py compiled in this process, paths relative to its folder as the CLI does."""
    with compile_root(str(PIPELINES)):
        return load_pipeline(str(PIPELINES / "good.py")).compile()


def write(folder: Path, text: str, stem: str = "cli_case") -> Path:
    """A pipeline file with a module name no other test uses (the loader imports by stem)."""
    path = folder / f"{stem}_{uuid.uuid4().hex[:8]}.py"
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean_error(result: CompletedProcess[str], *fragments: str) -> str:
    """Exit code 1, every fragment on stderr, no traceback, nothing on stdout."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    err = result.stderr
    assert err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert TRACEBACK not in err, err
    assert result.stdout == ""
    return err


# --------------------------------------------------------------------------- success


def test_compile_to_stdout_loads_back_equal(headwater: Run, expected_good: PipelineSpec) -> None:
    result = headwater("compile", PIPELINES / "good.py")
    assert result.returncode == 0, result.stderr
    assert loads(result.stdout) == expected_good


def test_compile_json_file_loads_back_equal(
    headwater: Run, tmp_path: Path, expected_good: PipelineSpec
) -> None:
    out = tmp_path / "build" / "nested" / "good.json"
    result = headwater("compile", f"{PIPELINES / 'good.py'}:good", "-o", out)
    assert result.returncode == 0, result.stderr
    assert load(out) == expected_good
    assert out.read_text(encoding="utf-8").lstrip().startswith("{")
    assert result.stdout == ""
    assert not list(out.parent.glob("*.tmp"))


def test_compile_reports_the_output_path_and_digest(headwater: Run, tmp_path: Path) -> None:
    # One line a script can grep: the path and digest must not be wrapped to the terminal.
    out = tmp_path / "a-fairly-long-folder-name-for-the-build" / "good.json"
    result = headwater("compile", PIPELINES / "good.py", "-o", out)
    assert result.returncode == 0, result.stderr
    assert f"compiled good -> {out}  {digest(load(out))}" in result.stderr, result.stderr


def test_compile_yaml_file_loads_back_equal(
    headwater: Run, tmp_path: Path, expected_good: PipelineSpec
) -> None:
    out = tmp_path / "good.yaml"
    result = headwater("compile", PIPELINES / "good.py", "--format", "yaml", "-o", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("schema_version: headwater.pipeline/v1")
    assert load(out) == expected_good


def test_compile_picks_one_of_two_pipelines(headwater: Run) -> None:
    result = headwater("compile", f"{PIPELINES / 'two_pipelines.py'}:evening")
    assert result.returncode == 0, result.stderr
    spec = loads(result.stdout)
    assert spec.name == "evening"
    assert spec.schedule is not None and spec.schedule.cron == "@daily"


def test_version(headwater: Run) -> None:
    result = headwater("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"headwater {__version__}"


# --------------------------------------------------------------------------- compile errors


def test_invalid_pipeline_prints_the_problem_without_a_traceback(headwater: Run) -> None:
    path = PIPELINES / "broken_cycle.py"
    result = headwater("compile", path)
    err = assert_clean_error(
        result, "pipeline 'broken_cycle' is invalid (1 problem):", "tasks form a cycle", "fix: "
    )
    lines = {"step": line_of("first", path), "step-2": line_of("second", path)}
    assert any(f"task '{t}' (broken_cycle.py:{n})" in err for t, n in lines.items()), err


def test_debug_shows_the_traceback(headwater: Run) -> None:
    result = headwater("--debug", "compile", PIPELINES / "broken_cycle.py")
    assert result.returncode == 1
    assert TRACEBACK in result.stderr
    assert "ValidationError" in result.stderr
    assert "error: pipeline 'broken_cycle' is invalid" in result.stderr


def test_every_problem_is_printed(headwater: Run) -> None:
    path = PIPELINES / "broken_many.py"
    err = assert_clean_error(
        headwater("compile", path), "pipeline 'broken_many' is invalid (4 problems):"
    )
    for marker in ("pipeline", "constant", "missing", "artifact"):
        assert f"broken_many.py:{line_of(marker, path)})" in err, err


def test_definition_error_names_file_and_line(headwater: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from headwater import component, pipeline\n"
        "\n"
        "@component\n"
        "def make() -> int:\n"
        "    return 1\n"
        "\n"
        "@pipeline\n"
        "def uses_bad_output() -> None:\n"
        "    t = make()\n"
        "    make.python_func()\n"
        "    print(t.outputs['nope'])\n",
    )
    assert_clean_error(
        headwater("compile", path),
        "pipeline 'uses_bad_output', task 'make'",
        f"{path.name}:11",
        "component 'make' has no output 'nope' (its outputs: output)",
        "fix: ",
    )


def test_component_error_at_import_names_file_and_line(headwater: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from headwater import component, pipeline\n"
        "\n"
        "@component(retries=2, timeout='soon')\n"
        "def slow() -> None:\n"
        "    pass\n",
    )
    assert_clean_error(
        headwater("compile", path), f"{path.name}:3", "timeout 'soon' is not a duration", "fix: "
    )


# --------------------------------------------------------------------------- loading errors


def test_missing_file(headwater: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.py"
    assert_clean_error(headwater("compile", missing), f"no such file: {missing}", "fix: ")


def test_file_with_a_syntax_error(headwater: Run, tmp_path: Path) -> None:
    path = write(tmp_path, "from headwater import pipeline\n\ndef broken(:\n    pass\n", "syntax")
    err = assert_clean_error(headwater("compile", path), path.name, "SyntaxError")
    assert f"{path.name}:3" in err or "line 3" in err, err


def test_file_that_raises_at_import(headwater: Run, tmp_path: Path) -> None:
    path = write(tmp_path, "import headwater\n\nraise RuntimeError('boom')\n", "raises")
    assert_clean_error(
        headwater("compile", path),
        f"{path.name}:3",
        f"importing {path.name} raised RuntimeError: boom",
        "--debug",
    )


def test_unknown_pipeline_name(headwater: Run) -> None:
    assert_clean_error(
        headwater("compile", f"{PIPELINES / 'two_pipelines.py'}:unknown_pipeline"),
        "has no pipeline named 'unknown_pipeline'",
        "pipelines in it: evening, morning",
    )


def test_two_pipelines_and_no_name(headwater: Run) -> None:
    assert_clean_error(
        headwater("compile", PIPELINES / "two_pipelines.py"),
        "defines 2 pipelines: evening, morning",
        "two_pipelines.py:NAME",
    )


def test_file_without_a_pipeline(headwater: Run, tmp_path: Path) -> None:
    path = write(tmp_path, "X = 1\n", "empty")
    assert_clean_error(headwater("compile", path), "defines no @pipeline", "@headwater.pipeline")


def test_not_a_python_file(headwater: Run, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.txt"
    path.write_text("nothing", encoding="utf-8")
    assert_clean_error(headwater("compile", path), "is not a Python file")


# --------------------------------------------------------------------------- usage errors


def test_unknown_format_is_a_usage_error_without_a_traceback(headwater: Run) -> None:
    result = headwater("compile", PIPELINES / "good.py", "--format", "xml")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "'xml'" in result.stderr
    assert TRACEBACK not in result.stderr


def test_missing_argument_is_a_usage_error_without_a_traceback(headwater: Run) -> None:
    result = headwater("compile")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Missing" in result.stderr or "missing" in result.stderr
    assert TRACEBACK not in result.stderr
