"""Kubeflow components inside a Headwater task process.

A Kubeflow lightweight Python component carries its module's source; that source
starts with ``import kfp`` / ``from kfp.dsl import *`` and annotates the function with
kfp's names (``Input[Dataset]``, ``OutputPath(str)``, ``PipelineTaskFinalStatus``...).
Headwater runs it without the kfp package: this module provides those names (the
runtime half of ``kfp.dsl``: artifact classes with their logging methods, the
input/output markers, the final status) as the modules ``kfp`` and ``kfp.dsl`` while the
source is loaded, and calls the function the way Kubeflow's executor does: parameters
from ``inputs.parameterValues``, artifacts as objects or paths by annotation, the return
value as the ``Output`` parameter (or NamedTuple fields), ``OutputPath`` files read back
by type.

Values cross the task boundary as Kubeflow's protobuf values do: an ``int`` parameter is
an int, and every other number (a float, and numbers inside lists and dicts) is a float.
So a task gets exactly what it would get on Kubeflow or from ``kfp.local``.

A container component is a program run as a process, its command and arguments with
Kubeflow's placeholders filled in from the task input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from headwater.runtime._protocol import TaskError

# --------------------------------------------------------------------------- kfp.dsl names


class Artifact:
    """An artifact as a Kubeflow component sees it: ``name``, ``uri``, ``metadata``, ``path``."""

    schema_title = "system.Artifact"
    schema_version = "0.0.1"

    def __init__(
        self,
        name: str | None = None,
        uri: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.name = name or ""
        self.uri = uri or ""
        self.metadata: dict[str, Any] = metadata or {}
        self._local: str | None = None
        self.custom_path = ""

    @property
    def path(self) -> str:
        if self.custom_path:
            return self.custom_path
        return self._local if self._local is not None else self.uri

    @path.setter
    def path(self, value: str) -> None:
        self._local = value

    def set_path(self, path: str) -> None:
        self.custom_path = path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, uri={self.uri!r})"


class Dataset(Artifact):
    schema_title = "system.Dataset"


class Model(Artifact):
    schema_title = "system.Model"

    @property
    def framework(self) -> str:
        return str(self.metadata.get("framework", ""))

    @framework.setter
    def framework(self, value: str) -> None:
        self.metadata["framework"] = value


class Metrics(Artifact):
    schema_title = "system.Metrics"

    def log_metric(self, metric: str, value: float) -> None:
        self.metadata[metric] = value


class ClassificationMetrics(Artifact):
    """An ROC curve and a confusion matrix, in the metadata layout Kubeflow's UI reads."""

    schema_title = "system.ClassificationMetrics"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._categories: list[str] = []
        self._rows: list[dict[str, Any]] = []

    def log_roc_data_point(self, fpr: float, tpr: float, threshold: float) -> None:
        point = {"confidenceThreshold": threshold, "recall": tpr, "falsePositiveRate": fpr}
        self.metadata.setdefault("confidenceMetrics", []).append(point)

    def log_roc_curve(self, fpr: list[float], tpr: list[float], threshold: list[float]) -> None:
        if not len(fpr) == len(tpr) == len(threshold):
            raise ValueError(
                "fpr, tpr and threshold must have the same length, got "
                f"{len(fpr)}, {len(tpr)} and {len(threshold)}"
            )
        for f, t, th in zip(fpr, tpr, threshold, strict=True):
            self.log_roc_data_point(fpr=f, tpr=t, threshold=th)

    def set_confusion_matrix_categories(self, categories: list[str]) -> None:
        self._categories = list(categories)
        self._rows = [{"row": [0] * len(categories)} for _ in categories]
        self._publish()

    def log_confusion_matrix_row(self, row_category: str, row: list[Any]) -> None:
        index = self._category(row_category)
        if len(row) != len(self._categories):
            raise ValueError(f"a row needs {len(self._categories)} values, got {len(row)}")
        self._rows[index] = {"row": row}
        self._publish()

    def log_confusion_matrix_cell(self, row_category: str, col_category: str, value: int) -> None:
        self._rows[self._category(row_category)]["row"][self._category(col_category)] = value
        self._publish()

    def log_confusion_matrix(self, categories: list[str], matrix: list[list[int]]) -> None:
        self.set_confusion_matrix_categories(categories)
        if len(matrix) != len(categories) or any(len(r) != len(categories) for r in matrix):
            raise ValueError(f"matrix {matrix} does not fit categories {categories}")
        for category, row in zip(categories, matrix, strict=True):
            self.log_confusion_matrix_row(category, row)

    def _category(self, name: str) -> int:
        if name not in self._categories:
            raise ValueError(f"unknown category {name!r}; categories: {self._categories}")
        return self._categories.index(name)

    def _publish(self) -> None:
        self.metadata["confusionMatrix"] = {
            "annotationSpecs": [{"displayName": c} for c in self._categories],
            "rows": self._rows,
        }


