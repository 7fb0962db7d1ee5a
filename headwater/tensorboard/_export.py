"""Runs' step-wise metrics and TensorBoardLogs outputs as a TensorBoard log directory.

The layout, one TensorBoard run per Headwater run and task::

    LOGDIR/
      PIPELINE-RUNID/
        TASK/events.out.tfevents.headwater   the metrics TASK logged
        TASK/OUTPUT/...                       the files of TASK's TensorBoardLogs OUTPUT

Exporting is idempotent: each task's metrics go to one file of a fixed name whose bytes
depend only on the metrics, and an output's files are copied only where they differ, so a
second export into the same folder rewrites nothing and adds nothing. Everything is read
and checked before the first file is written: a bad input leaves the folder as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigurationError, HeadwaterError, NotFound
from headwater.store import ArtifactRecord, MetricPoint, RunRecord, check_experiment
from headwater.tensorboard._scalars import Scalar, scalars

if TYPE_CHECKING:
    from headwater.engine import Workspace
    from headwater.store import MetadataStore

EVENT_FILE = "events.out.tfevents.headwater"
"""The file that holds a task's metrics (TensorBoard reads each file whose name contains
``tfevents``)."""

LOGS_TYPE = "headwater.TensorBoardLogs"
INSTALL_HINT = "install it with: pip install 'headwater[tensorboard]'"
_PAGE = 500


def require_tensorboard() -> None:
    """A clear error unless TensorBoard can be imported."""
    try:
        import tensorboard.summary  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"'headwater tensorboard' needs TensorBoard, which cannot be imported here ({exc})",
            hint=INSTALL_HINT,
        ) from None


def select_runs(
    store: MetadataStore, run_ids: Sequence[str], experiment: str | None = None
) -> list[RunRecord]:
    """The runs named by id (or a unique prefix) and every run of ``experiment``, each once,
    oldest first."""
    if not run_ids and experiment is None:
        raise HeadwaterError(
            "no runs to show",
            hint="name runs (headwater tensorboard RUN...) or an experiment (--experiment NAME)",
        )
    chosen: dict[str, RunRecord] = {}
    missing: list[str] = []
    for run_id in run_ids:
        try:
            run = store.runs.get_run(run_id)
        except NotFound as exc:
            missing.append(exc.message)
            continue
        chosen.setdefault(run.id, run)
    if missing:
        raise NotFound("; ".join(missing), hint="list runs with 'headwater runs list'")
    if experiment is not None:
        check_experiment(experiment)
        found = _experiment_runs(store, experiment)
        if not found:
            raise NotFound(
                f"experiment '{experiment}' has no runs",
                hint="check the name (an experiment is named after its pipeline unless "
                "'headwater run --experiment NAME' named it), or list runs with "
                "'headwater runs list'",
            )
        for run in found:
            chosen.setdefault(run.id, run)
    return sorted(chosen.values(), key=lambda r: (r.created_at, r.id))


def _experiment_runs(store: MetadataStore, experiment: str) -> list[RunRecord]:
    runs: list[RunRecord] = []
    while True:
        page = store.runs.list_runs(experiment=experiment, limit=_PAGE, offset=len(runs))
        runs.extend(page)
        if len(page) < _PAGE:
            return runs


def check_logdir(path: Path, option: str) -> Path:
    """``path`` made absolute if it is a folder that can be written, or can be made; a
    clear error naming ``option`` otherwise. Nothing is created."""
    path = path.expanduser().absolute()
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker == path:
        raise HeadwaterError(
            f"{option} {path} is a file, not a folder",
            hint="name a folder (it is made if missing), or move the file away",
        )
    if blocker is not None:
        raise HeadwaterError(
            f"{option} {path} cannot be made: {blocker} is a file, not a folder",
            hint="name a folder whose parents are folders",
        )
    existing = next(p for p in (path, *path.parents) if p.exists())
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".headwater-probe-"):
            pass
    except OSError as exc:
        what = "is not writable" if existing == path else f"cannot be made in {existing}"
        raise HeadwaterError(
            f"{option} {path} {what}: {exc.strerror or exc}",
            hint="name a folder you can write to",
        ) from None
    return path


@dataclass(frozen=True)
class TaskLogs:
    """A TensorBoardLogs output of a task: its artifact and the files it holds."""

    task: str
    output: str
    artifact: ArtifactRecord
    files: dict[str, str]
    """Each file's path in the copy -> its path in the artifact store."""


@dataclass
class RunExport:
    """What one Headwater run contributes to the logdir."""

    run: RunRecord
    folder: str
    """The run's folder in the logdir: ``PIPELINE-RUNID``."""
    scalars: dict[str, list[Scalar]] = field(default_factory=dict)
    """The points of each task that logged metrics, by task path."""
    logs: list[TaskLogs] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.scalars and not self.logs


def plan_export(ws: Workspace, runs: Sequence[RunRecord]) -> list[RunExport]:
    """What each run contributes: its tasks' scalars and TensorBoardLogs outputs.

    An error if none of them has anything to show."""
    plans = [_plan_run(ws, run) for run in runs]
    if all(p.empty for p in plans):
        shown = ", ".join(r.id for r in runs[:5]) + (", ..." if len(runs) > 5 else "")
        raise HeadwaterError(
            f"nothing to show: {'run' if len(runs) == 1 else 'runs'} {shown} logged no "
            "metrics and wrote no TensorBoardLogs output",
            hint="log step-wise metrics in a task with metrics.log_metric(name, value, "
            "step=...) on an Output[Metrics], or write event files into an "
            "Output[TensorBoardLogs]",
        )
    return plans


