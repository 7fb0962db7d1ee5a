"""Loading pipelines from user files: ``path/to/file.py[:name]``."""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from headwater.errors import HeadwaterError, LoadError, Location
from headwater.sdk._location import relative_path
from headwater.sdk._pipeline import Pipeline


def split_target(target: str) -> tuple[Path, str | None]:
    """``"dir/file.py:name"`` -> (path, name); the name is optional."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or os.sep in name or "/" in name or name.endswith(".py"):
        return Path(target), None
    return Path(path), name or None


def load_module(path: Path) -> ModuleType:
    """Import the file at ``path`` as a module named after it, its folder on sys.path."""
    path = path.resolve()
    if not path.is_file():
        raise LoadError(
            f"no such file: {path}",
            hint="pass the path of a Python file that defines a @pipeline",
        )
    if path.suffix != ".py":
        raise LoadError(f"{path} is not a Python file", hint="pass a .py file")
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        if getattr(existing, "__file__", None) and Path(existing.__file__ or "").resolve() == path:
            return existing
        raise LoadError(
            f"cannot import {path}: a module named '{name}' is already imported from "
            f"{getattr(existing, '__file__', 'a built-in')}",
            hint=f"rename {path.name} so it does not shadow the module '{name}'",
        )
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except HeadwaterError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        raise LoadError(
            f"importing {path.name} raised {type(exc).__name__}: {exc}",
            location=Location(file=relative_path(str(path)), line=line),
            hint="fix the error in the file; run with --debug for the full traceback",
        ) from exc
    return module


def pipelines_in(module: ModuleType) -> dict[str, Pipeline]:
    """The pipelines a module defines (not those it merely imports), by name."""
    found: dict[str, Pipeline] = {}
    for value in vars(module).values():
        if isinstance(value, Pipeline) and value.python_func.__module__ == module.__name__:
            found[value.name] = value
    return found


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by ``"file.py:name"``, or the only pipeline in ``"file.py"``."""
    path, name = split_target(target)
    module = load_module(path)
    found = pipelines_in(module)
    if name is not None:
        obj = getattr(module, name, None)
        if isinstance(obj, Pipeline):
            return obj
        if name in found:
            return found[name]
        raise LoadError(
            f"{path} has no pipeline named '{name}'",
            hint="pipelines in it: " + (", ".join(sorted(found)) or "none"),
        )
    if not found:
        raise LoadError(
            f"{path} defines no @pipeline",
            hint="decorate a function with @headwater.pipeline",
        )
    if len(found) > 1:
        raise LoadError(
            f"{path} defines {len(found)} pipelines: {', '.join(sorted(found))}",
            hint=f"pick one with {path}:NAME",
        )
    return next(iter(found.values()))
