"""Starting and resuming runs, and what a finished run looks like from Python."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater._config import Settings
from headwater.engine._engine import Engine
from headwater.engine._environments import resolve_environments
from headwater.engine._honour import check_options
from headwater.engine._secrets import check_references
from headwater.engine._state import Observer
from headwater.engine._workspace import Workspace
from headwater.errors import RunError
from headwater.executors import Executor, make_executor
from headwater.spec import (
    PipelineSpec,
    digest,
    from_data,
    resolve_parameters,
    task_templates,
    to_data,
)
from headwater.states import RUN_DONE, TASK_SUCCESS, RunStatus
from headwater.store import (
    ArtifactRecord,
    RunRecord,
    TaskRunRecord,
    check_experiment,
    process_owner,
)

if TYPE_CHECKING:
    from headwater.notify import Sender

ContextFactory = Callable[[str], Mapping[str, Any]]
"""Given the new run's id, the names its parameter templates may use."""


def create_run(
    ws: Workspace,
    spec: PipelineSpec,
    params: dict[str, Any],
    *,
    source_root: str | None,
    cache: bool = True,
    trigger: str = "manual",
    context: ContextFactory | None = None,
    owner: str | None = None,
    executor: str | Executor | None = None,
    ignore_image: bool | None = None,
    experiment: str | None = None,
) -> RunRecord:
    """Record the pipeline version and a queued run with checked parameters.

    The run belongs to ``experiment`` (by default one named after the pipeline).

    The run is not confined to URI roots: it is what a user runs on their own machine
    (servers create runs through :mod:`headwater.scheduler`). It belongs to ``owner``
    (by default this process, which is expected to drive it next); a run created with
    ``owner=""`` is left for a scheduler to pick up.

    Parameter values that are Jinja templates are rendered first, with the context
    ``context(run_id)`` returns (the run's dates, ``params``, ``run_id``, macros); the
    run stores the rendered values. The per-step environments the tasks ask for are
    resolved first too: a package no index has raises
    :class:`~headwater.errors.EnvError` naming the component and the package. So is every
    option the tasks set: one that neither the engine nor ``executor`` (a kind by name,
    or the executor that will drive the run; None for the default) honours raises
    :class:`~headwater.errors.OptionNotHonoured`; ``ignore_image`` (by default the
    ``HEADWATER_IGNORE_IMAGE`` setting) lets tasks that set ``image=`` run anyway.
    """
    if experiment is not None:
        check_experiment(experiment)  # a bad name: nothing is created
    values, run_id = render_for_run(spec, params, context)
    check_options(spec, executor, ignore_image=_ignore_image(ws, ignore_image))
    resolve_environments(spec)  # a requirement no index satisfies: nothing is created
    check_references(ws.store, spec)  # a secret not set: nothing is created
    version = ws.store.pipelines.register_version(
        spec.name, spec.description, digest(spec), to_data(spec), source_root
    )
    return ws.store.runs.create_run(
        version,
        values,
        trigger=trigger,
        cache_enabled=cache,
        run_id=run_id,
        owner=process_owner() if owner is None else owner or None,
        confined=False,  # started by a user on their own machine: it reads what they can
        experiment=experiment,
    )


def _ignore_image(ws: Workspace, asked: bool | None) -> bool:
    return ws.settings.ignore_image if asked is None else asked


