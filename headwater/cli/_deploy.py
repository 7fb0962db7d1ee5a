"""``headwater deploy``, ``headwater pipelines`` and ``headwater trigger`` (local)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, err, out
from headwater.cli._options import (
    Catchup,
    Cron,
    End,
    Every,
    MaxActiveRuns,
    Server,
    Start,
    TimeZone,
    Token,
)
from headwater.errors import HeadwaterError

pipelines_app = typer.Typer(
    help="List deployed pipelines and their versions.", no_args_is_help=True
)
app.add_typer(pipelines_app, name="pipelines")


@app.command()
def deploy(
    target: Annotated[str, typer.Argument(help="FILE or FILE:PIPELINE")],
    cron: Cron = None,
    every: Every = None,
    timezone: TimeZone = None,
    start: Start = None,
    end: End = None,
    catchup: Catchup = None,
    max_active_runs: MaxActiveRuns = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Store an immutable version: the spec and a snapshot of the source files it needs.

    The schedule options set (or replace) the pipeline's schedule in the version: how a
    pipeline that says nothing of schedules (a Kubeflow pipeline) gets one.

    With --server, the snapshot is sent to a Headwater server as a source bundle, and
    the server compiles and stores it: no access to the database is needed here."""
    from datetime import UTC, datetime

    from headwater.cli._schedule import _when
    from headwater.engine import Workspace
    from headwater.engine import deploy as deploy_version
    from headwater.interop import load_spec

    if server:
        given = {
            "--cron": cron,
            "--every": every,
            "--timezone": timezone,
            "--start": start,
            "--end": end,
            "--catchup/--no-catchup": catchup,
            "--max-active-runs": max_active_runs,
        }
        used = [flag for flag, value in given.items() if value is not None]
        if used:
            raise HeadwaterError(
                f"{', '.join(used)} cannot be used with --server: the server compiles the "
                "pipeline with the schedule its code declares",
                hint="set the schedule in the pipeline's code, or deploy first and then "
                "change it with 'headwater schedules set --server URL'",
            )
        _deploy_remote(server, token, target)
        return
    spec, path = load_spec(target)
    root = str(path.resolve().parent)
    settings: dict[str, Any] = {
        "cron": cron,
        "every": every,
        "timezone": timezone,
        "start_date": _when(start, "--start") if start is not None else None,
        "end_date": _when(end, "--end") if end is not None else None,
        "catchup": catchup,
        "max_active_runs": max_active_runs,
    }
    if any(v is not None for v in settings.values()):
        from headwater.scheduler import checked_schedule, schedule_overrides

        overrides = schedule_overrides(spec, {}, **settings)
        spec = checked_schedule(spec, overrides, datetime.now(UTC))
    ws = Workspace.open()
    version = deploy_version(ws, spec, root)
    _report(
        spec.name,
        version.id,
        version.new,
        version.created_at,
        version.digest,
        sorted(version.source_manifest or {}),
    )


def _report(
    name: str, version: str, new: bool, created: datetime, digest: str, files: list[str]
) -> None:
    """What a deploy printed, local or over the API (the same lines either way)."""
    if new:
        out.print(f"deployed [bold]{escape(name)}[/] version [bold]{version}[/]")
    else:
        out.print(
            f"{escape(name)} is unchanged: version [bold]{version}[/] "
            f"(deployed {created:%Y-%m-%d %H:%M:%S} UTC) already holds this code"
        )
    out.print(f"  digest {digest}", highlight=False)
    out.print(f"  source files: {escape(', '.join(files) or 'none')}", highlight=False)


def _deploy_remote(server: str, token: str | None, target: str) -> None:
    from datetime import UTC, datetime

    from headwater.cli._options import client

    with client(server, token) as hw:
        found = hw.deploy(target)
    created = datetime.fromisoformat(found["created_at"]).astimezone(UTC)
    _report(found["pipeline"], found["id"], found["new"], created, found["digest"], found["files"])


