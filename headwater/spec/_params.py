"""Parameter types and constraints: JSON Schema export and value checks."""

from __future__ import annotations

import re
from typing import Any

from headwater._typecheck import mismatch
from headwater.errors import ParameterError
from headwater.spec._models import Constraints, IOSpec, ParamType, PipelineSpec

_JSON_TYPES = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def type_json_schema(t: ParamType) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if t.kind != "any":
        schema["type"] = _JSON_TYPES[t.kind]
    if t.items is not None:
        schema["items"] = type_json_schema(t.items)
    if t.values is not None:
        schema["additionalProperties"] = type_json_schema(t.values)
    if t.optional:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _constraint_schema(c: Constraints, kind: str) -> dict[str, Any]:
    length = {"list": ("minItems", "maxItems"), "dict": ("minProperties", "maxProperties")}
    low, high = length.get(kind, ("minLength", "maxLength"))
    names = {
        "minimum": "minimum",
        "maximum": "maximum",
        "exclusive_minimum": "exclusiveMinimum",
        "exclusive_maximum": "exclusiveMaximum",
        "min_length": low,
        "max_length": high,
        "pattern": "pattern",
        "enum": "enum",
    }
    return {names[k]: v for k, v in c.model_dump(exclude_none=True).items()}


def parameters_json_schema(spec: PipelineSpec) -> dict[str, Any]:
    """The run parameters of ``spec`` as a JSON Schema object (draft 2020-12)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, io in spec.parameters.items():
        if io.kind != "parameter" or io.type is None:
            continue
        schema = type_json_schema(io.type)
        if io.constraints is not None:
            schema.update(_constraint_schema(io.constraints, io.type.kind))
        if io.description:
            schema["description"] = io.description
        if io.has_default:
            schema["default"] = io.default
        else:
            required.append(name)
        props[name] = schema
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": spec.name,
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    if spec.description:
        out["description"] = spec.description
    return out


def type_error(value: Any, t: ParamType, where: str = "value") -> str | None:
    """Why ``value`` is not a ``t``, or ``None`` if it is."""
    return mismatch(value, t.model_dump(mode="json"), where)


def constraint_errors(value: Any, c: Constraints, where: str = "value") -> list[str]:
    errs: list[str] = []
    if value is None:
        return errs
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    if is_num:
        if c.minimum is not None and value < c.minimum:
            errs.append(f"{where} {value!r} is below the minimum {c.minimum:g}")
        if c.maximum is not None and value > c.maximum:
            errs.append(f"{where} {value!r} is above the maximum {c.maximum:g}")
        if c.exclusive_minimum is not None and value <= c.exclusive_minimum:
            errs.append(f"{where} {value!r} must be greater than {c.exclusive_minimum:g}")
        if c.exclusive_maximum is not None and value >= c.exclusive_maximum:
            errs.append(f"{where} {value!r} must be less than {c.exclusive_maximum:g}")
    if isinstance(value, str | list | dict):
        if c.min_length is not None and len(value) < c.min_length:
            errs.append(f"{where} has length {len(value)}, below the minimum {c.min_length}")
        if c.max_length is not None and len(value) > c.max_length:
            errs.append(f"{where} has length {len(value)}, above the maximum {c.max_length}")
    if isinstance(value, str) and c.pattern is not None and re.search(c.pattern, value) is None:
        errs.append(f"{where} {value!r} does not match the pattern {c.pattern!r}")
    if c.enum is not None and value not in c.enum:
        errs.append(f"{where} {value!r} is not one of {c.enum!r}")
    return errs


def value_errors(value: Any, io: IOSpec, where: str) -> list[str]:
    if io.type is None:
        return []
    err = type_error(value, io.type, where)
    if err:
        return [err]
    return constraint_errors(value, io.constraints, where) if io.constraints else []


def resolve_parameters(spec: PipelineSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Check run parameter ``values`` against ``spec``; return them with defaults filled in.

    Integers are accepted for float parameters and become floats.
    """
    params = spec.parameters
    problems: list[str] = []
    for name in values:
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            problems.append(f"unknown parameter '{name}' (the pipeline takes: {known})")
    resolved: dict[str, Any] = {}
    for name, io in params.items():
        if name in values:
            value = values[name]
        elif io.has_default:
            value = io.default
        else:
            problems.append(f"missing required parameter '{name}' ({io.describe()})")
            continue
        errs = value_errors(value, io, f"parameter '{name}'")
        problems.extend(errs)
        if not errs and io.type is not None and io.type.kind == "float" and isinstance(value, int):
            value = float(value)
        resolved[name] = value
    if problems:
        raise ParameterError(
            f"bad parameters for pipeline '{spec.name}':\n  " + "\n  ".join(problems),
            hint="see the pipeline's parameters with 'headwater validate FILE'",
        )
    return resolved
