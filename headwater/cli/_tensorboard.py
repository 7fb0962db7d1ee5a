"""``headwater tensorboard``: runs' step-wise metrics in TensorBoard."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from headwater.cli._app import app, err, out
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from headwater.tensorboard import RunExport, TensorBoard

DEFAULT_PORT = 6006
DEFAULT_HOST = "localhost"


@app.command()
def tensorboard(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RUN...",
            help="Run ids (or unique prefixes of 4 characters or more).",
            show_default=False,
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            metavar="NAME",
            help="Every run of this experiment too.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help=f"TensorBoard's port (default {DEFAULT_PORT}; 0: any free port).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help=f"The address TensorBoard listens on (default {DEFAULT_HOST}; 0.0.0.0: every "
            "interface).",
            show_default=False,
        ),
    ] = None,
    logdir: Annotated[
        Path | None,
        typer.Option(
            "--logdir",
            help="Write the event files here and keep them (default: a temporary folder, "
            "removed when TensorBoard stops).",
            show_default=False,
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Only write the event files into this folder; start no TensorBoard.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show runs' step-wise metrics and TensorBoardLogs outputs in TensorBoard.

    Each run is a folder PIPELINE-RUNID of the log directory, holding one
    TensorBoard run per task that logged metrics (PIPELINE-RUNID/TASK) and
    per TensorBoardLogs output (PIPELINE-RUNID/TASK/OUTPUT). Writing again
    into the same folder adds nothing.
    """
    from headwater.engine import Workspace
    from headwater.tensorboard import (
        TensorBoard,
        check_logdir,
        check_port,
        plan_export,
        require_tensorboard,
        scratch_folder,
        select_runs,
        write_export,
    )

    if export is not None:
        given = [
            flag
            for flag, v in (("--port", port), ("--host", host), ("--logdir", logdir))
            if v is not None
        ]
        if given:
            raise HeadwaterError(
                f"--export only writes the event files; {' and '.join(given)} "
                f"{'is' if len(given) == 1 else 'are'} for the TensorBoard it would not start",
                hint="drop --export to start TensorBoard (on --logdir DIR if given), or drop "
                + " and ".join(given),
            )
    require_tensorboard()
    ws = Workspace.open()
    chosen = select_runs(ws.store, runs or [], experiment)
    folder = None
    if export is not None:
        folder = check_logdir(export, "--export")
    elif logdir is not None:
        folder = check_logdir(logdir, "--logdir")
    host = host or DEFAULT_HOST
    port = DEFAULT_PORT if port is None else port
    if export is None:
        check_port(host, port)
    plans = plan_export(ws, chosen)

    # The log directory (unless given) and TensorBoard's output, removed at the end (or,
    # if this process is killed, by the next 'headwater tensorboard').
    scratch = scratch_folder(Path(ws.settings.home))
    target = scratch / "logdir" if folder is None else folder
    try:
        written = write_export(ws, plans, target)
        _summary(plans, target, written)
        if export is not None:
            return
        _serve(lambda: TensorBoard.start(target, host=host, port=port, scratch=scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _summary(plans: list[RunExport], target: Path, written: int) -> None:
    for plan in plans:
        if plan.empty:
            err.print(
                f"[yellow]note:[/] run {plan.run.id} ({escape(plan.run.pipeline)}) logged no "
                "metrics and wrote no TensorBoardLogs output: left out",
                soft_wrap=True,
            )
            continue
        points = sum(len(p) for p in plan.scalars.values())
        parts = [f"{len(plan.scalars)} task(s) with metrics ({points} points)"]
        if plan.logs:
            parts.append(f"{len(plan.logs)} TensorBoardLogs output(s)")
        out.print(f"{escape(plan.folder)}: {', '.join(parts)}", soft_wrap=True, highlight=False)
    shown = sum(not p.empty for p in plans)
    out.print(
        f"{shown} run(s) in {escape(str(target))} ({written} file(s) written)",
        soft_wrap=True,
        highlight=False,
    )


def _serve(start: Callable[[], TensorBoard]) -> None:
    """Start TensorBoard, wait until Ctrl-C (or SIGTERM), then stop it; TensorBoard ending
    by itself is an error. The signals are taken before it starts: a Ctrl-C as soon as it
    answers is a clean stop too."""

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Set for SIGINT too: a shell starts a background job with SIGINT ignored.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    board: TensorBoard | None = None
    try:
        board = start()
        out.print(f"TensorBoard at {board.url} (Ctrl-C to stop)", soft_wrap=True, highlight=False)
        status = board.wait()
        raise HeadwaterError(
            f"TensorBoard stopped by itself (exit status {status}): {board.tail()}",
            hint="its last lines of output are above; start headwater tensorboard again",
        )
    except KeyboardInterrupt:
        err.print("stopping TensorBoard...")
    finally:
        if board is not None:  # else interrupted while starting: it dies with this process
            board.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("TensorBoard stopped")
