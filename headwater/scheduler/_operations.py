"""What a server or client asks of runs from outside their engine: trigger one, cancel
it, retry its failed tasks, clear a task and what follows it, read its logs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from headwater.engine import (
    Workspace,
    check_options,
    check_references,
    check_run_uris,
    plan_dag,
    render_for_run,
)
from headwater.errors import Conflict, NotFound
from headwater.scheduler._context import manual_context
from headwater.spec import (
    ConditionGroup,
    DagImplementation,
    DagSpec,
    ExitHandlerGroup,
    LoopGroup,
    Node,
    PipelineSpec,
    TaskSpec,
    from_data,
)
from headwater.states import RUN_ACTIVE, RunStatus
from headwater.store import RunRecord, TaskRunRecord, VersionRecord, check_experiment

_ROOT_NAME = re.compile(r"^([^.\[]+)")


def latest_version(ws: Workspace, pipeline: str, version: str | None = None) -> VersionRecord:
    """The version a trigger runs: ``version`` if given, else the newest deployed one (or
    the newest of any kind when the pipeline was never deployed)."""
    if version is not None:
        found = ws.store.pipelines.get_version(version)
        if found.pipeline != pipeline:
            raise NotFound(
                f"version {version} belongs to pipeline '{found.pipeline}', not '{pipeline}'",
                hint=f"list the versions of '{pipeline}' with 'headwater pipelines versions'",
            )
        return found
    versions = ws.store.pipelines.list_versions(pipeline)
    if not versions:
        raise NotFound(
            f"no pipeline '{pipeline}'",
            hint="deploy it with 'headwater deploy FILE'; list pipelines with "
            "'headwater pipelines list'",
        )
    deployed = [v for v in versions if v.source_manifest is not None]
    return (deployed or versions)[0]


def trigger(
    ws: Workspace,
    pipeline: str,
    params: dict[str, Any],
    *,
    version: str | None = None,
    cache: bool = True,
    trigger: str = "api",
    experiment: str | None = None,
) -> RunRecord:
    """Queue a run of a stored version; a scheduler drives it. Parameters are checked
    against the pipeline's schema, templates rendered and the URIs its importers name
    checked against the namespace's roots before anything is written (the run stays
    confined to those roots), and so are the options its tasks set (one the executor
    cannot honour is refused)."""
    if experiment is not None:
        check_experiment(experiment)
    chosen = latest_version(ws, pipeline, version)
    spec = from_data(chosen.spec, source=f"pipeline version {chosen.id}")
    values, run_id = render_for_run(spec, params, lambda rid: manual_context(spec, rid, params))
    check_run_uris(ws, spec, values)
    check_options(spec, ignore_image=ws.settings.ignore_image)
    check_references(ws.store, spec)
    return ws.store.runs.create_run(
        chosen,
        values,
        trigger=trigger,
        cache_enabled=cache,
        run_id=run_id,
        owner=None,
        experiment=experiment,
    )


def cancel(ws: Workspace, run_id: str) -> RunStatus:
    """Cancel a run: at once if it is queued, else by asking its engine."""
    run = ws.store.runs.get_run(run_id)
    return ws.store.control.request_cancel(run.id)


def retry_failed(ws: Workspace, run_id: str, *, confine: bool = True) -> list[str]:
    """Run again the tasks of an ended run that did not succeed (and what they feed).

    With ``confine`` (a request through a server) the run's importer URIs are checked
    against its namespace's roots first, and it stays confined to them."""
    run = ws.store.runs.get_run(run_id)
    if run.status in RUN_ACTIVE:
        raise Conflict(
            f"run {run.id} is still {run.status}; its failed tasks can be retried once it ends",
            hint="wait for it, or cancel it first",
        )
    failed = ws.store.control.unfinished_paths(run.id)
    if not failed:
        raise Conflict(
            f"run {run.id} has no failed task to retry",
            hint="clear a task to run it again: POST /api/v1/runs/RUN/tasks/TASK/clear",
        )
    return clear(ws, run.id, failed, confine=confine)


def clear(
    ws: Workspace,
    run_id: str,
    tasks: list[str],
    *,
    downstream: bool = True,
    confine: bool = True,
) -> list[str]:
    """Clear tasks of an ended run (and, with ``downstream``, every task that depends on
    them) and queue the run again; it runs them with the run's own version.

    With ``confine`` (a request through a server) the run's importer URIs are checked
    against its namespace's roots first, and it stays confined to them."""
    run = ws.store.runs.get_run(run_id)
    spec = from_data(ws.store.pipelines.get_version(run.version_id).spec)
    if confine:
        check_run_uris(ws, spec, run.stored_parameters())
    check_options(spec, ignore_image=ws.settings.ignore_image)
    rows = ws.store.tasks.task_runs(run.id)
    known = {r.path for r in rows}
    missing = [p for p in tasks if p not in known]
    if missing:
        raise NotFound(
            f"run {run.id} has no task '{missing[0]}'",
            hint=f"its tasks are: {', '.join(sorted(known)[:20]) or '(none yet)'}",
        )
    paths = set(tasks)
    if downstream:
        paths |= downstream_paths(spec, rows, tasks)
    for p in list(paths):  # a nested pipeline's task row is re-run with what it holds
        parts = p.split(".")
        paths.update(
            ".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in known
        )
    return ws.store.control.clear_tasks(run.id, sorted(paths), confine=confine)


