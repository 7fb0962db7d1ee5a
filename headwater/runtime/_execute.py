"""What runs inside a task process: read the task input, call the function, write the output.

Exceptions from user code are caught here, once, and written to the task
output with their traceback; the process exits 1. Exit code 0 means the task
output file holds the function's results.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from typing import Any

from headwater.runtime._protocol import (
    TaskError,
    artifact_class,
    plain_value,
    read_json,
    write_json,
)
from headwater.runtime._redact import redact_output, redact_text

_loaded: dict[tuple[str, str], Any] = {}
_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def load_module(root: str, module: str, file: str) -> Any:
    """Import a component's module the way the compiler saw it."""
    key = (root, module)
    if key in _loaded:
        return _loaded[key]
    if root and root not in sys.path:
        sys.path.insert(0, root)
    existing = sys.modules.get(module)
    if existing is not None:
        _loaded[key] = existing
        return existing
    path = os.path.join(root, file) if file and not os.path.isabs(file) else file
    if "." not in module and path and os.path.isfile(path):
        from pathlib import Path

        from headwater.sdk import load_module as load_file

        mod = load_file(Path(path))  # named after the file, as when it was compiled
    else:
        mod = importlib.import_module(module)
    _loaded[key] = mod
    return mod


def load_captured(module: str, source: str, component: str) -> Any:
    """Build the module whose source a component's spec carries (a component defined in a
    notebook cell, see headwater/sdk/_cells.py), once per process. Its name is
    content-addressed, so a module of that name already loaded is this one."""
    existing = sys.modules.get(module)
    if existing is not None:
        return existing
    import linecache
    import types

    filename = f"<captured cells of component {component}>"
    # Tracebacks of the task show the captured lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    mod = types.ModuleType(module)
    mod.__file__ = filename
    sys.modules[module] = mod  # classes defined in it pickle by this name
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), mod.__dict__)
    except Exception as exc:
        sys.modules.pop(module, None)
        raise TaskError(
            f"component '{component}': the code captured from its notebook cells failed to "
            f"load in the task process: {type(exc).__name__}: {exc}"
        ) from exc
    return mod


def find_component(
    root: str, module: str, file: str, function: str, source: str | None = None
) -> Any:
    if source is not None:
        if root and root not in sys.path:
            sys.path.insert(0, root)  # the notebook's folder: modules beside it import
        obj: Any = load_captured(module, source, function)
        component = getattr(obj, function, None)
        if component is None:
            raise TaskError(f"the captured code of component '{function}' does not define it")
        return component
    if "<locals>" in function:
        raise TaskError(
            f"component '{function}' is defined inside a function, so a task process cannot "
            f"import it; define it at the top level of module '{module}'"
        )
    obj = load_module(root, module, file)
    for part in function.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise TaskError(f"module '{module}' has no component '{function}'")
    return obj


def _materialise(entry: dict[str, Any], cls: type, scratch: list[str]) -> Any:
    uri = entry["uri"]
    path = entry.get("path")
    if path is None:
        import fsspec

        local = tempfile.mkdtemp(prefix="hw-in-")
        scratch.append(local)
        path = os.path.join(local, os.path.basename(uri.rstrip("/")) or "artifact")
        fs, remote = fsspec.core.url_to_fs(uri)
        if fs.isdir(remote):
            fs.get(remote.rstrip("/") + "/", path, recursive=True)
        else:
            fs.get_file(remote, path)
    return cls(name=entry.get("name", ""), uri=uri, metadata=entry.get("metadata") or {}, path=path)


def _returns(name: str, iface: dict[str, Any], value: Any) -> dict[str, Any]:
    from headwater._typecheck import mismatch

    returns, names = iface["returns"], iface["returnOutputs"]
    if returns == "none":
        return {}
    if returns == "single":
        values = {"output": value}
    else:
        if not (isinstance(value, tuple) and len(value) == len(names)):
            raise TaskError(
                f"component '{name}' must return a NamedTuple with fields "
                f"{', '.join(names)}, but returned {type(value).__name__}"
            )
        values = dict(zip(names, value, strict=True))
    out = {}
    for key, raw in values.items():
        v = plain_value(raw)
        t = iface["outputs"][key]["type"]
        err = mismatch(v, t, f"return value '{key}'")
        if err:
            raise TaskError(
                f"component '{name}' returned a value that does not match its annotation: {err}"
            )
        if t["kind"] == "float" and isinstance(v, int):
            v = float(v)
        out[key] = v
    return out


def _learnable(before: set[str], root: str) -> list[str]:
    """The modules imported since ``before`` that warm workers may import before they
    fork this component's next tasks: libraries (helpers' imports too), but not the
    project's own modules under ``root``, whose imports may have effects (a connection
    opened, a file read) that must happen in each task, not once before a fork."""
    inside = (
        tuple({os.path.join(os.path.abspath(root), ""), os.path.join(os.path.realpath(root), "")})
        if root
        else ()
    )
    found = []
    for name, module in list(sys.modules.items()):
        if name in before:
            continue
        file = getattr(module, "__file__", None)
        if inside and isinstance(file, str) and file.startswith(inside):
            continue
        found.append(name)
    return found


