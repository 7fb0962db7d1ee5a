"""Registering artifacts as model versions, finding versions by alias or number, their
lineage back to data, and fetching their files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.errors import InvalidValue, NotFound
from headwater.registry._flavors import Flavor, infer_flavor
from headwater.registry._refs import ModelRef, parse_model_uri, parse_ref
from headwater.runtime import local_path_of
from headwater.store import (
    ArtifactRecord,
    LineageNode,
    MetadataStore,
    ModelVersionRecord,
    NewModelVersion,
    check_alias,
    check_model_name,
    check_tags,
)

#: The key of a task output's ``headwater`` block that carries ``register_model`` calls.
REGISTER_KEY = "register"


def describe(artifact: ArtifactRecord) -> Flavor | None:
    """The flavour and signature of a model artifact, from its files where they are on
    this machine, else from its metadata alone."""
    local = local_path_of(artifact.uri)
    if local is not None and os.path.exists(local):
        return infer_flavor(local, artifact.metadata)
    return infer_flavor("", artifact.metadata)


def _described(artifact: ArtifactRecord) -> tuple[str | None, dict[str, Any] | None]:
    flavor = describe(artifact)
    if flavor is None:
        return None, None
    signature = flavor.signature
    details = {"file": flavor.file, **flavor.details}
    return flavor.name, {**(signature or {}), "flavor_details": details}


def register_artifact(
    store: MetadataStore,
    name: str,
    artifact_id: str,
    *,
    aliases: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    created_by: str | None = None,
) -> ModelVersionRecord:
    """Register artifact ``artifact_id`` (an id, or a unique prefix of one, of this
    namespace) as the next version of model ``name``, with its flavour and signature."""
    check_model_name(name)
    for alias in aliases:
        check_alias(alias)
    clean_tags = check_tags(dict(tags) if tags is not None else None)
    artifact = store.lineage.get_artifact(artifact_id)
    flavor, signature = _described(artifact)
    return store.models.register(
        name,
        NewModelVersion(
            artifact.id,
            flavor=flavor,
            signature=signature,
            tags=clean_tags,
            description=description,
            created_by=created_by,
        ),
        aliases=aliases,
    )


# ---------------------------------------------------------------------- from a task


@dataclass(frozen=True)
class Registration:
    """A ``register_model`` call a task made: which artifact (an output's name, or an
    input's URI), under which name, with what."""

    name: str
    output: str | None
    uri: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str]
    description: str | None


def registrations(result: dict[str, Any], declared: Mapping[str, str]) -> list[Registration]:
    """The registrations a task asked for: its ``register_model`` calls (in its task
    output) and the component's ``register`` option (output -> model name). Raises
    :class:`InvalidValue` for a malformed one."""
    found = [Registration(model, output, None, (), {}, None) for output, model in declared.items()]
    raw = (result.get("headwater") or {}).get(REGISTER_KEY) or []
    if not isinstance(raw, list):
        raise InvalidValue("the task output's model registrations are not a list")
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidValue("a model registration in the task output is not an object")
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list):
            raise InvalidValue("register_model aliases must be a list of names")
        description = entry.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidValue("register_model description must be text")
        output, uri = entry.get("output"), entry.get("uri")
        if not isinstance(output, str | None) or not isinstance(uri, str | None):
            raise InvalidValue("a model registration names no artifact")
        found.append(
            Registration(
                check_model_name(entry.get("name")),
                output,
                uri,
                tuple(check_alias(a) for a in aliases),
                check_tags(entry.get("tags")),
                description,
            )
        )
    return found


def check_registrations(
    store: MetadataStore, requests: Iterable[Registration], outputs: Mapping[str, str]
) -> str | None:
    """Why the registrations a task asked for cannot be made (None: they can):
    ``outputs`` are its output artifacts' ids by name."""
    for req in requests:
        if req.output is not None and req.output not in outputs:
            return f"cannot register model '{req.name}': the task wrote no output '{req.output}'"
        if req.output is None and (
            not req.uri or store.lineage.find_artifact_by_uri(req.uri) is None
        ):
            return (
                f"cannot register model '{req.name}': {req.uri!r} is no artifact this "
                "namespace recorded; register an Output[Model] of the task, or an Input[Model]"
            )
    return None


def register_outputs(
    store: MetadataStore,
    requests: Iterable[Registration],
    outputs: Mapping[str, str],
    *,
    run_id: str,
    task_run_id: str,
    actor: str,
) -> list[ModelVersionRecord]:
    """Register what a succeeded task asked for; ``outputs``: its output artifacts' ids
    by name. Called in the transaction that records the task's outputs."""
    made = []
    for req in requests:
        if req.output is not None:
            if req.output not in outputs:
                raise NotFound(
                    f"register_model names output '{req.output}', which the task did not write"
                )
            artifact_id = outputs[req.output]
        else:
            found = store.lineage.find_artifact_by_uri(str(req.uri))
            if found is None:
                raise NotFound(f"register_model names {req.uri!r}, which is no recorded artifact")
            artifact_id = found.id
        artifact = store.lineage.artifacts_by_id([artifact_id])[artifact_id]
        flavor, signature = _described(artifact)
        made.append(
            store.models.register(
                req.name,
                NewModelVersion(
                    artifact_id,
                    run_id=run_id,
                    task_run_id=task_run_id,
                    flavor=flavor,
                    signature=signature,
                    tags=req.tags,
                    description=req.description,
                    created_by=actor,
                ),
                aliases=req.aliases,
                any_type=True,  # the task process checked the class
            )
        )
    return made


# ---------------------------------------------------------------------- finding


def resolve(store: MetadataStore, ref: ModelRef | str) -> ModelVersionRecord:
    """The version ``ref`` names (a :class:`ModelRef`, ``NAME@ALIAS``, ``NAME/VERSION``,
    ``NAME`` or a ``models:/`` URI)."""
    if isinstance(ref, str):
        ref = parse_model_uri(ref) if ref.startswith("models:/") else parse_ref(ref)
    if ref.version is not None:
        return store.models.get_version(ref.name, ref.version)
    return store.models.by_alias(ref.name, ref.alias or "latest")


def lineage(store: MetadataStore, ref: ModelRef | str) -> list[LineageNode]:
    """What the version was made from, back to the data: every upstream artifact."""
    return store.lineage.walk(resolve(store, ref).artifact_id, "upstream")


def download(
    store: MetadataStore, ref: ModelRef | str, dest: str
) -> tuple[ModelVersionRecord, str]:
    """Copy the version's files into folder ``dest`` (created); the version and the path
    of the copy."""
    version = resolve(store, ref)
    artifact = store.lineage.artifacts_by_id([version.artifact_id]).get(version.artifact_id)
    if artifact is None:
        raise NotFound(f"the artifact of model '{version.model}' version {version.version} is gone")
    os.makedirs(dest, exist_ok=True)
    name = os.path.basename(artifact.uri.rstrip("/")) or "model"
    target = os.path.join(dest, name)
    if os.path.exists(target):
        raise InvalidValue(
            f"{target} exists already", hint="download into an empty folder, or remove it"
        )
    local = local_path_of(artifact.uri)
    if local is not None:
        if not os.path.exists(local):
            raise NotFound(
                f"the files of model '{version.model}' version {version.version} "
                f"are gone from {artifact.uri}"
            )
        if os.path.isdir(local):
            shutil.copytree(local, target, symlinks=True)
        else:
            shutil.copy2(local, target)
        return version, target
    import fsspec

    fs, remote = fsspec.core.url_to_fs(artifact.uri)
    fs.get(remote, target, recursive=fs.isdir(remote))
    return version, target
