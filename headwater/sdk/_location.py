"""Finding the user's file and line for error messages and the spec."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from headwater.errors import Location

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_root: list[str] = []


@dataclass(frozen=True)
class Src:
    """An absolute file path and a line number."""

    file: str
    line: int

    def relative(self) -> str:
        return relative_path(self.file)


def loc(src: Src | None, pipeline: str | None = None, task: str | None = None) -> Location:
    """An error location for ``src``, its file relative to the compile root."""
    return Location(
        pipeline=pipeline,
        task=task,
        file=src.relative() if src else None,
        line=src.line if src else None,
    )


def caller() -> Src | None:
    """The innermost stack frame outside the headwater package."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep):
            return Src(filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def of_function(func: object) -> Src | None:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    return Src(os.path.abspath(code.co_filename), code.co_firstlineno)


@contextmanager
def compile_root(path: str) -> Iterator[None]:
    """Record file paths relative to ``path`` while compiling."""
    _root.append(os.path.abspath(path))
    try:
        yield
    finally:
        _root.pop()


def relative_path(file: str) -> str:
    root = _root[-1] if _root else os.getcwd()
    try:
        rel = os.path.relpath(file, root)
    except ValueError:
        return file
    if rel.startswith(".." + os.sep) or rel == "..":
        return file
    return rel.replace(os.sep, "/")
