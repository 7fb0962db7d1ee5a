"""``headwater run``, ``resume``, ``runs``, ``tasks``, ``artifacts`` and ``lineage``."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli import _options as opt
from headwater.cli._app import app, err, out
from headwater.cli._options import Server, Token
from headwater.cli._progress import Progress, seconds, styled, summary
from headwater.errors import HeadwaterError, ParameterError
from headwater.states import ATTEMPT_DONE

if TYPE_CHECKING:
    from headwater.spec import PipelineSpec

runs_app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)
tasks_app = typer.Typer(help="Inspect task attempts.", no_args_is_help=True)
artifacts_app = typer.Typer(help="List artifacts.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(tasks_app, name="tasks")
app.add_typer(artifacts_app, name="artifacts")


def parse_params(pairs: list[str], spec: Any) -> dict[str, Any]:
    """``name=value`` pairs; values are JSON where they parse, else text (always text for
    str parameters)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ParameterError(
                f"bad parameter '{pair}'", hint="write parameters as -p name=value"
            )
        io = spec.parameters.get(name)
        if io is not None and io.type is not None and io.type.kind == "str":
            values[name] = raw
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


ExecutorName = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where tasks run: local (this machine) or ray (a Ray cluster). "
        "Default: HEADWATER_EXECUTOR, else local.",
        show_default=False,
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster for --executor ray: HOST:PORT, or auto for the one started on "
        "this machine. Default: HEADWATER_RAY_ADDRESS, else RAY_ADDRESS, else auto.",
        show_default=False,
    ),
]


def _executor(kind: str | None, address: str | None, max_parallel: int | None) -> Any:
    """The executor the flags ask for; a flag it would not use is refused."""
    from headwater.executors import executor_kind, make_executor

    name = executor_kind(kind)
    if address is not None and name != "ray":
        raise HeadwaterError(
            f"--ray-address is for the Ray executor, and this run uses the {name} executor",
            hint="add --executor ray, or leave --ray-address out",
        )
    return make_executor(name, max_parallel=max_parallel, address=address)


def _workspace() -> Any:
    from headwater.engine import Workspace

    return Workspace.open()


IgnoreImage = Annotated[
    bool,
    typer.Option(
        "--ignore-image",
        help="Run tasks that set image= anyway, on the executor's own Python, with a warning.",
    ),
]


def _drive(
    ws: Any,
    run_id: str,
    title: str,
    resume: bool,
    executor: Any,
    ignore_image: bool = False,
    spec: PipelineSpec | None = None,
) -> int:
    from headwater.engine import Run, RunError, execute_run, resume_run
    from headwater.store import DATABASE_FAILURES, failure_cause

    engines: list[Any] = []

    def on_sigint(signum: int, frame: Any) -> None:
        err.print("[yellow]cancelling: stopping running tasks...[/]")
        for engine in engines:
            engine.request_cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.time()
    try:
        with Progress(out, title) as progress:

            def hook(engine: Any) -> None:
                engines.append(engine)
                engine.on_environment = progress.environment
                engine.on_warning = progress.warning

            if resume:
                status = resume_run(
                    ws,
                    run_id,
                    observer=progress,
                    engine_hook=hook,
                    executor=executor,
                    ignore_image=ignore_image or None,
                )
            else:
                status = execute_run(
                    ws,
                    ws.store.runs.get_run(run_id),
                    observer=progress,
                    engine_hook=hook,
                    executor=executor,
                    ignore_image=ignore_image or None,
                    spec=spec,
                )
    except DATABASE_FAILURES as exc:
        # The engine stopped on it (its tasks were stopped too); what it had not
        # committed is found again from the tasks' own output files on resume.
        raise RunError(
            f"run {run_id} stopped: the connection to the database was lost ({failure_cause(exc)})",
            hint=f"the run is left running; once the database answers again, finish it "
            f"with 'headwater resume {run_id}'",
        ) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    run = Run(ws, run_id)
    tasks = run.tasks
    sources = ws.store.tasks.task_runs_by_id(t.cached_from for t in tasks.values() if t.cached_from)
    out.print(summary(tasks, f"run {run_id} {status} in {seconds(time.time() - started)}", sources))
    cached = sum(1 for t in tasks.values() if t.status == "cached")
    ran = sum(1 for t in tasks.values() if t.status != "skipped")
    if cached and cached == ran:
        out.print(f"every task that had to run ({ran}) was a cache hit: no task process started")
    elif cached:
        out.print(f"{cached} of {ran} tasks were cache hits")
    if status == "succeeded":
        return 0
    if status == "cancelled":
        err.print(f"[yellow]run {run_id} cancelled[/]")
        return 130
    for path, rec in tasks.items():
        if rec.status == "failed":
            err.print(f"[bold red]task {escape(path)} failed[/] (attempt {rec.attempt}):")
            err.print(escape(rec.error or "no error recorded"), highlight=False, soft_wrap=True)
            if rec.log_path:
                err.print(f"  log: {escape(rec.log_path)}", soft_wrap=True)
    failed = sum(1 for t in tasks.values() if t.status == "failed")
    if not failed and run.record.error:  # it could not start (an environment, say)
        err.print(
            f"[bold red]run {run_id} failed[/]: {escape(run.record.error)}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    err.print(
        f"[bold red]run {run_id} failed[/]: {failed} task(s) failed. After a fix, run it "
        "again: tasks that succeeded come from the cache."
    )
    return 1


