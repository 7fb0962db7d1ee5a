"""From a Python function signature to a component's typed inputs and outputs."""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from headwater.errors import ComponentDefinitionError, Location
from headwater.sdk._artifacts import OUTPUT, Artifact, FinalStatus, _IOMarker
from headwater.sdk._location import Src, loc
from headwater.sdk._param import Param
from headwater.spec import Constraints, IOSpec, ParamType

_SCALARS: dict[Any, Literal["int", "float", "str", "bool"]] = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
}


@dataclass
class Interface:
    """A component's inputs and outputs, and how its return value maps onto outputs."""

    inputs: dict[str, IOSpec]
    outputs: dict[str, IOSpec]
    returns: Literal["none", "single", "named_tuple"] = "none"
    return_outputs: list[str] = field(default_factory=list)
    artifact_classes: set[type[Artifact]] = field(default_factory=set)


def _where(src: Src | None, component: str) -> Location:
    return loc(src)


class _Parser:
    def __init__(self, owner: str, kind: str, src: Src | None) -> None:
        self.owner = owner
        self.kind = kind
        self.loc = _where(src, owner)
        self.artifact_classes: set[type[Artifact]] = set()

    def fail(self, message: str, hint: str | None = None) -> ComponentDefinitionError:
        return ComponentDefinitionError(
            f"{self.kind} '{self.owner}': {message}", location=self.loc, hint=hint
        )

    def param_type(self, ann: Any, name: str) -> tuple[ParamType, list[Any] | None]:
        """A ParamType for ``ann``, and the allowed values if it is a Literal."""
        origin = get_origin(ann)
        args = get_args(ann)
        if origin is typing.Annotated:
            return self.param_type(args[0], name)
        if origin is Union or origin is types.UnionType:
            non_none = [a for a in args if a is not type(None)]
            if len(non_none) == 1 and len(args) == 2:
                inner, enum = self.param_type(non_none[0], name)
                return inner.model_copy(update={"optional": True}), enum
            raise self.fail(
                f"parameter '{name}' has the union type {_show(ann)}",
                "use one type, or Optional[T] for a value that may be None",
            )
        if origin is Literal:
            kinds = {_SCALARS.get(type(a)) for a in args}
            if len(kinds) != 1 or None in kinds:
                raise self.fail(
                    f"parameter '{name}' is a Literal of mixed or unsupported values {args!r}",
                    "use values of one type: all str, all int, ...",
                )
            kind = kinds.pop()
            assert kind is not None
            return ParamType(kind=kind), list(args)
        if ann in _SCALARS:
            return ParamType(kind=_SCALARS[ann]), None
        if ann is typing.Any:
            return ParamType(kind="any"), None
        if ann is list or origin is list:
            items = self.param_type(args[0], name)[0] if args else None
            return ParamType(kind="list", items=items), None
        if ann is dict or origin is dict:
            values = None
            if args:
                if args[0] is not str:
                    raise self.fail(
                        f"parameter '{name}' has dict keys of type {_show(args[0])}",
                        "parameter values travel as JSON, whose object keys are str: "
                        "use dict[str, ...]",
                    )
                values = self.param_type(args[1], name)[0]
            return ParamType(kind="dict", values=values), None
        if isinstance(ann, type) and issubclass(ann, Artifact):
            raise self.fail(
                f"parameter '{name}' is annotated {ann.__name__} without Input or Output",
                f"annotate it Input[{ann.__name__}] to read the artifact or "
                f"Output[{ann.__name__}] to write it",
            )
        raise self.fail(
            f"parameter '{name}' has unsupported type {_show(ann)}",
            "parameters may be int, float, str, bool, list, dict (with str keys), their "
            "generics such as list[int], Optional[...], or Input[...]/Output[...] artifacts",
        )

    def artifact(self, ann: Any, name: str, marker: _IOMarker) -> IOSpec:
        is_list = False
        target = ann
        if get_origin(ann) is list and get_args(ann):
            is_list, target = True, get_args(ann)[0]
        if not (isinstance(target, type) and issubclass(target, Artifact)):
            raise self.fail(
                f"'{name}' is {marker.direction.capitalize()}[{_show(ann)}], which is not an "
                "artifact type",
                "use an artifact class such as Dataset, Model, Metrics, or your own subclass "
                "of Artifact; plain values are parameters and need no Input[...]",
            )
        if is_list and marker is OUTPUT:
            raise self.fail(
                f"output '{name}' is a list of artifacts",
                "write one artifact per Output[...] parameter",
            )
        self.artifact_classes.add(target)
        return IOSpec(kind="artifact", artifact_type=target.schema_title, is_list=is_list)


def _split_optional(ann: Any) -> tuple[Any, bool]:
    """``Optional[X]`` -> (X, True); anything else -> (ann, False)."""
    if get_origin(ann) in (Union, types.UnionType):
        args = get_args(ann)
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and len(args) == 2:
            return non_none[0], True
    return ann, False


def _show(ann: Any) -> str:
    if isinstance(ann, type) and not get_args(ann):
        return ann.__name__
    return repr(ann).replace("typing.", "")


def _json_default(value: Any, parser: _Parser, name: str) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise parser.fail(
            f"default of '{name}' is {value!r}, which is not a JSON value",
            "defaults must be numbers, strings, booleans, None, lists or dicts of those",
        ) from None


def _hints(func: Callable[..., Any], parser: _Parser) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise parser.fail(
            f"cannot resolve its type annotations: {exc}",
            "import every type used in an annotation at module level",
        ) from None