class SlicedClassificationMetrics(Artifact):
    """Classification metrics per slice, under ``evaluationSlices``."""

    schema_title = "system.SlicedClassificationMetrics"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slices: dict[str, ClassificationMetrics] = {}

    def _slice(self, name: str) -> ClassificationMetrics:
        if name not in self._slices:
            self._slices[name] = ClassificationMetrics()
        return self._slices[name]

    def _update(self) -> None:
        self.metadata["evaluationSlices"] = [
            {"slice": name, "sliceClassificationMetrics": m.metadata}
            for name, m in self._slices.items()
        ]

    def log_roc_reading(self, slice: str, threshold: float, tpr: float, fpr: float) -> None:
        self._slice(slice).log_roc_data_point(fpr=fpr, tpr=tpr, threshold=threshold)
        self._update()

    def load_roc_readings(self, slice: str, readings: list[list[float]]) -> None:
        for threshold, tpr, fpr in readings:
            self._slice(slice).log_roc_data_point(fpr=fpr, tpr=tpr, threshold=threshold)
        self._update()

    def set_confusion_matrix_categories(self, slice: str, categories: list[str]) -> None:
        self._slice(slice).set_confusion_matrix_categories(categories)
        self._update()

    def log_confusion_matrix_row(self, slice: str, row_category: str, row: list[int]) -> None:
        self._slice(slice).log_confusion_matrix_row(row_category, row)
        self._update()

    def log_confusion_matrix_cell(
        self, slice: str, row_category: str, col_category: str, value: int
    ) -> None:
        self._slice(slice).log_confusion_matrix_cell(row_category, col_category, value)
        self._update()

    def load_confusion_matrix(
        self, slice: str, categories: list[str], matrix: list[list[int]]
    ) -> None:
        self._slice(slice).log_confusion_matrix(categories, matrix)
        self._update()


class HTML(Artifact):
    schema_title = "system.HTML"


class Markdown(Artifact):
    schema_title = "system.Markdown"


ARTIFACT_CLASSES: dict[str, type[Artifact]] = {
    c.schema_title: c
    for c in (
        Artifact,
        Dataset,
        Model,
        Metrics,
        ClassificationMetrics,
        SlicedClassificationMetrics,
        HTML,
        Markdown,
    )
}


@dataclasses.dataclass
class PipelineTaskFinalStatus:
    state: str
    pipeline_job_resource_name: str
    pipeline_task_name: str
    error_code: int | None
    error_message: str | None


def final_status(status: dict[str, Any]) -> PipelineTaskFinalStatus:
    """The final status Headwater gives an exit task, as Kubeflow's component sees it."""
    state = str(status.get("state", "")).upper()
    failed = state == "FAILED"
    return PipelineTaskFinalStatus(
        state=state,
        pipeline_job_resource_name=str(status.get("run_id", "")),
        pipeline_task_name=str(status.get("task", "")),
        error_code=1 if failed else None,
        error_message=(status.get("error_message") or "failed") if failed else None,
    )


class _Marker:
    def __init__(self, direction: str) -> None:
        self.direction = direction


_INPUT = _Marker("input")
_OUTPUT = _Marker("output")
T = TypeVar("T")
Input = Annotated[T, _INPUT]
Output = Annotated[T, _OUTPUT]


class InputPath:
    """``InputPath('CSV')``: the function gets the input artifact's local path."""

    def __init__(self, type: Any = None) -> None:
        self.type = type


class OutputPath:
    """``OutputPath(str)``: the function gets a path to write an output to."""

    def __init__(self, type: Any = None) -> None:
        self.type = type


