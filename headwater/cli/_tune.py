"""``headwater tune`` and ``headwater studies``: hyperparameter studies whose trials are runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, err, out
from headwater.cli._progress import styled
from headwater.cli._runs import ExecutorName, RayAddress
from headwater.errors import TuningError

if TYPE_CHECKING:
    from headwater.tuning import StudyResult, TrialEvent

studies_app = typer.Typer(help="List and inspect tuning studies.", no_args_is_help=True)
app.add_typer(studies_app, name="studies")


@app.command()
def tune(
    target: Annotated[
        str | None, typer.Argument(help="FILE or FILE:PIPELINE (not with --resume)")
    ] = None,
    space: Annotated[
        Path | None, typer.Option("--space", help="The search space (YAML).", show_default=False)
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective", help="TASK.METRIC: the metric a task logs.", show_default=False
        ),
    ] = None,
    direction: Annotated[
        str, typer.Option("--direction", help="maximize or minimize the objective.")
    ] = "maximize",
    trials: Annotated[int, typer.Option("--trials", help="How many trials at most.")] = 20,
    parallel: Annotated[int, typer.Option("--parallel", help="Trials at once.")] = 1,
    sampler: Annotated[
        str, typer.Option("--sampler", help="tpe, random, grid, cmaes or qmc.")
    ] = "tpe",
    pruner: Annotated[
        str,
        typer.Option("--pruner", help="median, hyperband or none: stop trials early."),
    ] = "none",
    study: Annotated[
        str | None,
        typer.Option(
            "--study", help="The study's name (default: PIPELINE-xxxx).", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed the sampler.", show_default=False)
    ] = None,
    max_failed: Annotated[
        int | None,
        typer.Option(
            "--max-failed", help="Stop after this many failed trials.", show_default=False
        ),
    ] = None,
    goal: Annotated[
        float | None,
        typer.Option(
            "--objective-goal", help="Stop once a trial reaches this value.", show_default=False
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="A fixed parameter of every trial: name=value."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every task.")] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Go on with the study of this name.", show_default=False),
    ] = None,
    executor_name: ExecutorName = None,
    ray_address: RayAddress = None,
) -> None:
    """Tune a pipeline's parameters with Optuna: every trial is a run of the pipeline,
    cached and recorded like any other (see 'headwater studies show')."""
    from headwater.engine import Workspace
    from headwater.tuning import resume_study, start_study

    progress = _Progress()
    if resume is not None:
        if target is not None:
            raise TuningError(
                "give either a pipeline to tune or --resume STUDY, not both",
                hint="a resumed study keeps the pipeline, space and settings it started with",
            )
        if executor_name is not None or ray_address is not None:
            raise TuningError(
                "a resumed study runs its trials where it started them",
                hint="leave --executor and --ray-address out with --resume",
            )
        ws = Workspace.open()
        out.print(f"resuming study [bold]{escape(resume)}[/]", highlight=False)
        with progress:
            result = resume_study(ws, resume, observer=progress.tell)
        _print_result(result)
        raise typer.Exit(0 if result.best_trial is not None else 1)
    missing = [
        flag
        for flag, value in (("FILE", target), ("--space", space), ("--objective", objective))
        if value is None
    ]
    if missing:
        raise TuningError(
            f"headwater tune needs {', '.join(missing)}",
            hint="headwater tune FILE[:PIPELINE] --space space.yaml --objective TASK.METRIC, "
            "or headwater tune --resume STUDY",
        )
    assert target is not None and space is not None and objective is not None
    from headwater.cli._runs import parse_params
    from headwater.interop import load_spec
    from headwater.sdk import split_target

    path, _ = split_target(target)
    spec, _ = load_spec(target)
    params = parse_params(param or [], spec)
    ws = Workspace.open()
    progress.total = trials
    with progress:
        result = start_study(
            ws,
            spec,
            source_root=str(path.resolve().parent),
            space=space,
            objective=objective,
            direction=direction,
            trials=trials,
            parallel=parallel,
            sampler=sampler,
            pruner=pruner,
            name=study,
            seed=seed,
            max_failed=max_failed,
            goal=goal,
            params=params,
            cache=not no_cache,
            observer=progress.tell,
            executor=executor_name,
            ray_address=ray_address,
        )
    _print_result(result)
    raise typer.Exit(0 if result.best_trial is not None else 1)


class _Progress:
    """A progress bar on a terminal; one line per finished trial elsewhere."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.counts: dict[str, int] = {}
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=err,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def tell(self, event: TrialEvent) -> None:
        from headwater.tuning import TrialState

        if event.state is TrialState.RUNNING:
            return
        self.counts[event.state] = self.counts.get(event.state, 0) + 1
        done = sum(self.counts.values())
        text = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        if self.bar is not None:
            self.bar.update(self.task, completed=done, description=text)
        else:
            value = "" if event.value is None else f" value {event.value:.6g}"
            run = f" run {event.run_id}" if event.run_id else ""
            err.print(
                f"trial {event.number} {event.state}{value}{run} {_params(event.params)}",
                highlight=False,
            )


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if not isinstance(value, str) else value


