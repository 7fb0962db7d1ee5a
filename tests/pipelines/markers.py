"""Helpers shared by the error tests: find a marked source line, check where an error points.

A line is marked with a trailing comment ``# mark: NAME``; :func:`line_of` finds it, so
tests never hard-code line numbers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import EllipsisType

import pytest

from headwater.errors import HeadwaterError, PipelineDefinitionError, Problem, ValidationError
from headwater.sdk import Pipeline


def line_of(marker: str, file: str | os.PathLike[str]) -> int:
    """The number of the one line of ``file`` that ends with ``# mark: <marker>``."""
    pattern = re.compile(rf"#\s*mark:\s*{re.escape(marker)}\s*$")
    text = Path(file).read_text(encoding="utf-8")
    hits = [n for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)]
    assert len(hits) == 1, f"marker {marker!r} is on {len(hits)} lines of {file}"
    return hits[0]


def same_file(reported: str | None, expected: str | os.PathLike[str]) -> bool:
    """Whether a reported path (absolute, or relative to the working folder) is ``expected``."""
    return reported is not None and Path(reported).resolve() == Path(expected).resolve()


def assert_location(
    error: HeadwaterError | Problem,
    *,
    pipeline: str | EllipsisType | None,
    task: str | EllipsisType | None,
    file: str | os.PathLike[str],
    line: int,
) -> None:
    """``error`` names this pipeline, task, file and line, shows ``file:line`` and has a fix.

    Pass ``...`` for ``pipeline`` or ``task`` where either answer is acceptable.
    """
    loc = error.location
    if pipeline is not ...:
        assert loc.pipeline == pipeline, f"pipeline {loc.pipeline!r} != {pipeline!r} in: {error}"
    if task is not ...:
        assert loc.task == task, f"task {loc.task!r} != {task!r} in: {error}"
    assert same_file(loc.file, file), f"file {loc.file!r} is not {file} in: {error}"
    assert loc.line == line, f"line {loc.line} != {line} in: {error}"
    text = str(error)
    assert f"{Path(file).name}:{line}" in text, text
    if isinstance(pipeline, str):
        assert f"pipeline '{pipeline}'" in text, text
    if isinstance(task, str):
        assert f"task '{task}'" in text, text
    assert error.hint, f"no fix is suggested in: {error}"
    assert f"fix: {error.hint}" in text


def only_problem(error: ValidationError, code: str) -> Problem:
    """The one problem of ``error``, checked to have ``code``."""
    assert len(error.problems) == 1, f"expected one problem, got:\n{error}"
    problem = error.problems[0]
    assert problem.code == code, f"code {problem.code!r} != {code!r}: {problem}"
    assert str(problem) in str(error)
    return problem


def compile_error(p: Pipeline) -> ValidationError:
    """The ValidationError that compiling ``p`` raises."""
    with pytest.raises(ValidationError) as info:
        p.compile()
    return info.value


def definition_error(p: Pipeline) -> PipelineDefinitionError:
    """The PipelineDefinitionError that building ``p``'s graph raises."""
    with pytest.raises(PipelineDefinitionError) as info:
        p.compile()
    return info.value
