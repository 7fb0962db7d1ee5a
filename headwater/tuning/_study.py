"""Running a study: each trial is an ordinary run of the pipeline.

:func:`start_study` checks everything first (space, objective, settings: a bad one
creates nothing), records the study, and drives it with a :class:`Tuner`;
:func:`resume_study` drives a study whose tuner stopped. The tuner runs ``parallel``
driver threads. Each asks Optuna for parameters, creates a run of the pipeline with
them (in the experiment named after the study), drives it with the engine on the
thread's own executor (kept warm from one trial to the next), reads the objective, the
final value of ``TASK.METRIC``, from the run's metrics, and tells Optuna. Since trials
are runs, a step whose inputs are the same in every trial (data preparation) runs once
and is a cache hit afterwards.

Pruning reads step-wise metrics while a task runs: the task appends each
``log_metric(..., step=)`` to a file the tuner names (``HEADWATER_STEP_REPORTS``); the
tuner reports each value of the objective to Optuna and, when the pruner says so,
cancels the run and records the trial as pruned.

Every trial is written to ``study_trials`` (number, state, parameters, run) before its
run starts, and Optuna's own state lives in the study's journal in the same database.
So after the tuner is killed, :func:`resume_study` finds what was in flight: a trial
whose run ended is told its outcome, one whose run is unfinished has its run resumed
(tasks that finished are not run again), and one killed before its run existed is asked
again with the same parameters. Finished trials are never repeated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from headwater.engine import (
    Workspace,
    check_options,
    execute_run,
    render_for_run,
    resolve_environments,
    resume_run,
)
from headwater.errors import HeadwaterError, NotFound, TuningError
from headwater.executors import Executor, executor_kind, make_executor
from headwater.spec import (
    PipelineSpec,
    Space,
    check_objective,
    check_settings,
    from_data,
    grid_size,
    load_space,
    parse_space,
)
from headwater.states import RUN_DONE, RunStatus
from headwater.store import (
    MetadataStore,
    RunRecord,
    StudyRecord,
    TrialRecord,
    check_experiment,
    new_id,
    process_owner,
)
from headwater.tuning._journal import DatabaseJournal
from headwater.tuning._pruning import KeptExecutor, StepWatch
from headwater.tuning._settings import (
    STUDY_DONE,
    StudySettings,
    StudyStatus,
    TrialState,
    make_pruner,
    make_sampler,
)

if TYPE_CHECKING:
    import optuna

    from headwater.engine import Engine

log = logging.getLogger("headwater.tuning")


@dataclass(frozen=True)
class TrialEvent:
    """Told to a study's observer as each trial starts and ends."""

    number: int
    state: TrialState
    params: dict[str, Any]
    run_id: str | None = None
    value: float | None = None


@dataclass(frozen=True)
class StudyResult:
    """A study as it stands: its trials, and the best of them."""

    study: StudyRecord
    trials: list[TrialRecord]

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def status(self) -> StudyStatus:
        return StudyStatus(self.study.status)

    @property
    def best_trial(self) -> TrialRecord | None:
        done = [t for t in self.trials if t.state == TrialState.COMPLETE and t.value is not None]
        if not done:
            return None
        pick = max if self.study.direction == "maximize" else min
        return pick(done, key=lambda t: cast(float, t.value))

    @property
    def best_value(self) -> float | None:
        best = self.best_trial
        return best.value if best else None

    @property
    def best_params(self) -> dict[str, Any]:
        best = self.best_trial
        return dict(best.params) if best else {}

    @property
    def best_run_id(self) -> str | None:
        best = self.best_trial
        return best.run_id if best else None

    def count(self, state: TrialState) -> int:
        return sum(1 for t in self.trials if t.state == state)

    def __repr__(self) -> str:
        return (
            f"StudyResult({self.name}, {self.status}, {len(self.trials)} trials, "
            f"best {self.best_value} {self.best_params})"
        )


def study_result(store: MetadataStore, name: str) -> StudyResult:
    study = store.studies.get_study(name)
    return StudyResult(study, store.studies.trials(study.id))