@app.command()
def run(
    target: Annotated[str, typer.Argument(help="FILE or FILE:PIPELINE")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="A parameter: name=value.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every task.")] = False,
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", min=1, max=100_000, help="Tasks at once (default: cores)."),
    ] = None,
    executor_name: ExecutorName = None,
    ray_address: RayAddress = None,
    ignore_image: IgnoreImage = False,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="The experiment the run belongs to (default: the pipeline's name).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a pipeline, every task in its own process: on this machine, or on a Ray cluster
    with --executor ray."""
    if experiment is not None:
        from headwater.store import check_experiment

        check_experiment(experiment)  # before any worker starts
    # The task worker starts first and warms up while the pipeline is compiled and recorded.
    executor = _executor(executor_name, ray_address, max_parallel)
    try:
        path = _warm_for(executor, target, no_cache)
        from headwater.engine import create_run
        from headwater.interop import load_spec

        root = str(path.resolve().parent)
        spec, _ = load_spec(target)
        params = parse_params(param or [], spec)
        ws = _workspace()
        with _resolving(spec):
            record = create_run(
                ws,
                spec,
                params,
                source_root=root,
                cache=not no_cache,
                context=lambda run_id: _manual_context(spec, run_id, params),
                executor=executor,
                ignore_image=ignore_image or None,
                experiment=experiment,
            )
    except BaseException:
        executor.close()
        raise
    out.print(f"run [bold]{record.id}[/] of {escape(spec.name)}", highlight=False)
    code = _drive(ws, record.id, f"{spec.name} · {record.id}", False, executor, ignore_image, spec)
    raise typer.Exit(code)


def _warm_for(executor: Any, target: str, no_cache: bool) -> Path:
    """Have the executor's worker import the pipeline file, and what its tasks were seen
    to import, while the pipeline is compiled and its run recorded. The worker starts now
    unless the last run of this pipeline was served from the cache (then it starts only
    if a task must run)."""
    from headwater._config import Settings
    from headwater.executors import LearnedImports
    from headwater.interop import is_document
    from headwater.sdk import split_target

    path, name = split_target(target)
    if not path.is_file():
        return path
    if is_document(path):  # a Kubeflow pipeline or a spec: no Python file to import
        executor.warm()
        return path
    learned = LearnedImports(Settings.from_env().home, str(path.resolve().parent), path.name)
    executor.preload_file(str(path), learned.modules(name))
    if no_cache or learned.ran_tasks(name):
        executor.warm()
    return path


def _manual_context(spec: PipelineSpec, run_id: str, params: dict[str, Any]) -> Any:
    """The template context of a run started by hand. The scheduler (and croniter) is
    imported only here: a run's context is asked for only when a parameter is a template."""
    from headwater.scheduler import manual_context

    return manual_context(spec, run_id, params)