def component_interface(func: Callable[..., Any], name: str, src: Src | None) -> Interface:
    """Inputs and outputs of a ``@component`` function, from its annotations."""
    parser = _Parser(name, "component", src)
    hints = _hints(func, parser)
    inputs: dict[str, IOSpec] = {}
    outputs: dict[str, IOSpec] = {}
    for pname, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise parser.fail(
                f"*args and **kwargs are not supported ('{pname}')",
                "declare every input as a named, annotated parameter",
            )
        if pname not in hints:
            raise parser.fail(
                f"parameter '{pname}' has no type annotation",
                f"annotate it, e.g. '{pname}: int' or '{pname}: Input[Dataset]'",
            )
        ann = hints[pname]
        inner, optional = _split_optional(ann)
        markers = [a for a in getattr(inner, "__metadata__", ()) if isinstance(a, _IOMarker)]
        if markers:
            io = parser.artifact(get_args(inner)[0], pname, markers[0])
            if optional and markers[0] is OUTPUT:
                raise parser.fail(
                    f"output '{pname}' is Optional",
                    "an Output[...] parameter always receives an artifact to write; "
                    "drop the Optional",
                )
            if markers[0] is OUTPUT:
                outputs[pname] = io
                continue
            if param.default is not param.empty:
                if param.default is not None:
                    raise parser.fail(
                        f"artifact input '{pname}' has a default other than None",
                        "an optional artifact input may default to None only",
                    )
                io = io.model_copy(update={"has_default": True})
            inputs[pname] = io
            continue
        if ann is FinalStatus:
            inputs[pname] = IOSpec(kind="final_status")
            continue
        ptype, enum = parser.param_type(ann, pname)
        has_default = param.default is not param.empty
        default = _json_default(param.default, parser, pname) if has_default else None
        constraints = Constraints(enum=enum) if enum is not None else None
        inputs[pname] = IOSpec(
            kind="parameter",
            type=ptype,
            has_default=has_default,
            default=default,
            constraints=constraints,
        )
    iface = Interface(inputs, outputs, artifact_classes=parser.artifact_classes)
    ret = hints.get("return", None)
    if ret is None or ret is type(None):
        return iface
    if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):
        fields: dict[str, Any] = typing.get_type_hints(ret, include_extras=True)
        iface.returns = "named_tuple"
        for fname in ret._fields:
            if fname in inputs or fname in outputs:
                raise parser.fail(
                    f"return field '{fname}' clashes with a parameter of the same name",
                    "rename the NamedTuple field or the parameter",
                )
            outputs[fname] = _return_io(parser, fields.get(fname, Any), fname)
            iface.return_outputs.append(fname)
        return iface
    if "output" in outputs or "output" in inputs:
        raise parser.fail(
            "returns a value, whose output is named 'output', but a parameter is "
            "already named 'output'",
            "rename the parameter",
        )
    outputs["output"] = _return_io(parser, ret, "output")
    iface.returns = "single"
    iface.return_outputs.append("output")
    return iface


def _return_io(parser: _Parser, ann: Any, name: str) -> IOSpec:
    if isinstance(ann, type) and issubclass(ann, Artifact):
        raise parser.fail(
            f"returns the artifact type {ann.__name__} as '{name}'",
            f"write artifacts through a parameter annotated Output[{ann.__name__}]; "
            "return values are parameters (int, float, str, bool, list, dict)",
        )
    return IOSpec(kind="parameter", type=parser.param_type(ann, f"return value '{name}'")[0])


def pipeline_inputs(
    func: Callable[..., Any], name: str, src: Src | None
) -> tuple[dict[str, IOSpec], set[type[Artifact]]]:
    """Inputs of a ``@pipeline`` function: parameters with constraints, or artifacts."""
    parser = _Parser(name, "pipeline", src)
    hints = _hints(func, parser)
    inputs: dict[str, IOSpec] = {}
    for pname, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise parser.fail(f"*args and **kwargs are not supported ('{pname}')")
        if pname not in hints:
            raise parser.fail(
                f"parameter '{pname}' has no type annotation",
                f"annotate it, e.g. '{pname}: int'",
            )
        ann = hints[pname]
        meta = getattr(ann, "__metadata__", ())
        inner, _ = _split_optional(ann)
        markers = [a for a in getattr(inner, "__metadata__", ()) if isinstance(a, _IOMarker)]
        if markers:
            if markers[0] is OUTPUT:
                raise parser.fail(
                    f"parameter '{pname}' is an Output[...]",
                    "a pipeline's outputs are the task outputs it returns",
                )
            io = parser.artifact(get_args(inner)[0], pname, markers[0])
            if param.default is not param.empty:
                io = io.model_copy(update={"has_default": True})
            inputs[pname] = io
            continue
        ptype, enum = parser.param_type(ann, pname)
        # Param may sit outside or inside Optional: Annotated[int, Param()] | None.
        meta = (*meta, *getattr(inner, "__metadata__", ()))
        params = [a for a in meta if isinstance(a, Param)]
        cons: dict[str, Any] = dict(params[0].constraints) if params else {}
        if enum is not None and cons.get("enum") is None:
            cons["enum"] = enum
        cons = {k: v for k, v in cons.items() if v is not None}
        has_default = param.default is not param.empty
        inputs[pname] = IOSpec(
            kind="parameter",
            type=ptype,
            has_default=has_default,
            default=_json_default(param.default, parser, pname) if has_default else None,
            description=params[0].description if params else None,
            constraints=Constraints(**cons) if cons else None,
        )
    return inputs, parser.artifact_classes
