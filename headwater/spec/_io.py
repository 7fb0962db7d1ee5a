"""Canonical JSON, digests, and reading and writing spec documents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pydantic

from headwater.errors import SpecError
from headwater.spec._models import SCHEMA_VERSION, PipelineSpec


def to_data(spec: PipelineSpec) -> dict[str, Any]:
    """The spec as plain JSON-compatible data; fields at their default are left out."""
    return spec.model_dump(mode="json", exclude_defaults=True)


def canonical_json(spec: PipelineSpec) -> str:
    """Keys sorted, no insignificant whitespace, UTF-8 text: equal specs give equal strings."""
    return json.dumps(
        to_data(spec), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def digest(spec: PipelineSpec) -> str:
    """``sha256:`` and the hex sha256 of the spec's canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()


def dumps(spec: PipelineSpec, *, format: str = "json") -> str:
    """The spec as a readable JSON or YAML document."""
    data = to_data(spec)
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if format == "yaml":
        import yaml

        text = str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        if yaml.safe_load(text) != data:
            # Some characters (NEL, for one) do not survive unescaped YAML: escape them all.
            text = str(yaml.safe_dump(data, sort_keys=False, allow_unicode=False))
        return text
    raise SpecError(f"unknown spec format '{format}'", hint="use 'json' or 'yaml'")


def loads(text: str | bytes, *, source: str = "<string>") -> PipelineSpec:
    """Read a spec from JSON or YAML text, checking its schema version and every field."""
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(
                f"{source} is neither JSON nor YAML: {exc}",
                hint="pass a file written by 'headwater compile'",
            ) from None
    return from_data(data, source=source)


def from_data(data: Any, *, source: str = "<data>") -> PipelineSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source} does not hold a pipeline spec (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecError(
            f"{source} has schema_version {version!r}; this Headwater reads {SCHEMA_VERSION!r}",
            hint="recompile the pipeline with this version of Headwater",
        )
    try:
        return PipelineSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        lines = []
        for err in exc.errors()[:10]:
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise SpecError(
            f"{source} is not a valid pipeline spec:\n" + "\n".join(lines),
            hint="recompile the pipeline with 'headwater compile'",
        ) from None


def load(path: str | Path) -> PipelineSpec:
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read spec file {p}: {exc.strerror}") from None
    return loads(text, source=str(p))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec document itself (its root at the top: a tune step holds
    a pipeline spec, so pydantic puts the root among the definitions and refers to it)."""
    schema = PipelineSpec.model_json_schema()
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        defs = schema["$defs"]
        schema = {**defs[ref.removeprefix("#/$defs/")], "$defs": defs}
    return schema