@contextlib.contextmanager
def _resolving(spec: Any) -> Iterator[None]:
    """A spinner on a terminal while a run's per-step packages are resolved."""
    from headwater.engine import requirement_sets

    if not requirement_sets(spec) or not err.is_terminal:
        yield
        return
    with err.status("resolving per-step packages..."):
        yield


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to finish.")],
    max_parallel: Annotated[int | None, typer.Option("--max-parallel", min=1, max=100_000)] = None,
    executor_name: ExecutorName = None,
    ray_address: RayAddress = None,
    ignore_image: IgnoreImage = False,
) -> None:
    """Finish a run whose 'headwater run' process died; finished tasks are not run again."""
    executor = _executor(executor_name, ray_address, max_parallel)
    try:
        ws = _workspace()
        record = ws.store.runs.get_run(run_id)
    except BaseException:
        executor.close()
        raise
    out.print(f"resuming run [bold]{record.id}[/] of {escape(record.pipeline)}", highlight=False)
    code = _drive(ws, record.id, f"{record.pipeline} · {record.id}", True, executor, ignore_image)
    raise typer.Exit(code)


@runs_app.command("list")
def runs_list(
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 20,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Only this experiment.", show_default=False)
    ] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """The newest runs (on this machine's store, or on a server with --server)."""
    from headwater.states import RunStatus

    if server:
        _runs_remote(server, token, pipeline, status, limit, experiment)
        return
    ws = _workspace()
    try:
        wanted = RunStatus(status) if status else None
    except ValueError:
        raise HeadwaterError(
            f"unknown run status '{status}'",
            hint="use one of: " + ", ".join(s.value for s in RunStatus),
        ) from None
    table = Table(title="runs", title_justify="left")
    table.add_column("run", no_wrap=True)
    for col in ("pipeline", "state", "created", "duration", "trigger"):
        table.add_column(col, no_wrap=col == "created")
    for r in ws.store.runs.list_runs(
        pipeline=pipeline, status=wanted, limit=limit, experiment=experiment
    ):
        took = (
            (r.finished_at - r.started_at).total_seconds()
            if r.finished_at and r.started_at
            else None
        )
        table.add_row(
            r.id,
            escape(r.pipeline),
            styled(str(r.status)),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            seconds(took),
            r.trigger,
        )
    out.print(table)


def _runs_remote(
    server: str,
    token: str | None,
    pipeline: str | None,
    status: str | None,
    limit: int,
    experiment: str | None,
) -> None:
    from headwater.cli._options import client

    with client(server, token) as hw:
        found = hw.runs(
            pipeline=pipeline, status=status, limit=min(limit, 500), experiment=experiment
        )
    table = Table(title=f"runs on {server} ({found['total']} in all)", title_justify="left")
    table.add_column("run", no_wrap=True)
    for col in ("pipeline", "state", "created", "trigger"):
        table.add_column(col, no_wrap=col == "created")
    for r in found["items"]:
        table.add_row(
            r["id"],
            escape(r["pipeline"]),
            styled(r["status"]),
            datetime.fromisoformat(r["created_at"]).strftime("%Y-%m-%d %H:%M:%S"),
            r["trigger"],
        )
    out.print(table)


