"""``headwater scheduler`` and ``headwater schedules``."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out

schedules_app = typer.Typer(help="List, pause and unpause schedules.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")


@schedules_app.command("list")
def schedules_list() -> None:
    """Every schedule, with the interval of its last scheduled run."""
    from headwater.engine import Workspace
    from headwater.scheduler._settings import effective_spec
    from headwater.spec import from_data

    ws = Workspace.open()
    table = Table(title="schedules", title_justify="left")
    for col in ("pipeline", "schedule", "paused", "last interval", "version"):
        table.add_column(col, no_wrap=col == "version")
    for s in ws.store.schedules():
        spec = effective_spec(from_data(ws.store.get_version(s.version_id).spec), s.overrides)
        sched = spec.schedule
        text = "-"
        if sched is not None:
            text = sched.cron or (
                f"every {sched.interval_seconds:g}s" if sched.interval_seconds else sched.kind
            )
            text += f" ({sched.timezone})"
        last = (
            f"{s.last_start:%Y-%m-%d %H:%M} -> {s.last_end:%Y-%m-%d %H:%M}"
            if s.last_start and s.last_end
            else "-"
        )
        table.add_row(
            escape(s.pipeline), escape(text), "yes" if s.paused else "no", last, s.version_id
        )
    out.print(table)


@schedules_app.command("pause")
def schedules_pause(pipeline: Annotated[str, typer.Argument()]) -> None:
    """Stop creating scheduled runs of a pipeline."""
    from headwater.engine import Workspace

    Workspace.open().store.set_paused(pipeline, True)
    out.print(f"{escape(pipeline)} paused")


@schedules_app.command("unpause")
def schedules_unpause(pipeline: Annotated[str, typer.Argument()]) -> None:
    """Create scheduled runs of a pipeline again (missed intervals follow its catchup rule)."""
    from headwater.engine import Workspace

    Workspace.open().store.set_paused(pipeline, False)
    out.print(f"{escape(pipeline)} unpaused")


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="One pass, then wait for its runs.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between passes.")] = 1.0,
) -> None:
    """Create the runs schedules are due for, and run each in its own engine process."""
    from headwater.engine import Workspace
    from headwater.scheduler import tick
    from headwater.states import RunStatus

    ws = Workspace.open()
    cli = str(Path(sys.executable).with_name("headwater"))
    logs = ws.settings.log_dir / "scheduler"
    logs.mkdir(parents=True, exist_ok=True)
    started: dict[str, subprocess.Popen[bytes]] = {}

    def launch(run_id: str) -> None:
        with open(logs / f"{run_id}.log", "ab") as log:
            started[run_id] = subprocess.Popen(
                [cli, "resume", run_id],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        out.print(f"started run {run_id}")

    # Runs queued before this scheduler started (it or another one stopped) start first.
    for run in ws.store.list_runs(status=RunStatus.QUEUED, limit=1000):
        if run.trigger == "schedule" and run.engine_pid is None:
            launch(run.id)
    while True:
        for run in tick(ws, datetime.now(UTC)):
            start, end = run.data_interval_start, run.data_interval_end
            out.print(
                f"{escape(run.pipeline)}: run {run.id} for "
                f"{start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M}"
            )
            launch(run.id)
        for run_id, proc in list(started.items()):
            if proc.poll() is not None:
                del started[run_id]
        if once:
            for proc in started.values():
                proc.wait()
            return
        time.sleep(interval)


@app.command()
def backfill(
    pipeline: Annotated[str, typer.Argument(help="A deployed, scheduled pipeline.")],
    start: Annotated[str, typer.Option("--start", help="ISO date or time (UTC if naive).")],
    end: Annotated[str, typer.Option("--end", help="ISO date or time, exclusive.")],
    reprocess: Annotated[
        str,
        typer.Option(
            "--reprocess",
            help="none: skip intervals that have runs; failed: re-run failed ones; all: all.",
        ),
    ] = "none",
) -> None:
    """Run the pipeline for every data interval starting in [start, end), one after another."""
    from headwater.engine import Workspace, execute_run
    from headwater.errors import HeadwaterError
    from headwater.scheduler import create_backfill_runs, plan_backfill
    from headwater.states import RunStatus

    if reprocess not in ("none", "failed", "all"):
        raise HeadwaterError(f"unknown --reprocess '{reprocess}'", hint="use none, failed or all")
    begin, finish = _when(start, "--start"), _when(end, "--end")
    ws = Workspace.open()
    plan, timetable = plan_backfill(ws, pipeline, begin, finish, reprocess)  # type: ignore[arg-type]
    out.print(
        f"backfill {plan.trigger} of {escape(pipeline)}: {len(plan.to_run)} interval(s) to run, "
        f"{len(plan.skipped)} already covered"
    )
    failed = 0
    for run in create_backfill_runs(ws, pipeline, plan, timetable):
        status = execute_run(ws, run)
        failed += status is not RunStatus.SUCCEEDED
        out.print(f"  {run.data_interval_start:%Y-%m-%d %H:%M} run {run.id}: {status}")
    raise typer.Exit(1 if failed else 0)


def _when(text: str, option: str) -> datetime:
    from headwater.errors import HeadwaterError

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HeadwaterError(
            f"{option} {text!r} is not an ISO date or time",
            hint="write it like 2026-01-31 or 2026-01-31T06:00:00+00:00",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@schedules_app.command("set")
def schedules_set(
    pipeline: Annotated[str, typer.Argument()],
    cron: Annotated[str | None, typer.Option("--cron", help="Cron or preset (@daily).")] = None,
    every: Annotated[float | None, typer.Option("--every", help="Interval in seconds.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA time zone.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO start_date.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO end_date.")] = None,
    catchup: Annotated[bool | None, typer.Option("--catchup/--no-catchup")] = None,
    max_active_runs: Annotated[int | None, typer.Option("--max-active-runs")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the deployed settings.")] = False,
) -> None:
    """Edit a schedule without redeploying; the new settings are checked like a compile."""
    from headwater.engine import Workspace
    from headwater.errors import HeadwaterError
    from headwater.scheduler._settings import effective_spec
    from headwater.spec import from_data

    ws = Workspace.open()
    schedule = ws.store.get_schedule(pipeline)
    deployed = from_data(ws.store.get_version(schedule.version_id).spec)
    overrides: dict[str, object] = {} if reset else dict(schedule.overrides or {})
    if cron is not None and every is not None:
        raise HeadwaterError("give --cron or --every, not both")
    base = overrides.get("schedule") or (
        deployed.schedule.model_dump(mode="json") if deployed.schedule else {}
    )
    sched = dict(base) if isinstance(base, dict) else {}
    if cron is not None:
        kind = "once" if cron.strip() == "@once" else "cron"
        sched.update(kind=kind, cron=None if kind == "once" else cron, interval_seconds=None)
    if every is not None:
        sched.update(kind="interval", cron=None, interval_seconds=every)
    if timezone is not None:
        sched["timezone"] = timezone
    if cron is not None or every is not None or timezone is not None:
        overrides["schedule"] = sched
    for key, text in (("start_date", start), ("end_date", end)):
        if text is not None:
            when = _when(text, f"--{key.split('_')[0]}")
            overrides[key] = when.isoformat()
    if catchup is not None:
        overrides["catchup"] = catchup
    if max_active_runs is not None:
        overrides["max_active_runs"] = max_active_runs
    effective_spec(deployed, overrides)  # refuse anything a compile would refuse
    ws.store.set_schedule_overrides(pipeline, overrides)
    out.print(f"{escape(pipeline)}: {'deployed settings' if not overrides else 'settings saved'}")