def _decorator(*args: Any, **kwargs: Any) -> Any:
    """``@dsl.component`` and friends inside a task: the function itself."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda func: func


def kfp_modules() -> dict[str, types.ModuleType]:
    """The modules ``kfp`` and ``kfp.dsl`` a component's source imports."""
    dsl = types.ModuleType("kfp.dsl")
    names: dict[str, Any] = {
        **{c.__name__: c for c in ARTIFACT_CLASSES.values()},
        "Input": Input,
        "Output": Output,
        "InputPath": InputPath,
        "OutputPath": OutputPath,
        "PipelineTaskFinalStatus": PipelineTaskFinalStatus,
        "component": _decorator,
        "container_component": _decorator,
    }
    dsl.__dict__.update(names)
    dsl.__all__ = sorted(names)  # type: ignore[attr-defined]
    kfp = types.ModuleType("kfp")
    kfp.dsl = dsl  # type: ignore[attr-defined]
    kfp.__path__ = []  # a package: 'import kfp.dsl' works
    return {"kfp": kfp, "kfp.dsl": dsl}


_sources: dict[str, types.ModuleType] = {}


@contextlib.contextmanager
def kfp_installed() -> Iterator[None]:
    """``kfp`` and ``kfp.dsl`` importable as this module's while a component's source
    loads or its function runs (its body may import them again)."""
    saved = {name: sys.modules.get(name) for name in ("kfp", "kfp.dsl")}
    sys.modules.update(kfp_modules())
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def load_source(source: str, function: str, component: str) -> Any:
    """The function ``function`` of a component's module source, built once per process."""
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    module = _sources.get(key)
    if module is None:
        module = types.ModuleType(f"headwater_kfp_{key[:16]}")
        module.__file__ = f"<kfp component {component}>"
        try:
            with kfp_installed():
                exec(compile(source, module.__file__, "exec", dont_inherit=True), module.__dict__)
        except Exception as exc:
            raise TaskError(
                f"component '{component}': its source failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        _sources[key] = module
    func = module.__dict__.get(function)
    if not callable(func):
        raise TaskError(f"component '{component}': its source defines no function '{function}'")
    return func


# --------------------------------------------------------------------------- values


def _floats(value: Any) -> Any:
    """Numbers inside lists and dicts as Kubeflow carries them: floats."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def protobuf_value(value: Any, kind: str) -> Any:
    """``value`` of a parameter of ``kind`` as it reads after a trip through Kubeflow."""
    if value is None:
        return None
    if kind == "int" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind in ("float", "list", "dict", "any"):
        return _floats(value)
    return value


def _strip_optional(ann: Any) -> Any:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _marker(ann: Any) -> str | None:
    if typing.get_origin(ann) is Annotated:
        for meta in ann.__metadata__:
            if isinstance(meta, _Marker):
                return meta.direction
    return None


def _inner(ann: Any) -> Any:
    return typing.get_args(ann)[0] if typing.get_origin(ann) is Annotated else ann


def _is_artifact_class(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, Artifact)


def _artifact_list(ann: Any) -> bool:
    inner = _inner(ann)
    return typing.get_origin(inner) is list and any(
        _is_artifact_class(a) for a in typing.get_args(inner)
    )


def make_artifact(entry: dict[str, Any], fallback: type[Artifact]) -> Artifact:
    title = (entry.get("type") or {}).get("schemaTitle", "")
    cls = ARTIFACT_CLASSES.get(title, fallback)
    art = cls(name=entry.get("name", ""), uri=entry.get("uri", ""), metadata=entry.get("metadata"))
    if entry.get("path"):
        art.path = entry["path"]
    return art


# --------------------------------------------------------------------------- calling


_PARAM_TYPES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "dict"}


def _check_return(component: str, name: str, ann: Any, value: Any) -> Any:
    origin = typing.get_origin(ann) or ann
    wanted: tuple[type, ...] = (int, float) if origin is float else (origin,)
    if isinstance(origin, type) and origin in _PARAM_TYPES and not isinstance(value, wanted):
        raise TaskError(
            f"component '{component}' returned {type(value).__name__} for output '{name}', "
            f"which is declared {getattr(origin, '__name__', origin)}"
        )
    return value


def call_kfp(
    func: Any,
    task: dict[str, Any],
    iface: dict[str, Any],
    component: str,
    outputs: dict[str, Artifact],
) -> dict[str, Any]:
    """Call ``func`` as Kubeflow's executor would; its output parameter values by name.

    ``outputs`` gets the output artifact objects the function wrote (or returned)."""
    params = task["inputs"].get("parameterValues", {})
    arts = task["inputs"].get("artifacts", {})
    out_entries = task["outputs"].get("artifacts", {})
    scratch = tempfile.mkdtemp(prefix="hw-kfp-")
    param_files: dict[str, str] = {}
    kwargs: dict[str, Any] = {}

    def output_artifact(name: str) -> Artifact:
        if name not in outputs:
            entries = (out_entries.get(name) or {}).get("artifacts") or []
            if not entries:
                raise TaskError(f"component '{component}' has no output artifact '{name}'")
            art = make_artifact(entries[0], Artifact)
            os.makedirs(os.path.dirname(art.path) or ".", exist_ok=True)
            outputs[name] = art
        return outputs[name]

    def input_artifacts(name: str) -> list[Artifact]:
        found = [make_artifact(e, Artifact) for e in (arts.get(name) or {}).get("artifacts") or []]
        for art in found:  # metadata reaches a task through a protobuf Struct on Kubeflow
            art.metadata = _floats(art.metadata)
        return found

    try:
        annotations = dict(getattr(func, "__annotations__", {}))
        ret = annotations.pop("return", None)
        for name, raw in annotations.items():
            ann = _strip_optional(raw)
            io = iface["inputs"].get(name) or iface["outputs"].get(name) or {}
            if ann is PipelineTaskFinalStatus:
                kwargs[name] = final_status(params.get(name) or {})
            elif _artifact_list(ann):
                kwargs[name] = input_artifacts(name)
            elif _marker(ann) == "input" or _is_artifact_class(ann):
                found = input_artifacts(name)
                if found:
                    kwargs[name] = found[0]
            elif _marker(ann) == "output":
                kwargs[name] = output_artifact(name)
            elif isinstance(ann, OutputPath):
                if name in iface["outputs"] and iface["outputs"][name]["kind"] == "parameter":
                    param_files[name] = os.path.join(scratch, name)
                    kwargs[name] = param_files[name]
                else:
                    kwargs[name] = output_artifact(name).path
            elif isinstance(ann, InputPath):
                found = input_artifacts(name)
                if found:
                    kwargs[name] = found[0].path
            elif name in params:
                kind = (io.get("type") or {}).get("kind", "any")
                kwargs[name] = protobuf_value(params[name], kind)
        with kfp_installed():
            value = func(**kwargs)
        values: dict[str, Any] = {}
        if value is not None and ret is not None:
            if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):
                fields = ret._fields
                if not isinstance(value, tuple) or len(value) != len(fields):
                    raise TaskError(
                        f"component '{component}' must return {len(fields)} values "
                        f"({', '.join(fields)}), but returned {value!r:.200}"
                    )
                hints = getattr(ret, "__annotations__", {})
                pairs = [
                    (f, hints.get(f), getattr(value, f, v))
                    for f, v in zip(fields, value, strict=True)
                ]
            else:
                pairs = [("Output", ret, value)]
            for name, ann, v in pairs:
                if _is_artifact_class(ann):
                    art = output_artifact(name)
                    if isinstance(v, Artifact):
                        art.metadata = v.metadata
                    else:
                        with open(art.path, "w", encoding="utf-8") as f:
                            f.write(str(v))
                else:
                    values[name] = _check_return(component, name, ann, v)
        for name, path in param_files.items():
            if os.path.exists(path):
                values[name] = _read_output_file(component, name, path, iface)
        out: dict[str, Any] = {}
        for name, v in values.items():
            kind = ((iface["outputs"].get(name) or {}).get("type") or {}).get("kind", "any")
            out[name] = protobuf_value(v, kind)
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _read_output_file(component: str, name: str, path: str, iface: dict[str, Any]) -> Any:
    """An output parameter written to a file, read as Kubeflow reads it: text for a
    string, JSON for anything else."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    kind = ((iface["outputs"].get(name) or {}).get("type") or {}).get("kind", "str")
    if kind == "str":
        return text
    try:
        return json.loads(text.lower() if kind == "bool" else text)
    except ValueError:
        raise TaskError(
            f"component '{component}': output parameter '{name}' is declared {kind} but its "
            f"file holds {text[:80]!r}, which is not JSON"
        ) from None


# --------------------------------------------------------------------------- containers


_PLACEHOLDER = re.compile(r"\{\{\$\.(.*?)\}\}")


def _resolve(text: str, ctx: dict[str, Any], component: str) -> str:
    if text == "{{$}}":
        return json.dumps(ctx)

    def one(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"\.|\[|\]|''|'", match.group(1)) if p]
        value: Any
        try:
            if parts[:2] == ["inputs", "parameters"]:
                value = ctx["inputs"]["parameterValues"].get(parts[2])
            elif parts[:2] == ["outputs", "parameters"] and parts[3:] == ["output_file"]:
                value = ctx["outputs"]["parameters"][parts[2]]["outputFile"]
            elif parts[1] == "artifacts" and parts[0] in ("inputs", "outputs"):
                entries = ctx[parts[0]]["artifacts"][parts[2]]["artifacts"]
                field = parts[3] if len(parts) > 3 else "uri"
                entry = entries[0]
                value = entry.get("path") or entry["uri"] if field == "path" else entry.get(field)
            elif parts == ["outputs", "output_file"]:
                value = ctx["outputs"]["outputFile"]
            else:
                raise KeyError(match.group(0))
        except (KeyError, IndexError):
            raise TaskError(
                f"container component '{component}': its command names {match.group(0)}, "
                "which this task does not have"
            ) from None
        return value if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(one, text)