def start_study(
    ws: Workspace,
    spec: PipelineSpec,
    *,
    source_root: str | None,
    space: str | Path | Mapping[str, Any],
    objective: str,
    direction: str = "maximize",
    trials: int = 20,
    parallel: int = 1,
    sampler: str = "tpe",
    pruner: str = "none",
    name: str | None = None,
    seed: int | None = None,
    max_failed: int | None = None,
    goal: float | None = None,
    params: Mapping[str, Any] | None = None,
    cache: bool = True,
    observer: Callable[[TrialEvent], None] | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    confined: bool = False,
    on_tuner: Callable[[Tuner], None] | None = None,
) -> StudyResult:
    """Check, record and run a study over ``spec``; return it once it stops.

    Trials run on ``executor`` (a kind; None: the default; ``ray_address`` is the Ray
    cluster's) and are ``confined`` runs if asked; ``on_tuner`` is given the
    :class:`Tuner` before it starts (to interrupt it).

    Every check happens before anything is written: a bad space, objective, setting,
    study name or fixed parameter raises :class:`~headwater.errors.TuningError` (or the
    error of the check that failed) and creates nothing.
    """
    check_settings(
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        trials=trials,
        parallel=parallel,
        max_failed=max_failed,
        goal=goal,
        seed=seed,
    )
    parsed = parse_space(load_space(space), spec)
    check_objective(spec, objective)
    fixed = dict(params or {})
    tuned = sorted(set(fixed) & set(parsed.names))
    if tuned:
        raise TuningError(
            f"parameter(s) {', '.join(tuned)} are both fixed and in the search space",
            hint="drop them from one or the other",
        )
    if sampler == "grid":
        trials = min(trials, grid_size(parsed))
    make_sampler(sampler, parsed, seed)  # a sampler that cannot be made: nothing created
    name = name or f"{spec.name}-{new_id()[-8:].lower()}"
    try:
        check_experiment(name)
    except HeadwaterError as exc:
        raise TuningError(
            f"study name {name!r} is not valid (it names the trials' experiment)",
            hint=exc.hint,
        ) from None
    try:
        ws.store.studies.get_study(name)
    except NotFound:
        pass
    else:
        raise TuningError(
            f"a study named '{name}' already exists",
            hint=f"resume it with 'headwater tune --resume {name}', or choose another name",
        )
    # Every trial's parameters must be acceptable to the pipeline: check the first
    # corner of the space before anything is written.
    from headwater.spec import digest, to_data

    kind = executor_kind(executor)
    if ray_address is not None and kind != "ray":
        raise TuningError(
            f"a Ray address is for the Ray executor, and this study uses the {kind} executor",
            hint="add --executor ray, or leave --ray-address out",
        )
    check_options(spec, kind)  # an option the executor cannot honour: nothing created
    resolve_environments(spec)  # a requirement no index satisfies: nothing created
    corner = {
        d.name: (d.choices[0] if d.kind == "categorical" else d.low) for d in parsed.dimensions
    }
    render_for_run(spec, {**fixed, **corner}, None)
    version = ws.store.pipelines.register_version(
        spec.name, spec.description, digest(spec), to_data(spec), source_root
    )
    settings = StudySettings(
        trials=trials,
        parallel=parallel,
        max_failed=max_failed,
        goal=goal,
        seed=seed,
        cache=cache,
        params=fixed,
        version_id=version.id,
        source_root=source_root,
        executor=kind,
        ray_address=ray_address,
        confined=confined,
    )
    if kind != "local":  # a cluster that cannot be reached: nothing created
        make_executor(kind, address=ray_address).close()
    record = ws.store.studies.create_study(
        name,
        pipeline=spec.name,
        objective=objective,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        space=parsed.to_data(),
        settings=settings.to_data(),
    )
    tuner = Tuner(ws, record, spec, observer=observer)
    if on_tuner is not None:
        on_tuner(tuner)
    return tuner.run()