def render_for_run(
    spec: PipelineSpec,
    params: dict[str, Any],
    context: ContextFactory | None,
    *,
    run_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Checked parameter values with templates rendered, and the id the run will have.

    Nothing is written: a value that cannot be stored, is too large, or a template that
    cannot be rendered (see :mod:`headwater.engine._templates`) raises first.

    The tasks' templates (``headwater.Template`` arguments) are rendered too, with the
    same context (``params`` then holds the rendered parameter values); what they render
    to is returned under the key ``RUN_TEMPLATES``, which the run stores with its
    parameters (and :class:`~headwater.store.RunRecord` gives back as ``templates``).
    """
    from headwater.engine._inputs import check_parameters
    from headwater.engine._templates import (
        is_template,
        render_parameters,
        render_task_templates,
    )
    from headwater.store import RUN_TEMPLATES, new_id

    check_parameters(params)
    run_id = run_id or new_id()
    values = resolve_parameters(spec, params)
    made: list[dict[str, Any]] = []

    def run_context() -> dict[str, Any]:  # asked for once, and only when a template needs it
        if not made:
            made.append(dict(context(run_id)) if context else {})
        return made[0]

    if any(is_template(v) or isinstance(v, list | dict) for v in values.values()):
        rendered = render_parameters(values, run_context())
        if rendered != values:
            check_parameters(rendered, rendered=True)
            values = resolve_parameters(spec, rendered)  # check what the templates produced
    templates = task_templates(spec)
    if templates:
        # The tasks' headwater.Template arguments, rendered once for the whole run (loop
        # iterations and nested pipelines included) and stored with its parameters: a
        # task looks its own up when it starts (docs/adr/0029).
        task_context = {**run_context(), "params": dict(values)}
        values = {**values, RUN_TEMPLATES: render_task_templates(spec, templates, task_context)}
    return values, run_id


def execute_run(
    ws: Workspace,
    run: RunRecord,
    *,
    max_parallel: int | None = None,
    observer: Observer | None = None,
    engine_hook: Any = None,
    executor: Executor | None = None,
    owner: str | None = None,
    adopt: bool = False,
    max_active_tasks: int | None = None,
    deliver: bool = True,
    ignore_image: bool | None = None,
    spec: PipelineSpec | None = None,
) -> RunStatus:
    """Drive ``run`` (new or interrupted) to its end on an executor (the local one by default).

    ``spec`` is the spec of the run's pipeline version when the caller has it at hand (as
    the caller of :func:`create_run` does); it is then not read and parsed again from the
    store. A spec that is not the version's raises :class:`~headwater.errors.RunError`.

    The engine claims the run as ``owner`` (this process by default); ``adopt`` takes it
    over from an engine that stopped. With ``deliver`` (as when a user runs a pipeline
    from the command line or Python) this call also sends the run's notifications, and
    returns once each was tried; a scheduler passes False and sends them itself.
    ``ignore_image`` (by default the ``HEADWATER_IGNORE_IMAGE`` setting) lets tasks that
    set ``image=`` run on an executor that has no images; otherwise such a run fails as it
    starts (docs/adr/0012).
    """
    version = ws.store.pipelines.get_version(run.version_id)
    if spec is None:
        spec = from_data(version.spec, source=f"pipeline version {version.id}")
    elif digest(spec) != (version.spec_digest or version.digest):
        raise RunError(
            f"the spec given for run {run.id} is not that of its pipeline version {version.id}",
            hint="pass the spec the run was created with, or none to read it from the store",
        )
    if adopt:
        ws.store.control.claim_run(run.id, owner or process_owner(), stale_before=datetime.now(UTC))
    source_root = version.source_root
    if version.source_manifest is not None:
        from headwater.engine._deploy import materialize

        source_root = materialize(ws, version)  # a deployed version runs its own code
    engine = Engine(
        ws.store,
        ws.artifacts,
        run,
        spec,
        source_root=source_root,
        work_dir=ws.work_dir,
        log_dir=ws.settings.log_dir,
        executor=executor or make_executor(max_parallel=max_parallel),
        observer=observer,
        owner=owner,
        max_active_tasks=max_active_tasks if max_active_tasks is not None else _global_limit(),
        settings=ws.settings,
        ignore_image=ignore_image,
    )
    if engine_hook is not None:
        engine_hook(engine)
    if not deliver:
        return engine.execute()

    # A sender starts only once the run queues a notification: most runs notify no one,
    # and pay nothing for it (not even the import).
    senders: list[Sender] = []

    def start_sender() -> None:
        if not senders:
            from headwater.notify import Sender

            senders.append(Sender(ws.store).start())
        senders[0].wake()

    engine.on_notification = start_sender
    try:
        return engine.execute()
    finally:
        # Rows left by an earlier engine of this run are sent too.
        if senders or ws.store.outbox.unsent(run.id):
            start_sender()
            try:
                _report_unsent(senders[0].flush(run.id))
            finally:
                senders[0].stop()


def _report_unsent(unsent: list[Any]) -> None:
    if not unsent:
        return
    import logging

    logging.getLogger("headwater.notify").warning(
        "%d notification(s) of run %s not delivered yet (%s); they are retried by "
        "'headwater notifications send' or a running scheduler",
        len(unsent),
        unsent[0].run_id,
        "; ".join(f"{r.target.get('kind')}: {r.last_error or 'not tried'}" for r in unsent[:3]),
    )


def resume_run(
    ws: Workspace,
    run_id: str,
    *,
    max_parallel: int | None = None,
    observer: Observer | None = None,
    engine_hook: Any = None,
    executor: Executor | None = None,
    ignore_image: bool | None = None,
) -> RunStatus:
    """Finish a run whose engine process died, re-running only what had not finished.

    A task option the executor cannot honour is refused before the run is touched."""
    run = ws.store.runs.get_run(run_id)
    if run.status in RUN_DONE:
        raise RunError(
            f"run {run.id} already ended ({run.status}); there is nothing to resume",
            hint="start a new run with 'headwater run'",
        )
    here = run.engine_host == os.uname().nodename
    if run.engine_pid and here and _alive(run.engine_pid):
        raise RunError(
            f"run {run.id} is still being driven by process {run.engine_pid}",
            hint="wait for it, or stop that process first",
        )
    if not here and run.engine_id and run.heartbeat_at is not None:
        silent = (datetime.now(UTC) - run.heartbeat_at).total_seconds()
        if silent < heartbeat_timeout():
            raise RunError(
                f"run {run.id} is being driven on {run.engine_host} "
                f"(last heartbeat {silent:.0f}s ago)",
                hint="wait for it; if that machine is gone, resume once its heartbeat is "
                f"older than {heartbeat_timeout():g}s",
            )
    version = ws.store.pipelines.get_version(run.version_id)
    spec = from_data(version.spec, source=f"pipeline version {version.id}")
    check_options(spec, executor, ignore_image=_ignore_image(ws, ignore_image))
    return execute_run(
        ws,
        run,
        max_parallel=max_parallel,
        observer=observer,
        engine_hook=engine_hook,
        executor=executor,
        adopt=True,
        ignore_image=ignore_image,
        spec=spec,
    )


def heartbeat_timeout() -> float:
    """``HEADWATER_HEARTBEAT_TIMEOUT``: a run whose engine is silent this long (seconds,
    default 30) may be adopted by another scheduler."""
    return float(os.environ.get("HEADWATER_HEARTBEAT_TIMEOUT", "30"))


def _global_limit() -> int | None:
    """``HEADWATER_MAX_ACTIVE_TASKS``: at most this many tasks at once, all runs together."""
    value = os.environ.get("HEADWATER_MAX_ACTIVE_TASKS")
    return int(value) if value else None


def _alive(pid: int) -> bool:
    from headwater._process import pid_alive  # only when a run's engine may be gone

    return pid != os.getpid() and pid_alive(pid)


@dataclass
class OpenedArtifact:
    """An artifact of a finished run, ready to read."""

    record: ArtifactRecord
    path: str | None

    @property
    def uri(self) -> str:
        return self.record.uri

    @property
    def metadata(self) -> dict[str, Any]:
        return self.record.metadata

    def open(self, mode: str = "rb") -> Any:
        if self.path is not None:
            return open(self.path, mode)
        import fsspec

        return fsspec.open(self.record.uri, mode).open()

    def read_text(self) -> str:
        with self.open("r") as f:
            return str(f.read())


class Run:
    """A run as seen from Python: status, task attempts, outputs, metrics and logs."""

    def __init__(self, ws: Workspace, run_id: str) -> None:
        self._ws = ws
        self.id = run_id
        self.refresh()

    def refresh(self) -> None:
        self.record = self._ws.store.runs.get_run(self.id)
        self.attempts = self._ws.store.tasks.task_runs(self.id)

    @property
    def status(self) -> RunStatus:
        return self.record.status

    @property
    def succeeded(self) -> bool:
        return self.record.status is RunStatus.SUCCEEDED

    @property
    def tasks(self) -> dict[str, TaskRunRecord]:
        """The latest attempt of every task, by path (``train``, ``sweep[2].fit``)."""
        latest: dict[str, TaskRunRecord] = {}
        for rec in self.attempts:
            latest[rec.path] = rec
        return latest

    def task(self, path: str) -> TaskRunRecord:
        try:
            return self.tasks[path]
        except KeyError:
            raise RunError(
                f"run {self.id} has no task '{path}'",
                hint="its tasks: " + ", ".join(self.tasks),
            ) from None

    def outputs(self, path: str) -> dict[str, Any]:
        """A task's outputs: parameter values, and artifacts you can open."""
        from headwater.engine._notebook import TaskOutputs

        rec = self.task(path)
        if rec.status not in TASK_SUCCESS or not rec.outputs:
            raise RunError(f"task '{path}' has no outputs ({rec.status})")
        out: dict[str, Any] = TaskOutputs(rec.outputs.get("parameters", {}))
        refs = rec.outputs.get("artifacts", {})
        flat = [i for v in refs.values() for i in (v if isinstance(v, list) else [v])]
        records = self._ws.store.lineage.artifacts_by_id(flat)
        for name, ref in refs.items():
            if isinstance(ref, list):
                out[name] = [self._open(records[i]) for i in ref]
            else:
                out[name] = self._open(records[ref])
        return out

    def _open(self, record: ArtifactRecord) -> OpenedArtifact:
        return OpenedArtifact(record, self._ws.artifacts.local_path(record.uri))

    def artifact_records(self, ids: list[str]) -> dict[str, ArtifactRecord]:
        """The records of the artifacts with ``ids``, by id."""
        return self._ws.store.lineage.artifacts_by_id(ids)

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """The latest value of each metric, by task path (a table in a notebook)."""
        from headwater.engine._notebook import MetricsByTask

        out: dict[str, dict[str, float]] = MetricsByTask()
        for path, point in self._ws.store.lineage.metrics(self.id):
            out.setdefault(path, {})[point.key] = point.value
        return out

    def logs(self, path: str) -> str:
        rec = self.task(path)
        if not rec.log_path or not os.path.exists(rec.log_path):
            return ""
        with open(rec.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def __repr__(self) -> str:
        return f"Run({self.id}, {self.status})"

    def _repr_html_(self) -> str:
        """The run in a notebook: its state, tasks with durations, outputs and metrics."""
        from headwater.engine._notebook import render_run

        self.refresh()
        return render_run(self)


def run_version(
    ws: Workspace,
    version_id: str,
    params: dict[str, Any] | None = None,
    *,
    cache: bool = True,
    trigger: str = "manual",
    max_parallel: int | None = None,
    observer: Observer | None = None,
    context: ContextFactory | None = None,
    experiment: str | None = None,
) -> Run:
    """Run a stored (deployed) version with ``params``; it executes the version's snapshot."""
    version = ws.store.pipelines.get_version(version_id)
    spec = from_data(version.spec, source=f"pipeline version {version.id}")
    values, run_id = render_for_run(spec, dict(params or {}), context)
    check_options(spec, ignore_image=ws.settings.ignore_image)
    resolve_environments(spec)
    run = ws.store.runs.create_run(
        version,
        values,
        trigger=trigger,
        cache_enabled=cache,
        run_id=run_id,
        owner=process_owner(),
        confined=False,  # run here, from Python, by whoever holds the store
        experiment=experiment,
    )
    execute_run(ws, run, max_parallel=max_parallel, observer=observer, spec=spec)
    return Run(ws, run.id)


def run_pipeline(
    pipeline: Any,
    params: dict[str, Any] | None = None,
    *,
    cache: bool = True,
    max_parallel: int | None = None,
    settings: Settings | None = None,
    source_root: str | None = None,
    observer: Observer | None = None,
    context: ContextFactory | None = None,
    experiment: str | None = None,
) -> Run:
    """Compile and run ``pipeline`` on this machine; return the finished run."""
    import inspect

    if isinstance(pipeline, PipelineSpec):
        spec = pipeline
        source_root = source_root or os.getcwd()
    else:
        from headwater.sdk import compile_root

        if source_root is None:
            func = getattr(pipeline, "python_func", None)
            file = inspect.getsourcefile(func) if func is not None else None
            # A pipeline defined in a notebook cell has no file on disk: its tasks run in
            # the kernel's working folder (the notebook's), as they would beside a file.
            on_disk = file if file is not None and os.path.isfile(file) else None
            source_root = os.path.dirname(os.path.abspath(on_disk)) if on_disk else os.getcwd()
        with compile_root(source_root):
            spec = pipeline.compile()
    executor = make_executor(max_parallel=max_parallel)
    executor.warm()  # warms up while the run is recorded
    ws = Workspace.open(settings)
    try:
        run = create_run(
            ws,
            spec,
            dict(params or {}),
            source_root=source_root,
            cache=cache,
            context=context,
            executor=executor,
            experiment=experiment,
        )
    except BaseException:
        executor.close()
        raise
    execute_run(ws, run, observer=observer, executor=executor, spec=spec)
    return Run(ws, run.id)
