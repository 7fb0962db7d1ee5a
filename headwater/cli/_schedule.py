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
    from headwater.spec import from_data

    ws = Workspace.open()
    table = Table(title="schedules", title_justify="left")
    for col in ("pipeline", "schedule", "paused", "last interval", "version"):
        table.add_column(col, no_wrap=col == "version")
    for s in ws.store.schedules():
        spec = from_data(ws.store.get_version(s.version_id).spec)
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