def resume_study(
    ws: Workspace,
    name: str,
    *,
    observer: Callable[[TrialEvent], None] | None = None,
    on_tuner: Callable[[Tuner], None] | None = None,
) -> StudyResult:
    """Go on with a study whose tuner stopped: finished trials are kept, trials that were
    in flight are finished or asked again, and new trials fill the rest of the budget."""
    record = ws.store.studies.get_study(name)
    if record.status in STUDY_DONE:
        raise TuningError(
            f"study '{name}' already ended ({record.status}); there is nothing to resume",
            hint="start a new study with 'headwater tune'",
        )
    settings = StudySettings.from_data(record.settings)
    version = ws.store.pipelines.get_version(settings.version_id)
    spec = from_data(version.spec, source=f"pipeline version {version.id}")
    tuner = Tuner(ws, record, spec, observer=observer)
    if on_tuner is not None:
        on_tuner(tuner)
    return tuner.run()


@dataclass
class _Job:
    """One trial to evaluate: a new one, or one resumed from a killed tuner."""

    trial: optuna.trial.Trial
    params: dict[str, Any]
    run_id: str | None = None


class Tuner:
    """Drives one study: ``parallel`` threads, each evaluating one trial at a time."""

    def __init__(
        self,
        ws: Workspace,
        record: StudyRecord,
        spec: PipelineSpec,
        *,
        observer: Callable[[TrialEvent], None] | None = None,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.ws = ws
        self.record = record
        self.spec = spec
        self.observer = observer
        self.settings = StudySettings.from_data(record.settings)
        self.space: Space = parse_space(record.space, spec)
        self.task, self.metric = check_objective(spec, record.objective)
        self.storage = optuna.storages.JournalStorage(DatabaseJournal(ws.store, record.id))
        trials = ws.store.studies.trials(record.id)
        self.study = optuna.create_study(
            storage=self.storage,
            study_name=record.name,
            direction=cast(Any, record.direction),
            sampler=make_sampler(
                record.sampler,
                self.space,
                _resumed_seed(record.sampler, self.settings.seed, trials),
            ),
            pruner=make_pruner(record.pruner),
            load_if_exists=True,
        )
        self.lock = threading.Lock()
        self.stop: StudyStatus | None = None
        self.error: TuningError | None = None
        self.pending: list[_Job] = []
        self.engines: dict[int, Engine] = {}
        self.reports = ws.work_dir / "studies" / record.id
        self.version = ws.store.pipelines.get_version(self.settings.version_id)
        self.started = sum(1 for t in trials if t.state != TrialState.LOST)
        # The first trial runs alone: the steps every trial shares (data preparation)
        # then run once, and the trials after it find them in the cache.
        self.first_done = threading.Event()
        if any(t.finished_at is not None and t.state != TrialState.LOST for t in trials):
            self.first_done.set()
        self.failed = sum(1 for t in trials if t.state == TrialState.FAILED)

    # ------------------------------------------------------------------ driving

    def run(self) -> StudyResult:
        store = self.ws.store
        store.studies.set_status(self.record.id, StudyStatus.RUNNING)
        self._recover()
        self._check_stop()
        self.reports.mkdir(parents=True, exist_ok=True)
        ended = [threading.Event() for _ in range(self.settings.parallel)]
        for i, done in enumerate(ended):
            threading.Thread(
                target=self._drive, args=(i, done), name=f"trial-driver-{i}", daemon=True
            ).start()
        try:
            # Waiting on events, not Thread.join: a join interrupted by Ctrl-C can return
            # at once the next time, before the thread has ended.
            for done in ended:
                while not done.wait(0.2):
                    pass
        except KeyboardInterrupt:
            self.interrupt()
            for done in ended:
                done.wait()
        status = self.stop or StudyStatus.COMPLETED
        store.studies.set_status(self.record.id, status)
        if self.error is not None:
            raise self.error
        return study_result(store, self.record.name)

    def interrupt(self) -> None:
        """Stop asking for trials and cancel those running (from any thread); the study
        is left ``interrupted``, and can be resumed."""
        with self.lock:
            self.stop = StudyStatus.INTERRUPTED
            for engine in self.engines.values():
                engine.request_cancel()
        self.first_done.set()

    def _recover(self) -> None:
        """Settle the trials a killed tuner left in flight."""
        import optuna

        rows = {t.number: t for t in self.ws.store.studies.trials(self.record.id)}
        for frozen in self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        ):
            row = rows.get(frozen.number)
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            params = dict(row.params) if row is not None else dict(frozen.params)
            run = None
            if row is not None and row.run_id is not None:
                run = self.ws.store.runs.get_run(row.run_id)
            if run is None or run.status is RunStatus.CANCELLED:
                # Never started, or stopped by the user: the same parameters are asked again.
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self.ws.store.studies.record_trial(
                    self.record.id,
                    frozen.number,
                    state=TrialState.LOST,
                    params=params,
                    finished=True,
                )
                if row is not None:  # counted as started; a trial with no row was not
                    self.started -= 1
                if params:
                    self.study.enqueue_trial(params, skip_if_exists=False)
                continue
            self.pending.append(_Job(trial, params, run.id))

    def _drive(self, index: int, ended: threading.Event) -> None:
        try:
            self._drive_trials(index)
        finally:
            ended.set()

    def _drive_trials(self, index: int) -> None:
        ws = Workspace(
            self.ws.settings,
            MetadataStore(self.ws.store.engine, self.ws.store.namespace),
            self.ws.artifacts,
        )
        executor = KeptExecutor(
            make_executor(self.settings.executor, address=self.settings.ray_address),
            self.reports,
        )
        executor.warm()
        try:
            if index:
                self.first_done.wait()
            while True:
                job = self._next()
                if job is None:
                    return
                try:
                    self._evaluate(ws, executor, job)
                except TuningError as exc:
                    with self.lock:
                        self.error = self.error or exc
                        self.stop = StudyStatus.FAILED
                except Exception as exc:  # a trial that cannot be run fails; the study goes on
                    log.warning("trial %d failed: %s", job.trial.number, exc)
                    self._finish(job, TrialState.FAILED, None)
        finally:
            self.first_done.set()
            executor.shut()

    def _next(self) -> _Job | None:
        with self.lock:
            if self.stop is not None:
                return None
            if self.pending:
                return self.pending.pop(0)
            if self.started >= self.settings.trials:
                return None
            trial = self.study.ask()
            params = self.space.suggest(trial)
            self.started += 1
        return _Job(trial, params)

    def _evaluate(self, ws: Workspace, executor: KeptExecutor, job: _Job) -> None:
        watch = None
        if self.record.pruner != "none":
            watch = StepWatch(job.trial, self.task, self.metric)
        executor.watch = watch

        def hook(engine: Engine) -> None:
            with self.lock:
                self.engines[job.trial.number] = engine
                if self.stop is StudyStatus.INTERRUPTED:
                    engine.request_cancel()
            if watch is not None:
                watch.engine = engine

        try:
            if job.run_id is None:
                run = self._create_run(ws, job)
                job.run_id = run.id
                ws.store.studies.record_trial(
                    self.record.id,
                    job.trial.number,
                    state=TrialState.RUNNING,
                    params=job.params,
                    run_id=run.id,
                )
                self._tell_observer(
                    TrialEvent(job.trial.number, TrialState.RUNNING, job.params, run.id)
                )
                status = execute_run(
                    ws,
                    run,
                    executor=cast(Executor, executor),
                    engine_hook=hook,
                    spec=self.spec,
                )
            else:
                run = ws.store.runs.get_run(job.run_id)
                status = run.status
                if status not in RUN_DONE:
                    status = resume_run(
                        ws, run.id, executor=cast(Executor, executor), engine_hook=hook
                    )
        finally:
            with self.lock:
                self.engines.pop(job.trial.number, None)
            executor.watch = None
            if watch is not None:
                watch.tidy()
        if watch is not None and watch.pruned:
            self._finish(job, TrialState.PRUNED, None)
        elif status is RunStatus.SUCCEEDED:
            self._finish(job, TrialState.COMPLETE, self._objective(ws, job))
        elif status is RunStatus.CANCELLED and self.stop is StudyStatus.INTERRUPTED:
            return  # left in flight: a resumed study asks its parameters again
        else:
            self._finish(job, TrialState.FAILED, None)

    def _create_run(self, ws: Workspace, job: _Job) -> RunRecord:
        """A queued run of the study's pipeline version with the trial's parameters. The
        pipeline's options and environments were checked as the study started, and the
        version recorded then: a trial only checks and records its parameters."""
        values, run_id = render_for_run(self.spec, {**self.settings.params, **job.params}, None)
        return ws.store.runs.create_run(
            self.version,
            values,
            trigger="tune",
            cache_enabled=self.settings.cache,
            run_id=run_id,
            owner=process_owner(),
            # A study a user starts is theirs, as 'headwater run' is; a tune step's
            # trials are confined where the run that holds the step is.
            confined=self.settings.confined,
            experiment=self.record.name,
        )

    def _objective(self, ws: Workspace, job: _Job) -> float:
        assert job.run_id is not None
        logged: dict[str, float] = {}
        for path, point in ws.store.lineage.metrics(job.run_id):
            if path == self.task:
                logged[point.key] = point.value
        if self.metric not in logged:
            self._finish(job, TrialState.FAILED, None)
            raise TuningError(
                f"trial {job.trial.number}: task '{self.task}' of run {job.run_id} logged no "
                f"metric '{self.metric}'"
                + (f" (it logged: {', '.join(sorted(logged))})" if logged else ""),
                hint="log it with log_metric in that task, or name a metric it logs with "
                "--objective TASK.METRIC",
            )
        return logged[self.metric]

    def _finish(self, job: _Job, state: TrialState, value: float | None) -> None:
        import optuna

        told = {
            TrialState.COMPLETE: optuna.trial.TrialState.COMPLETE,
            TrialState.PRUNED: optuna.trial.TrialState.PRUNED,
            TrialState.FAILED: optuna.trial.TrialState.FAIL,
        }[state]
        with self.lock:
            try:
                self.study.tell(
                    job.trial, value if state is TrialState.COMPLETE else None, state=told
                )
            except ValueError:  # already told (it failed after Optuna recorded it)
                log.debug("trial %d was already told", job.trial.number)
        self.ws.store.studies.record_trial(
            self.record.id,
            job.trial.number,
            state=state,
            run_id=job.run_id,
            value=value,
            finished=True,
        )
        self._tell_observer(TrialEvent(job.trial.number, state, job.params, job.run_id, value))
        self.first_done.set()
        with self.lock:
            if state is TrialState.FAILED:
                self.failed += 1
            if state is TrialState.COMPLETE and value is not None and self._reached(value):
                self.stop = self.stop or StudyStatus.GOAL_REACHED
            self._check_stop()

    def _reached(self, value: float) -> bool:
        goal = self.settings.goal
        if goal is None:
            return False
        return value >= goal if self.record.direction == "maximize" else value <= goal

    def _check_stop(self) -> None:
        limit = self.settings.max_failed
        if limit is not None and self.failed >= limit:
            self.stop = self.stop or StudyStatus.FAILED

    def _tell_observer(self, event: TrialEvent) -> None:
        if self.observer is not None:
            with self.lock:
                self.observer(event)


def _resumed_seed(sampler: str, seed: int | None, trials: Sequence[TrialRecord]) -> int | None:
    """The seed of a study's sampler as it (re)starts with ``trials`` already asked.

    A seeded random or TPE sampler draws the same sequence each time it is made: resumed
    with its first seed, it would ask the finished trials' parameters again. It goes on
    from a seed of its own instead (the same one for the same point of resumption). The
    grid and QMC samplers find their next point from the trials in the study, so they
    keep theirs."""
    if seed is None or not trials or sampler in ("grid", "qmc"):
        return seed
    return (seed + len(trials)) % 2**32
