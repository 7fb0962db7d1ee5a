"""Importers and the URI roots of confined runs, on the engine's side.

An importer is a task attempt like any other (its task input names the URI, the hashing
bounds and, for a confined run, the :class:`~headwater.runtime.UriPolicy`; the task
process checks and hashes, see :mod:`headwater.runtime._importer`). This module builds
that task input, turns the attempt's output into the artifact to record, works out the
policy of a run's namespace, and checks, before a server creates a run, every importer
URI that the spec and the run's parameter values already determine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater._config import Settings
from headwater.errors import Location, UriNotAllowed
from headwater.runtime import TASK_SCHEMA, UriPolicy, artifact_entry, local_path_of
from headwater.spec import (
    Binding,
    CombinedItems,
    ConditionGroup,
    ConstantBinding,
    DagImplementation,
    ExitHandlerGroup,
    ImporterImplementation,
    LoopGroup,
    LoopItemBinding,
    PipelineInputBinding,
    PipelineSpec,
    TaskSpec,
    TemplateBinding,
)
from headwater.store import RUN_TEMPLATES, MetadataStore, NewArtifact

if TYPE_CHECKING:
    from headwater.engine._workspace import Workspace


def _sqlite_file(database_url: str) -> str | None:
    if not database_url.startswith("sqlite"):
        return None
    import sqlalchemy as sa

    path = sa.make_url(database_url).database
    if not path or path == ":memory:":
        return None
    return os.path.abspath(os.path.expanduser(path))


def _absolute(uri: str) -> str:
    local = local_path_of(uri)
    if local is not None and "://" not in uri and not os.path.isabs(local):
        return os.path.abspath(local)
    return uri


def uri_policy(settings: Settings, store: MetadataStore) -> UriPolicy:
    """Where the confined runs of ``store``'s namespace may read: the artifact root, then
    the roots an operator allowed; never Headwater's home (but the artifact root) or the
    metadata database."""
    from headwater._config import NAMESPACES_FOLDER

    artifact_root = _absolute(settings.artifact_root)
    roots = [artifact_root, *(r.root for r in store.roots.list())]
    shared = _absolute(settings.shared_artifact_root or settings.artifact_root)
    return UriPolicy(
        namespace=store.namespace,
        roots=tuple(dict.fromkeys(roots)),
        artifact_root=artifact_root,
        home=os.path.abspath(settings.home),
        database=_sqlite_file(settings.database_url),
        others=f"{shared.rstrip('/')}/{NAMESPACES_FOLDER}"
        if store.namespace == "default"
        else None,
    )


# ---------------------------------------------------------------------- before a run exists


@dataclass(frozen=True)
class NamedUri:
    """A URI an importer will read: the task path, the value, and where it comes from."""

    task: str
    uri: Any
    source: str


Candidates = list[tuple[Any, str]] | None  # None: known only when the run runs


def importer_uris(spec: PipelineSpec, values: dict[str, Any]) -> list[NamedUri]:
    """Every importer URI that ``spec`` and the run's parameter ``values`` determine:
    constants, parameters (through nested pipelines), templates (rendered, under
    ``RUN_TEMPLATES`` in ``values``) and the items of loops over them. URIs that come from
    task outputs are checked by the task process when it runs."""
    found: list[NamedUri] = []
    # The rendered templates ride along with the inputs, under a key no parameter has.
    inputs: dict[str, Candidates] = {
        name: [(value, "a template" if name == RUN_TEMPLATES else f"parameter '{name}'")]
        for name, value in values.items()
    }
    _walk(spec, spec.dag.nodes, inputs, {}, "", found)
    return found


def _candidates(
    binding: Binding | None, inputs: dict[str, Candidates], loops: dict[str, Candidates]
) -> Candidates:
    if isinstance(binding, ConstantBinding):
        return [(binding.value, "a constant in the pipeline")]
    if isinstance(binding, PipelineInputBinding):
        return inputs.get(binding.name)
    if isinstance(binding, TemplateBinding):
        rendered = inputs.get(RUN_TEMPLATES) or [({}, "")]
        text = rendered[0][0].get(binding.template)
        return None if text is None else [(text, f"the template {binding.template!r}")]
    if isinstance(binding, LoopItemBinding):
        items = loops.get(binding.loop)
        if items is None or binding.key is None:
            return items
        key = binding.key
        return [
            (item[key], f"{source}, key '{key}'")
            for item, source in items
            if isinstance(item, dict) and key in item
        ]
    return None


def _walk(
    spec: PipelineSpec,
    nodes: list[Any],
    inputs: dict[str, Candidates],
    loops: dict[str, Candidates],
    prefix: str,
    found: list[NamedUri],
) -> None:
    for node in nodes:
        if isinstance(node, TaskSpec):
            comp = spec.components[node.component]
            impl = comp.implementation
            if isinstance(impl, ImporterImplementation):
                for value, source in _candidates(node.inputs.get("uri"), inputs, loops) or []:
                    found.append(NamedUri(prefix + node.name, value, source))
            elif isinstance(impl, DagImplementation):
                inner: dict[str, Candidates] = {RUN_TEMPLATES: inputs.get(RUN_TEMPLATES)}
                for name, io in comp.inputs.items():
                    bound = node.inputs.get(name)
                    if bound is not None:
                        inner[name] = _candidates(bound, inputs, loops)
                    elif io.has_default:
                        inner[name] = [(io.default, f"the default of '{node.name}.{name}'")]
                _walk(spec, impl.dag.nodes, inner, {}, f"{prefix}{node.name}.", found)
        elif isinstance(node, ConditionGroup):
            for branch in node.branches:
                _walk(spec, branch.nodes, inputs, loops, prefix, found)
        elif isinstance(node, LoopGroup):
            lists = _loop_candidates(node, inputs, loops)
            if lists is None or not all(isinstance(v, list) for v, _ in lists):
                _walk(spec, node.nodes, inputs, {**loops, node.name: None}, prefix, found)
                continue
            for value, source in lists:
                for i, item in enumerate(value):
                    item_source = [(item, f"item {i} of {source}")]
                    _walk(
                        spec,
                        node.nodes,
                        inputs,
                        {**loops, node.name: item_source},
                        f"{prefix}{node.name}[{i}].",
                        found,
                    )
        elif isinstance(node, ExitHandlerGroup):
            _walk(spec, [*node.nodes, node.exit_task], inputs, loops, prefix, found)


def _loop_candidates(loop: LoopGroup, inputs: Any, loops: Any) -> Candidates | None:
    """The lists a loop may run over, its combined lists combined and its items shaped."""
    items = loop.items
    if not isinstance(items, CombinedItems):
        found = _candidates(items, inputs, loops)
    else:
        each = [_candidates(n.items, inputs, loops) for n in items.lists]
        if any(c is None or len(c) != 1 or not isinstance(c[0][0], list) for c in each):
            return None
        values = [c[0][0] for c in each if c is not None]
        found = [(items.combine(values), f"the {items.kind} of lists of '{loop.name}'")]
    shape = loop.item_shape
    if shape is None or found is None:
        return found
    return [
        ([{**shape.optional, **v} if isinstance(v, dict) else v for v in value], source)
        if isinstance(value, list)
        else (value, source)
        for value, source in found
    ]


def check_run_uris(ws: Workspace, spec: PipelineSpec, values: dict[str, Any]) -> None:
    """Refuse (:class:`UriNotAllowed`) a run that a server is about to create if one of
    its importers would read outside its namespace's roots; nothing is created then."""
    named = importer_uris(spec, values)
    if not named:
        return
    policy = uri_policy(ws.settings, ws.store)
    for item in named:
        if str(item.uri).startswith("models:/"):  # a registered model of the namespace
            continue
        try:
            policy.check(str(item.uri))
        except UriNotAllowed as exc:
            raise UriNotAllowed(
                f"task '{item.task}' would import {str(item.uri)!r} ({item.source}), "
                f"which this run may not read: {exc.message}",
                location=Location(pipeline=spec.name, task=item.task),
                hint=exc.hint,
            ) from None


