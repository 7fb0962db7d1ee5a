"""``headwater scheduler`` and ``headwater schedules``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out
from headwater.cli._options import (
    Catchup,
    Cron,
    End,
    Every,
    MaxActiveRuns,
    MaxRenderBytes,
    MaxRenderMemory,
    MaxRenderSeconds,
    MaxRunsPerPass,
    MinScheduleInterval,
    Server,
    Start,
    TimeZone,
    Token,
    apply_limits,
    client,
)

schedules_app = typer.Typer(help="List, pause and unpause schedules.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")


@schedules_app.command("list")
def schedules_list(server: Server = None, token: Token = None) -> None:
    """Every schedule, with the interval of its last scheduled run."""
    if server:
        _schedules_remote(server, token)
        return
    from headwater.engine import Workspace
    from headwater.scheduler import effective_spec
    from headwater.spec import from_data

    ws = Workspace.open()
    table = Table(title="schedules", title_justify="left")
    for col in ("pipeline", "schedule", "paused", "last interval", "version"):
        table.add_column(col, no_wrap=col == "version")
    for s in ws.store.schedules.list():
        spec = effective_spec(
            from_data(ws.store.pipelines.get_version(s.version_id).spec), s.overrides
        )
        sched = spec.schedule
        text = "-"
        if sched is not None:
            text = sched.describe()
            if sched.kind != "assets":
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
def schedules_pause(
    pipeline: Annotated[str, typer.Argument()], server: Server = None, token: Token = None
) -> None:
    """Stop creating scheduled runs of a pipeline."""
    from headwater.engine import Workspace

    if server:
        with client(server, token) as hw:
            hw.pause(pipeline)
    else:
        Workspace.open().store.schedules.set_paused(pipeline, True)
    out.print(f"{escape(pipeline)} paused")


@schedules_app.command("unpause")
def schedules_unpause(
    pipeline: Annotated[str, typer.Argument()], server: Server = None, token: Token = None
) -> None:
    """Create scheduled runs of a pipeline again (missed intervals follow its catchup rule)."""
    from headwater.engine import Workspace

    if server:
        with client(server, token) as hw:
            hw.unpause(pipeline)
    else:
        Workspace.open().store.schedules.set_paused(pipeline, False)
    out.print(f"{escape(pipeline)} unpaused")


def _schedules_remote(server: str, token: str | None) -> None:
    with client(server, token) as hw:
        found = hw.schedules()
    table = Table(title=f"schedules on {server}", title_justify="left")
    for col in ("pipeline", "schedule", "paused", "next run", "version"):
        table.add_column(col, no_wrap=col == "version")
    for s in found:
        if s["kind"] == "assets":
            text = (" & " if s["asset_mode"] == "all" else " | ").join(s["assets"])
        else:
            text = s["cron"] or (
                f"every {s['interval_seconds']:g}s" if s["interval_seconds"] else s["kind"] or "-"
            )
        table.add_row(
            escape(s["pipeline"]),
            escape(text),
            "yes" if s["paused"] else "no",
            s["next_end"] or "-",
            s["version_id"],
        )
    out.print(table)


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="One pass, then wait for its runs.")] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.01, max=3600, help="Seconds between passes."),
    ] = 1.0,
    max_runs: Annotated[
        int, typer.Option("--max-runs", min=1, max=100_000, help="Runs driven at once.")
    ] = 16,
    max_active_tasks: Annotated[
        int | None,
        typer.Option(
            "--max-active-tasks", min=1, max=1_000_000, help="Tasks running at once, all runs."
        ),
    ] = None,
    max_render_seconds: MaxRenderSeconds = None,
    max_render_bytes: MaxRenderBytes = None,
    max_render_memory_bytes: MaxRenderMemory = None,
    min_schedule_interval: MinScheduleInterval = None,
    max_runs_per_pass: MaxRunsPerPass = None,
) -> None:
    """Create the runs schedules and assets call for, and drive queued runs.

    Several schedulers may share one PostgreSQL database: each run is created once and
    driven by one of them; a scheduler that dies has its runs adopted by another. Limits
    come from HEADWATER_* variables; the flags override them.
    """
    import signal as signals

    from headwater.errors import HeadwaterError

    if not 0.01 <= interval <= 3600:  # NaN too
        raise HeadwaterError(
            f"--interval {interval} is not a number of seconds from 0.01 to 3600",
            hint="the scheduler looks for due runs every --interval seconds; 1 is the default",
        )
    apply_limits(
        max_render_seconds=max_render_seconds,
        max_render_bytes=max_render_bytes,
        max_render_memory_bytes=max_render_memory_bytes,
        min_schedule_interval=min_schedule_interval,
        max_runs_per_pass=max_runs_per_pass,
    )

    from headwater.engine import Workspace
    from headwater.executors import check_executor
    from headwater.scheduler import SchedulerService
    from headwater.store import RunRecord

    kind = check_executor()  # HEADWATER_EXECUTOR: refused before anything is created
    ws = Workspace.open()

    def created(run: RunRecord) -> None:
        start, end = run.data_interval_start, run.data_interval_end
        span = f" for {start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M}" if start and end else ""
        out.print(f"{escape(run.pipeline)}: run {run.id}{span}")

    service = SchedulerService(
        ws,
        interval=interval,
        max_runs=max_runs,
        max_active_tasks=max_active_tasks,
        on_created=created,
        on_claimed=lambda run_id: out.print(f"driving run {run_id}"),
    )
    if once:
        service.step()
        service.runner.wait()
        service.close()
        return

    def on_signal(signum: int, frame: object) -> None:
        if service.stopping:
            raise SystemExit(1)  # a second signal: leave the runs for another scheduler
        out.print("stopping: no new runs; waiting for the running ones (again to quit now)")
        service.stop()

    signals.signal(signals.SIGTERM, on_signal)
    signals.signal(signals.SIGINT, on_signal)
    out.print(f"scheduler {service.runner.owner} started ({kind} executor)")
    service.serve()
    service.runner.wait()
    service.close()


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
    from headwater.store import process_owner

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
    # Driven here by the user who runs this command: like 'headwater run', not confined.
    local = create_backfill_runs(
        ws, pipeline, plan, timetable, owner=process_owner(), confined=False
    )
    for run in local:
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
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise HeadwaterError(
            f"{option} {text!r} is out of range once in UTC",
            hint="give a date and time between the years 1 and 9999 in UTC",
        ) from None


@schedules_app.command("set")
def schedules_set(
    pipeline: Annotated[str, typer.Argument()],
    cron: Cron = None,
    every: Every = None,
    timezone: TimeZone = None,
    start: Start = None,
    end: End = None,
    catchup: Catchup = None,
    max_active_runs: MaxActiveRuns = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the deployed settings.")] = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Edit a schedule without redeploying; the new settings are checked like a compile."""
    from headwater.engine import Workspace
    from headwater.scheduler import edit_schedule

    if server:
        changes = {
            "cron": cron,
            "interval_seconds": every,
            "timezone": timezone,
            "start_date": _when(start, "--start").isoformat() if start else None,
            "end_date": _when(end, "--end").isoformat() if end else None,
            "catchup": catchup,
            "max_active_runs": max_active_runs,
            "reset": reset or None,
        }
        with client(server, token) as hw:
            hw.edit_schedule(pipeline, **changes)
        out.print(f"{escape(pipeline)}: settings saved on {escape(server)}")
        return

    saved = edit_schedule(
        Workspace.open(),
        pipeline,
        cron=cron,
        every=every,
        timezone=timezone,
        start_date=_when(start, "--start") if start is not None else None,
        end_date=_when(end, "--end") if end is not None else None,
        catchup=catchup,
        max_active_runs=max_active_runs,
        reset=reset,
    )
    overrides = saved.overrides
    out.print(f"{escape(pipeline)}: {'deployed settings' if not overrides else 'settings saved'}")