@pipelines_app.command("list")
def pipelines_list() -> None:
    """Every pipeline with its number of versions."""
    from headwater.engine import Workspace

    ws = Workspace.open()
    table = Table(title="pipelines", title_justify="left")
    for col in ("pipeline", "versions", "newest version"):
        table.add_column(col)
    for name, count, newest in ws.store.pipelines.list_pipelines():
        table.add_row(escape(name), str(count), f"{newest:%Y-%m-%d %H:%M:%S}")
    out.print(table)


@pipelines_app.command("versions")
def pipelines_versions(name: Annotated[str, typer.Argument(help="A pipeline name.")]) -> None:
    """A pipeline's versions, newest first."""
    from headwater.engine import Workspace

    ws = Workspace.open()
    versions = ws.store.pipelines.list_versions(name)
    if not versions:
        raise HeadwaterError(
            f"no pipeline named '{name}'", hint="see the pipelines with 'headwater pipelines list'"
        )
    table = Table(title=f"versions of {name}", title_justify="left")
    for col in ("version", "created", "deployed", "source files", "digest"):
        table.add_column(col, no_wrap=col in ("version", "digest"))
    for v in versions:
        table.add_row(
            v.id,
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
            "yes" if v.source_manifest is not None else "no (a 'headwater run' of a file)",
            str(len(v.source_manifest or {})),
            v.digest[:19],
        )
    out.print(table)


def _trigger_remote(
    server: str,
    token: str | None,
    pipeline: str,
    pairs: list[str],
    version: str | None,
    cache: bool,
    experiment: str | None,
) -> None:
    from headwater.cli._options import client
    from headwater.errors import HeadwaterError

    params: dict[str, object] = {}
    for pair in pairs:  # the server checks types against the pipeline's schema
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise HeadwaterError(f"parameter {pair!r} is not name=value", hint="e.g. -p lr=0.1")
        try:
            import json

            params[name] = json.loads(text)
        except ValueError:
            params[name] = text
    with client(server, token) as hw:
        run = hw.trigger(pipeline, params, version=version, cache=cache, experiment=experiment)
    out.print(f"run [bold]{run['id']}[/] of {escape(pipeline)} queued on {escape(server)}")


@app.command()
def trigger(
    pipeline: Annotated[str, typer.Argument(help="A deployed pipeline's name.")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="A parameter: name=value.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A version id (default: the newest deployed).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every task.")] = False,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="The experiment the run belongs to (default: the pipeline's name).",
            show_default=False,
        ),
    ] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Run a deployed version on this machine (it executes the version's own code), or,
    with --server, queue it on a Headwater server."""
    from headwater.cli._runs import _drive, parse_params

    if server:
        _trigger_remote(server, token, pipeline, param or [], version, not no_cache, experiment)
        return
    from headwater.engine import Workspace, check_options, render_for_run
    from headwater.executors import make_executor
    from headwater.scheduler import manual_context
    from headwater.spec import from_data
    from headwater.store import check_experiment, process_owner

    if experiment is not None:
        check_experiment(experiment)
    ws = Workspace.open()
    if version is None:
        deployed = [
            v for v in ws.store.pipelines.list_versions(pipeline) if v.source_manifest is not None
        ]
        if not deployed:
            raise HeadwaterError(
                f"pipeline '{pipeline}' has no deployed version",
                hint="deploy it first with 'headwater deploy FILE'",
            )
        chosen = deployed[0]
    else:
        chosen = ws.store.pipelines.get_version(version)
    spec = from_data(chosen.spec, source=f"version {chosen.id}")
    given = parse_params(param or [], spec)
    values, run_id = render_for_run(spec, given, lambda rid: manual_context(spec, rid, given))
    check_options(spec, ignore_image=ws.settings.ignore_image)
    record = ws.store.runs.create_run(
        chosen,
        values,
        trigger="manual",
        cache_enabled=not no_cache,
        run_id=run_id,
        owner=process_owner(),
        confined=False,  # driven here, by the user who runs this command
        experiment=experiment,
    )
    err.print(f"run [bold]{record.id}[/] of {escape(pipeline)} version {chosen.id}")
    raise typer.Exit(_drive(ws, record.id, f"{pipeline} · {record.id}", False, make_executor()))