def _descendants(node: Node | TaskSpec) -> Iterator[str]:
    yield node.name
    if isinstance(node, ConditionGroup):
        for branch in node.branches:
            for inner in branch.nodes:
                yield from _descendants(inner)
    elif isinstance(node, LoopGroup):
        for inner in node.nodes:
            yield from _descendants(inner)
    elif isinstance(node, ExitHandlerGroup):
        for inner in [*node.nodes, node.exit_task]:
            yield from _descendants(inner)


def downstream_paths(spec: PipelineSpec, rows: list[TaskRunRecord], tasks: list[str]) -> set[str]:
    """The task paths of ``rows`` that depend, directly or not, on any of ``tasks``.

    A path is followed at every level it sits in: inside a loop iteration or a nested
    pipeline, the tasks after it there (same iteration, same nested run); then what
    follows the enclosing loop or pipeline, up to the top-level DAG. A group counts as
    every task in it; a task inside an exit handler's body also brings its exit task.
    """
    dags = {"": spec.dag}
    for key, comp in spec.components.items():
        if isinstance(comp.implementation, DagImplementation):
            dags[key] = comp.implementation.dag
    found: set[str] = set()
    for path in tasks:
        segments = path.split(".")
        key = ""
        for depth, segment in enumerate(segments):
            prefix = "".join(s + "." for s in segments[:depth])
            names = _followers(dags[key], _root(segment))
            found |= {
                r.path
                for r in rows
                if r.path.startswith(prefix) and _root(r.path[len(prefix) :]) in names
            }
            node = _nodes(dags[key]).get(_root(segment))
            if "[" not in segment and isinstance(node, TaskSpec):
                called = spec.components.get(node.component)
                if called is not None and isinstance(called.implementation, DagImplementation):
                    key = node.component  # a nested pipeline: its own DAG below
    return found


def _nodes(dag: DagSpec) -> dict[str, Node | TaskSpec]:
    found: dict[str, Node | TaskSpec] = {}

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            found[node.name] = node
            if isinstance(node, ConditionGroup):
                for branch in node.branches:
                    walk(branch.nodes)
            elif isinstance(node, LoopGroup):
                walk(node.nodes)
            elif isinstance(node, ExitHandlerGroup):
                walk([*node.nodes, node.exit_task])

    walk(dag.nodes)
    return found


def _followers(dag: DagSpec, start: str) -> set[str]:
    """The names of the nodes of ``dag`` that depend on node ``start``, groups expanded."""
    plan = plan_dag(dag)
    users: dict[str, set[str]] = {}
    for name, deps in plan.deps.items():
        for dep in deps:
            users.setdefault(dep.name, set()).add(name)
    groups: dict[str, set[str]] = {}
    exits: dict[str, str] = {}
    for node in _nodes(dag).values():
        groups[node.name] = set(_descendants(node))
        if isinstance(node, ExitHandlerGroup):
            for inner in node.nodes:
                for name in _descendants(inner):
                    exits[name] = node.exit_task.name
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        for user in users.get(name, ()):
            if user not in seen:
                seen.add(user)
                todo.append(user)
        if name in exits and exits[name] not in seen:
            seen.add(exits[name])
            todo.append(exits[name])
    names: set[str] = set()
    for name in seen:
        names |= groups.get(name, {name})
    return names


def _root(path: str) -> str:
    m = _ROOT_NAME.match(path)
    return m.group(1) if m else path


@dataclass(frozen=True)
class LogChunk:
    text: str
    offset: int
    next_offset: int
    size: int
    complete: bool


def read_log(record: TaskRunRecord, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
    """Bytes ``[offset, offset + limit)`` of an attempt's log (a negative offset counts
    from the end); ``complete`` once the attempt ended and the end was read."""
    from headwater.states import ATTEMPT_DONE

    done = record.status in ATTEMPT_DONE
    path = record.log_path
    if not path or not os.path.exists(path):
        return LogChunk("", 0, 0, 0, done)
    size = os.path.getsize(path)
    start = max(0, size + offset) if offset < 0 else min(offset, size)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(max(0, limit))
    end = start + len(data)
    return LogChunk(data.decode("utf-8", "replace"), start, end, size, done and end >= size)