def _struct(value: Any, provided: set[str]) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Concat" in value:
        return "".join(p for p in (_struct(v, provided) for v in value["Concat"]) if p is not None)
    if isinstance(value, dict) and "IfPresent" in value:
        spec = value["IfPresent"]
        branch = spec.get("Then") if spec.get("InputName") in provided else spec.get("Else")
        if isinstance(branch, list):
            return [b for b in (_struct(v, provided) for v in branch) if b is not None]
        return None if branch is None else _struct(branch, provided)
    raise TaskError(f"unknown placeholder structure {value!r:.100}")


def _flatten(items: list[Any]) -> list[str]:
    flat: list[str] = []
    for item in items:
        if isinstance(item, list):
            flat.extend(_flatten(item))
        elif item is not None:
            flat.append(item)
    return flat


def run_container(
    task: dict[str, Any], iface: dict[str, Any], component: str, container: dict[str, Any]
) -> dict[str, Any]:
    """Run a container component's command here; its output parameter values by name."""
    params = {
        k: protobuf_value(v, ((iface["inputs"].get(k) or {}).get("type") or {}).get("kind", "any"))
        for k, v in task["inputs"].get("parameterValues", {}).items()
    }
    scratch = tempfile.mkdtemp(prefix="hw-kfp-")
    try:
        param_outputs = {
            name: {"outputFile": os.path.join(scratch, name)}
            for name, io in iface["outputs"].items()
            if io["kind"] == "parameter"
        }
        ctx = {
            "inputs": {
                "parameterValues": params,
                "artifacts": task["inputs"].get("artifacts", {}),
            },
            "outputs": {
                "parameters": param_outputs,
                "artifacts": task["outputs"].get("artifacts", {}),
                "outputFile": os.path.join(scratch, "executor_output.json"),
            },
        }
        provided = {k for k, v in params.items() if v is not None} | {
            k for k, v in ctx["inputs"]["artifacts"].items() if v and v.get("artifacts")
        }
        argv: list[Any] = []
        for element in [*container.get("command", []), *container.get("args", [])]:
            if element.startswith(('{"Concat": ', '{"IfPresent": ')):
                argv.append(_struct(json.loads(element), provided))
            else:
                argv.append(element)
        command = [_resolve(a, ctx, component) for a in _flatten(argv)]
        if not command:
            raise TaskError(f"container component '{component}' has no command")
        if shutil.which(command[0]) is None:
            raise TaskError(
                f"container component '{component}' runs '{command[0]}', which is not on this "
                f"machine (it is in the image {container.get('image')!r}); install it here, "
                "or run this pipeline on Kubeflow"
            )
        for entries in task["outputs"].get("artifacts", {}).values():
            for entry in entries.get("artifacts", []):
                path = entry.get("path") or entry["uri"]
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        code = subprocess.call(command, stdin=subprocess.DEVNULL)
        if code != 0:
            raise TaskError(
                f"container component '{component}': '{command[0]}' exited with status {code}"
            )
        values: dict[str, Any] = {}
        for name, io in param_outputs.items():
            if os.path.exists(io["outputFile"]):
                kind = iface["outputs"][name]["type"]["kind"]
                values[name] = protobuf_value(
                    _read_output_file(component, name, io["outputFile"], iface), kind
                )
        return values
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