@runs_app.command("compare")
def runs_compare(
    runs: Annotated[
        list[str] | None, typer.Argument(help="The runs (ids or unique prefixes).")
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", help="Every run of this experiment.", show_default=False),
    ] = None,
    where: opt.Where = None,
    sort: opt.Sort = None,
    desc: opt.Descending = False,
    best: opt.Best = None,
    direction: opt.Direction = "maximize",
    limit: opt.Limit = 50,
    columns: opt.Columns = None,
    fmt: opt.Format = "table",
    server: Server = None,
    token: Token = None,
) -> None:
    """Runs side by side: their parameters and final metrics, filtered ('accuracy>0.9'),
    sorted, or narrowed to the best."""
    if bool(runs) == (experiment is not None):
        raise HeadwaterError(
            "compare either the runs named or the runs of an experiment",
            hint="give run ids, as in 'headwater runs compare 01m8a 01m8b', or --experiment NAME",
        )
    from headwater.cli._experiments import show

    show(
        runs=runs or None,
        experiment=experiment,
        where=where,
        sort=sort,
        desc=desc,
        best=best,
        direction=direction,
        limit=limit,
        columns=columns,
        fmt=fmt,
        server=server,
        token=token,
    )


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument()]) -> None:
    """A run's parameters, tasks, metrics and artifacts."""
    from headwater.engine import Run

    ws = _workspace()
    run = Run(ws, ws.store.runs.get_run(run_id).id)
    r = run.record
    out.print(f"run [bold]{r.id}[/] of {escape(r.pipeline)}: {styled(str(r.status))}")
    out.print(f"experiment: {escape(r.experiment)}", highlight=False)
    out.print(f"parameters: {escape(json.dumps(r.parameters))}", soft_wrap=True)
    if r.error:
        out.print(f"error: {escape(r.error)}", soft_wrap=True)
    out.print(summary(run.tasks, "tasks", nodes=True))
    metrics = run.metrics
    if metrics:
        table = Table(title="metrics", title_justify="left")
        for col in ("task", "metric", "value"):
            table.add_column(col)
        for path, values in metrics.items():
            for key, value in values.items():
                table.add_row(escape(path), escape(key), f"{value:.6g}")
        out.print(table)
    _artifact_table(ws, r.id)


def _artifact_table(ws: Any, run_id: str) -> None:
    table = Table(title="artifacts", title_justify="left")
    for col in ("artifact", "task", "output", "type", "size", "uri"):
        table.add_column(col)
    for art, task, name in ws.store.lineage.run_artifacts(run_id):
        table.add_row(
            art.id,
            escape(task.path if task else "-"),
            escape(name),
            escape(art.type),
            _size(art.size),
            escape(art.uri),
        )
    out.print(table)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@artifacts_app.command("list")
def artifacts_list(run_id: Annotated[str, typer.Argument()]) -> None:
    """The artifacts a run's tasks produced (or reused from the cache)."""
    ws = _workspace()
    _artifact_table(ws, ws.store.runs.get_run(run_id).id)