def _plan_run(ws: Workspace, run: RunRecord) -> RunExport:
    plan = RunExport(run, _folder_name(f"{run.pipeline}-{run.id}"))
    outputs = ws.store.lineage.run_artifacts(run.id)
    names = {art.id: name for art, _, name in outputs}
    points: dict[str, list[tuple[MetricPoint, str]]] = {}
    for path, point in ws.store.lineage.metrics(run.id):
        points.setdefault(path, []).append((point, names.get(point.artifact_id or "", "")))
    plan.scalars = {path: scalars(task_points) for path, task_points in points.items()}
    kinds = _LogsTypes(ws, run)
    seen: set[tuple[str, str]] = set()
    for art, task, name in outputs:
        if task is None or not kinds.is_logs(art.type) or (task.path, name) in seen:
            continue
        seen.add((task.path, name))
        plan.logs.append(_task_logs(ws, task.path, name, art))
    return plan


def _task_logs(ws: Workspace, task: str, output: str, artifact: ArtifactRecord) -> TaskLogs:
    fs, root, local = _artifact_fs(ws, artifact)
    if not fs.exists(root):
        raise NotFound(
            f"the files of TensorBoardLogs output '{output}' of task '{task}' "
            f"(artifact {artifact.id}) are gone from {artifact.uri}",
            hint="run the pipeline again to make them, or leave this run out",
        )
    return TaskLogs(task, output, artifact, dict(_artifact_files(fs, root, output, local)))


def _artifact_fs(ws: Workspace, artifact: ArtifactRecord) -> tuple[Any, str, bool]:
    """The filesystem an artifact is on, its path there, and whether that is this machine."""
    import fsspec

    local = ws.artifacts.local_path(artifact.uri)
    if local is not None:
        return fsspec.filesystem("file"), os.path.abspath(local), True
    fs, root = fsspec.core.url_to_fs(artifact.uri)
    return fs, root, False


class _LogsTypes:
    """Whether an artifact type is TensorBoardLogs or derives from it (a user's own type,
    known from the run's spec)."""

    def __init__(self, ws: Workspace, run: RunRecord) -> None:
        self._ws = ws
        self._run = run
        self._bases: dict[str, list[str]] | None = None

    def is_logs(self, kind: str) -> bool:
        if kind == LOGS_TYPE:
            return True
        if kind.startswith("headwater.") or kind.startswith("system."):
            return False
        if self._bases is None:
            spec = self._ws.store.pipelines.get_version(self._run.version_id).spec
            types = spec.get("artifact_types") or {}
            self._bases = {k: list(v.get("bases") or []) for k, v in types.items()}
        return LOGS_TYPE in self._bases.get(kind, [])


def write_export(ws: Workspace, plans: Sequence[RunExport], logdir: Path) -> int:
    """Write the planned runs into ``logdir``; the number of files written (0 when the
    folder already held them all)."""
    from headwater.tensorboard._events import event_file

    written = 0
    for plan in plans:
        base = logdir / plan.folder
        for path, points in plan.scalars.items():
            written += _write_if_changed(base / _folder_name(path) / EVENT_FILE, event_file(points))
        for logs in plan.logs:
            target = base / _folder_name(logs.task) / _folder_name(logs.output)
            written += _copy_logs(ws, logs, target)
    return written


# --------------------------------------------------------------------------- files


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]=+@,]")


def _folder_name(text: str) -> str:
    """``text`` as one folder name: no separators, nothing hidden, no '.' or '..'."""
    name = _UNSAFE.sub("_", text).lstrip(".")
    return name or "_"


def _write_if_changed(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` unless it holds them already; 1 if written, else 0.

    The file is replaced whole (a temporary file renamed over it), so a TensorBoard that
    reads the folder meanwhile never sees half a file."""
    try:
        if path.read_bytes() == data:
            return 0
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return 1


def _copy_logs(ws: Workspace, logs: TaskLogs, target: Path) -> int:
    """Copy the files of a TensorBoardLogs output to ``target``, those that differ only;
    what the output does not hold is removed from ``target``."""
    fs, _, local = _artifact_fs(ws, logs.artifact)
    written = 0
    for rel, source in logs.files.items():
        dest = target / rel
        if dest.is_file() and _same(fs, source, dest, local):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
        os.close(fd)
        try:
            fs.get_file(source, tmp)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written += 1
    for folder, _, files in os.walk(target):
        for name in files:
            full = Path(folder) / name
            if full.relative_to(target).as_posix() not in logs.files:
                full.unlink()
    return written


def _artifact_files(fs: Any, root: str, output: str, local: bool) -> Iterator[tuple[str, str]]:
    """(path in the copy, path in ``fs``) of each file of an artifact; links are left out
    (an output folder may hold links within it, which a copy does not need)."""
    if not fs.isdir(root):
        name = os.path.basename(root)
        yield (name if "tfevents" in name else f"events.out.tfevents.{output}"), root
        return
    if local:
        for folder, _, files in os.walk(root):  # links to folders are not followed
            for name in files:
                full = os.path.join(folder, name)
                if not os.path.islink(full):
                    yield os.path.relpath(full, root).replace(os.sep, "/"), full
        return
    prefix = root.rstrip("/") + "/"
    for full in fs.find(root):
        yield full[len(prefix) :], full


def _same(fs: Any, source: str, dest: Path, local: bool) -> bool:
    """Whether ``dest`` holds the bytes of ``source``: compared for a local artifact, taken
    from an equal size for a remote one (a stored artifact never changes)."""
    if dest.stat().st_size != fs.size(source):
        return False
    if not local:
        return True
    import filecmp

    return filecmp.cmp(source, dest, shallow=False)
