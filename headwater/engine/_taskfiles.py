"""Task files (DESIGN.md, contract 2): the JSON task input an attempt's process reads, the
task output it writes, and its log; where they live, writing the input, reading the
output, and removing a succeeded attempt's files.

A run's task files live in ``<work_dir>/<run id>/`` as ``<task run id>.input.json`` and
``<task run id>.output.json``; its logs in ``<log_dir>/<run id>/`` as
``<task path>.attempt-<n>.log``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headwater._config import Settings
from headwater.engine._importing import importer_task_input
from headwater.engine._outcomes import read_output
from headwater.engine._units import ArtifactValue, Unit
from headwater.runtime import TASK_SCHEMA, UriPolicy, artifact_entry, write_json
from headwater.spec import (
    ComponentSpec,
    ContainerImplementation,
    ImporterImplementation,
    PythonImplementation,
)
from headwater.store import ArtifactStore, TaskRunRecord


class TaskFiles:
    """One run's task files.

    ``policy`` gives the URI policy a confined run's importers check (read when an
    importer's task input is written); None for a run that is not confined."""

    def __init__(
        self,
        *,
        run_id: str,
        work_dir: Path,
        log_dir: Path,
        artifacts: ArtifactStore,
        source_root: str,
        settings: Settings,
        policy: Callable[[], UriPolicy] | None,
    ) -> None:
        self.run_id = run_id
        self.dir = work_dir / run_id
        self.log_dir = log_dir / run_id
        self.artifacts = artifacts
        self.source_root = source_root
        self.settings = settings
        self.policy = policy
        self._dirs_made = False
        # Task files of attempts that succeeded, removed once that is committed.
        self._tidy_up: list[Path] = []
        self._interfaces: dict[str, dict[str, Any]] = {}

    def log_path(self, unit: Unit) -> Path:
        """The log of the unit's current attempt."""
        return self.log_dir / f"{unit.path}.attempt-{unit.attempt}.log"

    def input_path(self, record: TaskRunRecord) -> Path:
        return self.dir / f"{record.id}.input.json"

    def output_path(self, record: TaskRunRecord) -> Path:
        return self.dir / f"{record.id}.output.json"

    def read_output(self, record: TaskRunRecord) -> dict[str, Any]:
        """The attempt's task output, or ``{}`` when there is none."""
        return read_output(self.output_path(record))

    def task_input(self, unit: Unit, record: TaskRunRecord, comp: ComponentSpec) -> dict[str, Any]:
        """The task input of the unit's current attempt, ``record``. The executor writes
        it to :meth:`input_path` if its task process reads it from there (a task forked
        from a local warm worker gets it over the worker's pipe instead)."""
        impl = comp.implementation
        if not self._dirs_made:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._dirs_made = True
        if isinstance(impl, ImporterImplementation):
            return importer_task_input(
                run_id=self.run_id,
                task_run_id=record.id,
                path=unit.path,
                attempt=unit.attempt,
                uri=str(unit.inputs.get("uri", "")),
                impl=impl,
                output_file=str(self.output_path(record)),
                settings=self.settings,
                policy=self.policy() if self.policy is not None else None,
            )
        assert isinstance(impl, PythonImplementation | ContainerImplementation)
        # A Kubeflow component may write any output (Kubeflow's executor finds out which
        # by the function's annotations); a Headwater one returns its parameters.
        returned = (
            impl.return_outputs
            if isinstance(impl, PythonImplementation) and impl.protocol == "headwater"
            else []
        )
        kubeflow = not isinstance(impl, PythonImplementation) or impl.protocol == "kfp"
        params: dict[str, Any] = {}
        arts: dict[str, Any] = {}
        for name, value in unit.inputs.items():
            if isinstance(value, ArtifactValue):
                arts[name] = {"artifacts": [self._entry(value)]}
            elif (
                isinstance(value, list)
                and value
                and all(isinstance(v, ArtifactValue) for v in value)
            ):
                arts[name] = {"artifacts": [self._entry(v) for v in value]}
            elif comp.inputs.get(name) is not None and comp.inputs[name].kind == "artifact":
                arts[name] = {"artifacts": []}
            else:
                params[name] = value
        outputs: dict[str, Any] = {}
        for name, io in comp.outputs.items():
            if io.kind == "artifact" and name not in returned:
                uri = self.artifacts.staging_uri(record.id, name)
                path = self.artifacts.local_path(uri)
                outputs[name] = {
                    "artifacts": [artifact_entry(name, uri, io.artifact_type or "", {}, path)]
                }
        return {
            "schemaVersion": TASK_SCHEMA,
            "inputs": {"parameterValues": params, "artifacts": arts},
            "outputs": {
                "parameters": {
                    n: {}
                    for n, io in comp.outputs.items()
                    if (io.kind == "parameter" if kubeflow else n in returned)
                },
                "artifacts": outputs,
                "outputFile": str(self.output_path(record)),
            },
            "headwater": {
                "runId": self.run_id,
                "taskRunId": record.id,
                "taskPath": unit.path,
                "attempt": unit.attempt,
                "component": self._component(unit.node.component, comp),
            },
        }

    def keep_input(self, record: TaskRunRecord, data: dict[str, Any] | None) -> None:
        """Leave a failed attempt's task input next to its log, for debugging, if its
        executor did not write it."""
        path = self.input_path(record)
        if data is not None and not path.exists():
            with contextlib.suppress(OSError, ValueError):
                write_json(str(path), data)

    def forget_output(self, record: TaskRunRecord) -> None:
        """Remove the attempt's task output (a sensor's poke that said "not yet"): its
        next poke, in the same attempt, writes a new one."""
        with contextlib.suppress(OSError):
            self.output_path(record).unlink()

    def tidy_later(self, record: TaskRunRecord) -> None:
        """The attempt succeeded: remove its task files once that is committed (a failed
        attempt's are kept next to its log, for debugging)."""
        self._tidy_up.extend((self.input_path(record), self.output_path(record)))

    def tidy(self) -> None:
        """Remove the task files of attempts whose success is now committed."""
        for path in self._tidy_up:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._tidy_up.clear()

    def _component(self, key: str, comp: ComponentSpec) -> dict[str, Any]:
        """What the task process needs of the component, as plain JSON (task processes
        need no spec models): its interface, and where its code is."""
        cached = self._interfaces.get(key)
        if cached is None:
            impl = comp.implementation
            assert isinstance(impl, PythonImplementation | ContainerImplementation)
            python = impl if isinstance(impl, PythonImplementation) else None
            cached = {
                "name": comp.name,
                "interface": {
                    "returns": python.returns if python else "none",
                    "returnOutputs": list(python.return_outputs) if python else [],
                    "inputs": {n: io.model_dump(mode="json") for n, io in comp.inputs.items()},
                    "outputs": {n: io.model_dump(mode="json") for n, io in comp.outputs.items()},
                },
                "root": self.source_root,
                "codeDigest": impl.code_digest,
            }
            if isinstance(impl, PythonImplementation):
                cached.update(module=impl.module, file=impl.file, function=impl.function)
                if impl.source is not None:
                    cached["source"] = impl.source
                if impl.protocol != "headwater":
                    cached["protocol"] = impl.protocol
                if impl.sensor:
                    cached["sensor"] = True
            elif isinstance(impl, ContainerImplementation):
                cached["container"] = {
                    "image": impl.image,
                    "command": list(impl.command),
                    "args": list(impl.args),
                }
            self._interfaces[key] = cached
        return cached

    def _entry(self, value: ArtifactValue) -> dict[str, Any]:
        return artifact_entry(
            value.name,
            value.uri,
            value.type,
            value.metadata,
            self.artifacts.local_path(value.uri),
        )