# ---------------------------------------------------------------------- importer attempts


def importer_task_input(
    *,
    run_id: str,
    task_run_id: str,
    path: str,
    attempt: int,
    uri: str,
    impl: ImporterImplementation,
    output_file: str,
    settings: Settings,
    policy: UriPolicy | None,
) -> dict[str, Any]:
    """The task input of an importer attempt (the usual protocol, with a
    ``headwater.importer`` block instead of a component)."""
    metadata = dict(impl.metadata)
    return {
        "schemaVersion": TASK_SCHEMA,
        "inputs": {"parameterValues": {"uri": uri}, "artifacts": {}},
        "outputs": {
            "parameters": {},
            "artifacts": {
                "artifact": {
                    "artifacts": [artifact_entry("artifact", uri, impl.artifact_type, metadata)]
                }
            },
            "outputFile": output_file,
        },
        "headwater": {
            "runId": run_id,
            "taskRunId": task_run_id,
            "taskPath": path,
            "attempt": attempt,
            "importer": {
                "artifactType": impl.artifact_type,
                "metadata": metadata,
                "maxBytes": settings.import_max_bytes,
                "maxFiles": settings.import_max_files,
                "policy": policy.to_json() if policy is not None else None,
            },
        },
    }


def imported_artifact(
    uri: str, impl: ImporterImplementation, result: dict[str, Any]
) -> NewArtifact | None:
    """The artifact an importer attempt reported (None if it reported none). The URI,
    type and metadata are the engine's own; only the digest and size come from the task."""
    entries = ((result.get("artifacts") or {}).get("artifact") or {}).get("artifacts") or []
    if not entries or not isinstance(entries[0], dict):
        return None
    entry = entries[0]
    digest, size = entry.get("digest"), entry.get("size")
    return NewArtifact(
        "artifact",
        impl.artifact_type,
        uri,
        digest if isinstance(digest, str) else None,
        size if isinstance(size, int) else None,
        dict(impl.metadata),
    )