def _print_result(result: StudyResult) -> None:
    from headwater.tuning import TrialState

    counts = ", ".join(
        f"{result.count(s)} {s}" for s in TrialState if s is not TrialState.LOST and result.count(s)
    )
    out.print(
        f"study [bold]{escape(result.name)}[/] {styled(str(result.status))}: "
        f"{len([t for t in result.trials if t.state != TrialState.LOST])} trials ({counts})",
        highlight=False,
    )
    best = result.best_trial
    if best is None:
        out.print("no trial completed", highlight=False)
        return
    out.print(
        f"best: trial {best.number}, {result.study.objective} = {best.value:.6g}, "
        f"run {best.run_id}\n  {escape(_params(best.params))}",
        highlight=False,
    )


@studies_app.command("list")
def studies_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
) -> None:
    """The newest studies, with their trial counts and best values."""
    from headwater.engine import Workspace
    from headwater.tuning import study_result

    ws = Workspace.open()
    table = Table(title="studies", title_justify="left")
    for col in ("study", "pipeline", "objective", "state", "trials", "best", "created"):
        table.add_column(col, no_wrap=col in ("study", "created"))
    for record in ws.store.studies.list_studies(limit=limit):
        result = study_result(ws.store, record.name)
        best = result.best_value
        table.add_row(
            escape(record.name),
            escape(record.pipeline),
            f"{record.direction} {escape(record.objective)}",
            styled(record.status),
            str(len(result.trials)),
            "" if best is None else f"{best:.6g}",
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    out.print(table)


@studies_app.command("show")
def studies_show(name: Annotated[str, typer.Argument(help="The study.")]) -> None:
    """A study's settings, every trial (parameters, value, state, run) and the best one."""
    from headwater.engine import Workspace
    from headwater.tuning import study_result

    ws = Workspace.open()
    result = study_result(ws.store, name)
    s = result.study
    settings = s.settings
    out.print(
        f"study [bold]{escape(s.name)}[/] {styled(s.status)}: pipeline {escape(s.pipeline)}, "
        f"{s.direction} {escape(s.objective)}, sampler {s.sampler}, pruner {s.pruner}, "
        f"{settings.get('trials')} trials, {settings.get('parallel')} at once",
        highlight=False,
    )
    names = list(s.space)
    table = Table(title="trials", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column("value", justify="right")
    for param in names:
        table.add_column(escape(param))
    table.add_column("run", no_wrap=True)
    best = result.best_trial
    for t in result.trials:
        mark = " *" if best is not None and t.number == best.number else ""
        table.add_row(
            f"{t.number}{mark}",
            styled(t.state),
            "" if t.value is None else f"{t.value:.6g}",
            *[_short(t.params[p]) if p in t.params else "" for p in names],
            t.run_id or "",
        )
    out.print(table)
    if best is not None:
        out.print(
            f"best: trial {best.number}, value {best.value:.6g}, run {best.run_id}",
            highlight=False,
        )
