"""Deploying: a pipeline version stored with a snapshot of the source files it needs.

The snapshot holds the files of the modules the components live in, and every module
of the same project (under the pipeline's folder) that they import, transitively. Runs
of a deployed version execute that snapshot, never the working copy, so a rerun of an
old run uses the old code.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from headwater.engine._environments import resolve_environments
from headwater.engine._honour import check_options
from headwater.engine._workspace import Workspace
from headwater.spec import (
    ConditionGroup,
    DagImplementation,
    ExitHandlerGroup,
    LoopGroup,
    PipelineSpec,
    PythonImplementation,
    TaskSpec,
    digest,
    to_data,
)
from headwater.store import VersionRecord


def _local_imports(path: Path, root: Path) -> set[Path]:
    """Files under ``root`` that the module at ``path`` imports (any nesting level)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set()
    package = path.parent
    found: set[Path] = set()

    def add(dotted: str, base: Path) -> None:
        parts = [p for p in dotted.split(".") if p]
        here = base
        for i, part in enumerate(parts):
            here = here / part
            for candidate in (here.with_suffix(".py"), here / "__init__.py"):
                if candidate.is_file() and candidate.resolve().is_relative_to(root):
                    found.add(candidate.resolve())
            if i == len(parts) - 1:
                break

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, root)
        elif isinstance(node, ast.ImportFrom):
            base = root
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.parent
            module = node.module or ""
            add(module, base)
            for alias in node.names:  # "from pkg import module" names a module too
                add(f"{module}.{alias.name}" if module else alias.name, base)
    return found


def collect_sources(spec: PipelineSpec, root: str) -> dict[str, bytes]:
    """The snapshot of ``spec``'s code: relative path -> bytes, for files under ``root``."""
    base = Path(root).resolve()
    pending: list[Path] = []
    for comp in (c for each in spec.with_tuned() for c in each.components.values()):
        impl = comp.implementation
        if isinstance(impl, PythonImplementation) and impl.file:
            path = (base / impl.file).resolve()
            if path.is_file() and path.is_relative_to(base):
                pending.append(path)
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        pending.extend(_local_imports(path, base) - seen)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(seen)}


def version_digest(spec_digest: str, sources: dict[str, bytes]) -> str:
    h = hashlib.sha256(spec_digest.encode())
    for path, data in sorted(sources.items()):
        h.update(b"\0" + path.encode() + b"\0" + hashlib.sha256(data).digest())
    return "sha256:" + h.hexdigest()


def deploy(
    ws: Workspace, spec: PipelineSpec, root: str, *, keep_root: bool = True
) -> VersionRecord:
    """Store ``spec`` and its source snapshot (the files under ``root`` it needs) as an
    immutable version. ``keep_root=False`` records no source folder: a bundle's folder
    is gone once deployed (the version runs from its snapshot either way).

    Deploying unchanged code returns the existing version (``new`` is False). A schedule
    more frequent than the minimum schedule interval, per-step packages that cannot be
    resolved, and task options that the executor running its runs cannot honour
    (:class:`~headwater.errors.OptionNotHonoured`) are refused before anything is stored.
    """
    from headwater.engine._inputs import check_schedule

    check_schedule(spec)
    for text in check_options(spec, ignore_image=ws.settings.ignore_image):
        logging.getLogger("headwater.engine").warning("pipeline '%s': %s", spec.name, text)
    for each in spec.with_tuned():  # a requirement no index satisfies is refused now
        resolve_environments(each)
    sources = collect_sources(spec, root)
    spec_digest = digest(spec)
    version = ws.store.pipelines.register_version(
        spec.name,
        spec.description,
        version_digest(spec_digest, sources),
        to_data(spec),
        str(Path(root).resolve()) if keep_root else None,
        spec_digest=spec_digest,
        sources=sources,
    )
    ws.store.assets.register_assets(sorted(asset_names(spec)))
    if spec.schedule is not None:
        ws.store.schedules.upsert_schedule(version)  # the schedule now runs this version
    return version


def asset_names(spec: PipelineSpec) -> set[str]:
    """The assets a pipeline is scheduled on or updates."""
    names = set(spec.schedule.assets if spec.schedule and spec.schedule.kind == "assets" else ())
    for options in [spec.task_defaults, *(c.options for c in spec.components.values())]:
        names.update((options.assets or {}).values())

    def walk(nodes: list[Any]) -> None:
        for node in nodes:
            if isinstance(node, TaskSpec):
                names.update((node.options.assets or {}).values())
            elif isinstance(node, ConditionGroup):
                for branch in node.branches:
                    walk(branch.nodes)
            elif isinstance(node, ExitHandlerGroup):
                walk([*node.nodes, node.exit_task])
            elif isinstance(node, LoopGroup):
                walk(node.nodes)

    walk(spec.dag.nodes)
    for comp in spec.components.values():
        if isinstance(comp.implementation, DagImplementation):
            walk(comp.implementation.dag.nodes)
    return names


def materialize(ws: Workspace, version: VersionRecord) -> str:
    """A folder holding the version's snapshot (written once), to run its code from."""
    target = ws.settings.home / "versions" / version.id
    if target.is_dir():
        return str(target)
    files = ws.store.pipelines.read_sources(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version.id}-", dir=target.parent))
    try:
        for rel, data in files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        os.replace(tmp, target)  # another process may have won the race: fine
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