@tasks_app.command("logs")
def tasks_logs(
    run_id: Annotated[str, typer.Argument()],
    task: Annotated[str, typer.Argument(help="Task path, e.g. train or sweep[2].fit")],
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=1, max=100_000, help="Default: the latest.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print a task attempt's stdout and stderr."""
    ws = _workspace()
    run = ws.store.runs.get_run(run_id)
    attempts = [t for t in ws.store.tasks.task_runs(run.id) if t.path == task]
    if not attempts:
        paths = sorted({t.path for t in ws.store.tasks.task_runs(run.id)})
        raise HeadwaterError(
            f"run {run.id} has no task '{task}'", hint="its tasks: " + (", ".join(paths) or "none")
        )
    chosen = (
        attempts[-1]
        if attempt is None
        else next((t for t in attempts if t.attempt == attempt), None)
    )
    if chosen is None:
        raise HeadwaterError(
            f"task '{task}' has no attempt {attempt}",
            hint=f"attempts: {', '.join(str(t.attempt) for t in attempts)}",
        )
    if not chosen.log_path:
        raise HeadwaterError(f"task '{task}' was {chosen.status} and has no log")
    path = Path(chosen.log_path)
    pos = 0
    while True:
        if path.exists():
            with path.open("rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
            sys.stdout.write(data.decode(errors="replace"))
            sys.stdout.flush()
        if not follow:
            return
        current = ws.store.tasks.get_task_run(chosen.id)
        if current.status in ATTEMPT_DONE:
            if path.exists() and path.stat().st_size > pos:
                continue
            return
        time.sleep(0.2)


@app.command()
def lineage(
    artifact_id: Annotated[str, typer.Argument(help="An artifact id (or a unique prefix).")],
    depth: Annotated[int, typer.Option("--depth", min=1, max=10_000)] = 50,
) -> None:
    """What an artifact was made from (upstream) and what was made from it (downstream)."""
    ws = _workspace()
    art = ws.store.lineage.get_artifact(artifact_id)
    producer = ws.store.lineage.producer(art.id)
    made_by = f" made by {producer.path} (run {producer.run_id})" if producer else ""
    out.print(
        f"[bold]{art.id}[/] {escape(art.type)} {escape(art.uri)}{escape(made_by)}", soft_wrap=True
    )
    made_from_it = [art.id]
    for direction in ("upstream", "downstream"):
        nodes = ws.store.lineage.walk(art.id, direction, depth)
        if direction == "downstream":
            made_from_it += [n.artifact.id for n in nodes]
        table = Table(title=direction, title_justify="left")
        for col in ("hops", "artifact", "type", "made by", "run", "uri"):
            table.add_column(col, no_wrap=col in ("artifact", "run"))
        for n in nodes:
            maker = n.producer
            table.add_row(
                str(n.depth),
                n.artifact.id,
                escape(n.artifact.type),
                escape(maker.path if maker else "(imported)"),
                maker.run_id if maker else "-",
                escape(n.artifact.uri),
            )
        out.print(table)
    # The last hop: the model versions registered from these artifacts, and the
    # deployments that served them, since when.
    served = ws.store.deployments.serving(artifact_ids=made_from_it)
    if served:
        table = Table(title="served by", title_justify="left")
        for col in ("artifact", "model", "version", "deployment", "role", "since", "until"):
            table.add_column(col, no_wrap=col == "artifact")
        for x in served:
            table.add_row(
                x.artifact_id,
                escape(x.model),
                str(x.version),
                escape(x.deployment),
                x.role,
                str(x.since)[:19],
                str(x.until)[:19] if x.until else "now",
            )
        out.print(table)


@runs_app.command("cancel")
def runs_cancel(
    run_id: Annotated[str, typer.Argument()], server: Server = None, token: Token = None
) -> None:
    """Cancel a run: at once if queued, else its engine stops its tasks."""
    if server:
        from headwater.cli._options import client

        with client(server, token) as hw:
            result = hw.cancel(run_id)
        out.print(f"run {result['run_id']}: {result['status']} (cancel requested)")
        return
    from headwater.scheduler import cancel

    ws = _workspace()
    status = cancel(ws, run_id)
    out.print(f"run {ws.store.runs.get_run(run_id).id}: {status} (cancel requested)")


def _requeue(
    run_id: str,
    server: str | None,
    token: str | None,
    remote: Callable[[Any], dict[str, Any]],
    local: Callable[[Any, str], list[str]],
) -> None:
    """Clear tasks of an ended run and run them again: queued on a server, or driven here."""
    if server:
        from headwater.cli._options import client

        with client(server, token) as hw:
            result = remote(hw)
        out.print(f"run {result['run_id']}: cleared {', '.join(result['cleared'])}; queued")
        return
    from headwater.executors import make_executor

    ws = _workspace()
    run = ws.store.runs.get_run(run_id)
    cleared = local(ws, run.id)
    out.print(f"run [bold]{run.id}[/]: running {', '.join(cleared)} again", highlight=False)
    raise typer.Exit(_drive(ws, run.id, f"{run.pipeline} · {run.id}", False, make_executor()))


@runs_app.command("retry")
def runs_retry(
    run_id: Annotated[str, typer.Argument()], server: Server = None, token: Token = None
) -> None:
    """Run the failed tasks of an ended run again, with the run's own pipeline version."""
    from headwater.scheduler import retry_failed

    _requeue(
        run_id,
        server,
        token,
        lambda hw: hw.retry(run_id),
        lambda ws, rid: retry_failed(ws, rid, confine=False),  # driven here, by this user
    )


@runs_app.command("clear")
def runs_clear(
    run_id: Annotated[str, typer.Argument()],
    task: Annotated[str, typer.Argument(help="The task path to run again.")],
    downstream: Annotated[
        bool, typer.Option("--downstream/--only", help="Also what depends on it.")
    ] = True,
    server: Server = None,
    token: Token = None,
) -> None:
    """Run a task of an ended run again (and, by default, everything downstream of it)."""
    from headwater.scheduler import clear

    _requeue(
        run_id,
        server,
        token,
        lambda hw: hw.clear(run_id, task, downstream=downstream),
        lambda ws, rid: clear(ws, rid, [task], downstream=downstream, confine=False),
    )