def _call(
    task: dict[str, Any], comp_info: dict[str, Any], result: dict[str, Any], scratch: list[str]
) -> None:
    """Call a Headwater component's function with the task's inputs; fill ``result``."""
    from headwater.runtime._outputs import collect_outputs, prepare_outputs
    from headwater.sdk import clear_registrations, take_registrations

    component = find_component(
        comp_info["root"],
        comp_info["module"],
        comp_info["file"],
        comp_info["function"],
        comp_info.get("source"),
    )
    iface = comp_info["interface"]
    kwargs: dict[str, Any] = {}
    params = task["inputs"].get("parameterValues", {})
    arts = task["inputs"].get("artifacts", {})
    for name, io in iface["inputs"].items():
        if io["kind"] == "parameter":
            if name in params:
                value = params[name]
                if (
                    io["type"]["kind"] == "float"
                    and isinstance(value, int)
                    and not isinstance(value, bool)
                ):
                    value = float(value)
                kwargs[name] = value
        elif io["kind"] == "final_status":
            from headwater.sdk import FinalStatus

            kwargs[name] = FinalStatus(**params.get(name, {"state": "unknown"}))
        else:
            entries = arts.get(name, {}).get("artifacts")
            if entries is None:
                continue
            cls = artifact_class(io["artifact_type"])
            objs = [_materialise(e, cls, scratch) for e in entries]
            kwargs[name] = objs if io.get("is_list") else objs[0]
    outputs = prepare_outputs(task, iface)
    kwargs.update(outputs)
    started = time.time()
    before = set(sys.modules)
    clear_registrations()
    try:
        value = component.python_func(**kwargs)
    finally:
        if len(sys.modules) != len(before):
            result["headwater"]["imports"] = _learnable(before, comp_info["root"])
    if comp_info.get("sensor") and (value is None or value is False):
        # A sensor's poke that found its condition false: the engine pokes it again later.
        result["headwater"]["not_ready"] = True
        result["parameterValues"] = {}
    else:
        result["parameterValues"] = _returns(comp_info.get("name", ""), iface, value)
    result["artifacts"], result["headwater"]["metrics"] = collect_outputs(task, outputs)
    registered = take_registrations(outputs)
    if registered:  # registered by the engine when it records this task's success
        result["headwater"]["register"] = registered
    result["headwater"]["duration"] = time.time() - started


def _call_kfp(task: dict[str, Any], comp_info: dict[str, Any], result: dict[str, Any]) -> None:
    """Run a Kubeflow component (a lightweight Python one, or a container's command)."""
    from headwater.runtime._kfp import Artifact, call_kfp, load_source, make_artifact, run_container
    from headwater.runtime._outputs import collect_outputs

    iface = comp_info["interface"]
    name = comp_info.get("name", "")
    outputs: dict[str, Any] = {}
    started = time.time()
    if "container" in comp_info:
        values = run_container(task, iface, name, comp_info["container"])
    else:
        func = load_source(comp_info["source"], comp_info["function"], name)
        before = set(sys.modules)
        try:
            values = call_kfp(func, task, iface, name, outputs)
        finally:
            if len(sys.modules) != len(before):
                result["headwater"]["imports"] = _learnable(before, "")
    for out_name, entries in task["outputs"].get("artifacts", {}).items():
        if out_name not in outputs:  # a program's, or one the function never touched
            outputs[out_name] = make_artifact(entries["artifacts"][0], Artifact)
    result["parameterValues"] = values
    result["artifacts"], result["headwater"]["metrics"] = collect_outputs(
        task, outputs, allow_empty=True
    )
    result["headwater"]["duration"] = time.time() - started


def execute(input_path: str, task: dict[str, Any] | None = None) -> int:
    """Run one task attempt described by ``task``, the task input, or else by the task
    input at ``input_path``; the secret values it was given never reach its log or its
    reported error (:mod:`._redact`)."""
    with redact_output() as hidden:
        return _execute(input_path, task, hidden)


def _execute(input_path: str, task: dict[str, Any] | None, hidden: list[bytes]) -> int:
    if task is None:
        task = read_json(input_path)
    hw = task["headwater"]
    if "importer" in hw:  # an importer attempt: no user code, just the URI to check and hash
        from headwater.runtime._importer import run_importer

        return run_importer(task)
    out_file = task["outputs"]["outputFile"]
    comp_info = hw["component"]
    scratch: list[str] = []
    result: dict[str, Any] = {"parameterValues": {}, "artifacts": {}, "headwater": {}}
    code = 0
    try:
        if "container" in comp_info or comp_info.get("protocol") == "kfp":
            _call_kfp(task, comp_info, result)
        else:
            _call(task, comp_info, result, scratch)
    except TaskError as exc:
        result["headwater"]["error"] = {"type": "TaskError", "message": str(exc), "traceback": ""}
        code = 1
    except BaseException as exc:  # the user-code boundary: every failure is reported
        # Start the traceback at the user's function, not in this package.
        tb_start = exc.__traceback__
        while tb_start is not None and tb_start.tb_frame.f_code.co_filename.startswith(_HERE):
            tb_start = tb_start.tb_next
        if tb_start is None:  # the failure is the runtime's own: show all of it
            tb_start = exc.__traceback__
        tb = traceback.format_exception(type(exc), exc, tb_start)
        sys.stderr.write("".join(tb))
        result["headwater"]["error"] = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(tb),
        }
        code = 1
    finally:
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
    error = result["headwater"].get("error")
    if error and hidden:
        for key in ("message", "traceback"):
            error[key] = redact_text(error[key], hidden)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        write_json(out_file, result)
    return code
