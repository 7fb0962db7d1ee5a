"""What a pipeline's tasks import, learned as they run, so that warm workers import it
before they fork the tasks of its next run (and the rest of this run's).

A task process reports the modules its function imported (``headwater.imports`` in its
task output, see :mod:`headwater.runtime._execute`), helpers' imports included, which no
reading of the source finds. The engine merges them here, per pipeline and component,
into a small JSON file under ``<home>/imports/`` named after the pipeline's source file
and folder, and notes whether the run had to start any task process. The command line
reads the file before it compiles the pipeline, so the worker imports what the run will
need while the pipeline is compiled and the run recorded, and starts no worker at all
when the last run of the pipeline was served from the cache; the engine reads it as the
run starts.

The file is a cache: losing it costs one slower run. It only ever names modules to
import in a worker, where one that fails to import is skipped (the task then imports it
itself, or reports why it cannot), and what it holds is checked as it is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# A dotted module name; anything else in the file is ignored.
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
# Bounds on what one component, one pipeline and one file may hold.
MAX_MODULES = 5_000
MAX_PIPELINES = 200
MAX_FILE_BYTES = 16 * 2**20
VERSION = 1
# One parse at a time in this process (see body_imports).
_PARSING = threading.Lock()


def module_names(values: Any, limit: int = MAX_MODULES) -> list[str]:
    """The valid module names among ``values`` (at most ``limit``), sorted."""
    if not isinstance(values, list | tuple | set | frozenset):
        return []
    names = {v for v in values if isinstance(v, str) and len(v) <= 200 and _MODULE.match(v)}
    names.discard("__main__")
    return sorted(names)[:limit]


class LearnedImports:
    """The learned imports of the pipelines defined in ``file`` (relative to ``root``,
    the folder the pipeline was compiled from), kept under ``home``."""

    def __init__(self, home: Path | str, root: str, file: str) -> None:
        key = hashlib.sha256(f"{os.path.abspath(root)}\0{file}".encode()).hexdigest()[:32]
        self.path = Path(home) / "imports" / f"{key}.json"
        self.root = os.path.abspath(root)
        self.file = file
        self._pipelines: dict[str, dict[str, Any]] = self._read()
        self._changed = False

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                return {}
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return {}
        found = data.get("pipelines")
        if not isinstance(found, dict):
            return {}
        pipelines: dict[str, dict[str, Any]] = {}
        for name, entry in list(found.items())[:MAX_PIPELINES]:
            if not isinstance(name, str) or not isinstance(entry, dict):
                continue
            comps = entry.get("components")
            pipelines[name] = {
                "ran": entry.get("ran") is not False,
                "components": {
                    c: module_names(m)
                    for c, m in (comps.items() if isinstance(comps, dict) else ())
                    if isinstance(c, str)
                },
            }
        return pipelines

    def known(self, pipeline: str | None) -> bool:
        """Whether anything was learned of ``pipeline`` (None: of any pipeline here)."""
        return bool(self._pipelines) if pipeline is None else pipeline in self._pipelines

    def modules(self, pipeline: str | None, components: Iterable[str] | None = None) -> list[str]:
        """What the tasks of ``components`` of ``pipeline`` imported (every component's
        when None; every pipeline's of the file when ``pipeline`` is None)."""
        entries = (
            list(self._pipelines.values())
            if pipeline is None
            else [self._pipelines[pipeline]]
            if pipeline in self._pipelines
            else []
        )
        wanted = None if components is None else set(components)
        found: set[str] = set()
        for entry in entries:
            for comp, mods in entry["components"].items():
                if wanted is None or comp in wanted:
                    found.update(mods)
        return sorted(found)

    def ran_tasks(self, pipeline: str | None) -> bool:
        """Whether the last run of ``pipeline`` started a task process (True when nothing
        is known: a worker is then worth starting early)."""
        if pipeline is None:
            return not self._pipelines or any(e["ran"] for e in self._pipelines.values())
        entry = self._pipelines.get(pipeline)
        return entry is None or bool(entry["ran"])

    def learn(self, pipeline: str, component: str, modules: Any) -> list[str]:
        """Add what a task of ``component`` imported; the modules that were not known."""
        entry = self._entry(pipeline)
        have = entry["components"].setdefault(component, [])
        known = set(have)
        new = [m for m in module_names(modules) if m not in known]
        if new:
            entry["components"][component] = sorted({*have, *new})[:MAX_MODULES]
            self._changed = True
        return new

    def finish_run(self, pipeline: str, components: Iterable[str], ran: bool) -> None:
        """Note whether the run started a task process, and forget components the
        pipeline no longer has."""
        entry = self._entry(pipeline)
        keep = set(components)
        comps = {c: m for c, m in entry["components"].items() if c in keep}
        if comps != entry["components"] or entry["ran"] != ran:
            entry["components"] = comps
            entry["ran"] = ran
            self._changed = True

    def _entry(self, pipeline: str) -> dict[str, Any]:
        entry = self._pipelines.get(pipeline)
        if entry is None:
            entry = self._pipelines[pipeline] = {"ran": True, "components": {}}
            self._changed = True
        return entry

    def save(self) -> None:
        """Write what changed (atomically; a file that cannot be written is no error)."""
        if not self._changed:
            return
        data = {
            "version": VERSION,
            "root": self.root,
            "file": self.file,
            "pipelines": dict(list(self._pipelines.items())[-MAX_PIPELINES:]),
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError, ValueError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
            self._changed = False
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def body_imports(path: str, functions: Iterable[str] | None = None) -> set[str]:
    """Absolute module names imported inside the bodies of ``functions`` (by name; every
    function when None) in the file at ``path``: what a component's tasks will surely
    import, known before any of them ran."""
    import ast

    wanted = None if functions is None else {name.rsplit(".", 1)[-1] for name in functions}
    try:
        stat = os.stat(path)
    except OSError:
        return set()
    # Every run of a pipeline asks again (a study's trials, hundreds of them): a file
    # that did not change is not parsed again.
    key = (path, stat.st_mtime_ns, stat.st_size, None if wanted is None else frozenset(wanted))
    known = _BODY_IMPORTS.get(key)
    if known is not None:
        return set(known)
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        # CPython 3.11's parser keeps its recursion depth per interpreter, not per
        # thread: engines of one scheduler parsing at once can break it.
        with _PARSING:
            tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, SystemError):
        return set()
    names: set[str] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if wanted is not None and func.name not in wanted:
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    if len(_BODY_IMPORTS) >= 256:
        _BODY_IMPORTS.clear()
    _BODY_IMPORTS[key] = frozenset(names)
    return names


_BODY_IMPORTS: dict[tuple[str, int, int, frozenset[str] | None], frozenset[str]] = {}
