"""``headwater server``, ``standalone``, ``users``, ``tokens``, ``pools`` and ``assets``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, err, out
from headwater.cli._options import (
    MaxBackfillRuns,
    MaxBundleBytes,
    MaxBundleFiles,
    MaxCompileMemory,
    MaxCompileSeconds,
    MaxJsonDepth,
    MaxParameterBytes,
    MaxRenderBytes,
    MaxRenderMemory,
    MaxRenderSeconds,
    MaxRequestBytes,
    MaxRunsPerPass,
    MinScheduleInterval,
    Server,
    Token,
    apply_limits,
)


def _when(value: Any) -> str:
    if not value:
        return "-"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


@app.command()
def server(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8080,
    max_request_bytes: MaxRequestBytes = None,
    max_parameter_bytes: MaxParameterBytes = None,
    max_json_depth: MaxJsonDepth = None,
    max_render_seconds: MaxRenderSeconds = None,
    max_render_bytes: MaxRenderBytes = None,
    max_render_memory_bytes: MaxRenderMemory = None,
    min_schedule_interval: MinScheduleInterval = None,
    max_backfill_runs: MaxBackfillRuns = None,
    max_bundle_bytes: MaxBundleBytes = None,
    max_bundle_files: MaxBundleFiles = None,
    max_compile_seconds: MaxCompileSeconds = None,
    max_compile_memory_bytes: MaxCompileMemory = None,
) -> None:
    """The API server alone; run 'headwater scheduler' beside it (PostgreSQL for teams).

    Limits (request size, parameter size, template renders, schedule interval, backfill
    size) come from HEADWATER_* variables; the flags override them.
    """
    from headwater.server import serve

    apply_limits(
        max_request_bytes=max_request_bytes,
        max_parameter_bytes=max_parameter_bytes,
        max_json_depth=max_json_depth,
        max_render_seconds=max_render_seconds,
        max_render_bytes=max_render_bytes,
        max_render_memory_bytes=max_render_memory_bytes,
        min_schedule_interval=min_schedule_interval,
        max_backfill_runs=max_backfill_runs,
        max_bundle_bytes=max_bundle_bytes,
        max_bundle_files=max_bundle_files,
        max_compile_seconds=max_compile_seconds,
        max_compile_memory_bytes=max_compile_memory_bytes,
    )
    from headwater.executors import check_executor

    check_executor()  # HEADWATER_EXECUTOR: refused before the server starts

    out.print(f"Headwater API on http://{host}:{port}/api/docs")
    serve(host=host, port=port, scheduler=False, ui_dir=_ui_dir())


@app.command()
def standalone(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8080,
    max_active_tasks: Annotated[
        int | None,
        typer.Option(
            "--max-active-tasks", min=1, max=1_000_000, help="Tasks at once, all runs together."
        ),
    ] = None,
    max_request_bytes: MaxRequestBytes = None,
    max_parameter_bytes: MaxParameterBytes = None,
    max_json_depth: MaxJsonDepth = None,
    max_render_seconds: MaxRenderSeconds = None,
    max_render_bytes: MaxRenderBytes = None,
    max_render_memory_bytes: MaxRenderMemory = None,
    min_schedule_interval: MinScheduleInterval = None,
    max_runs_per_pass: MaxRunsPerPass = None,
    max_backfill_runs: MaxBackfillRuns = None,
    max_bundle_bytes: MaxBundleBytes = None,
    max_bundle_files: MaxBundleFiles = None,
    max_compile_seconds: MaxCompileSeconds = None,
    max_compile_memory_bytes: MaxCompileMemory = None,
    deployment: Annotated[
        list[str] | None,
        typer.Option(
            "--deployment",
            metavar="NAME",
            help="Also serve this deployment (repeatable) with a supervised "
            "'headwater serve', restarted if it exits.",
        ),
    ] = None,
    serve_port: Annotated[
        int, typer.Option("--serve-port", min=0, max=65535, help="Its REST port.")
    ] = 8000,
    serve_grpc_port: Annotated[
        int, typer.Option("--serve-grpc-port", min=0, max=65535, help="Its gRPC port.")
    ] = 8001,
) -> None:
    """API server, scheduler (and the UI) in one process, on one port.

    On the first start it creates the user 'admin' and prints its token, once. Limits
    come from HEADWATER_* variables; the flags override them. With --deployment, the
    deployments are served too (Open Inference Protocol V2, on --serve-port and
    --serve-grpc-port) by a 'headwater serve' this process supervises.
    """
    from headwater.engine import Workspace
    from headwater.server import first_admin_token, serve

    apply_limits(
        max_request_bytes=max_request_bytes,
        max_parameter_bytes=max_parameter_bytes,
        max_json_depth=max_json_depth,
        max_render_seconds=max_render_seconds,
        max_render_bytes=max_render_bytes,
        max_render_memory_bytes=max_render_memory_bytes,
        min_schedule_interval=min_schedule_interval,
        max_runs_per_pass=max_runs_per_pass,
        max_backfill_runs=max_backfill_runs,
        max_bundle_bytes=max_bundle_bytes,
        max_bundle_files=max_bundle_files,
        max_compile_seconds=max_compile_seconds,
        max_compile_memory_bytes=max_compile_memory_bytes,
    )

    from headwater.executors import check_executor

    kind = check_executor()  # HEADWATER_EXECUTOR: refused before anything is created
    ws = Workspace.open()
    secret = first_admin_token(ws)
    if secret is not None:
        out.print(
            "[bold]admin token (shown once; keep it):[/]\n"
            f"  {secret}\n"
            "  export HEADWATER_TOKEN=... to use it from the CLI and the Python client"
        )
    out.print(
        f"Headwater standalone on http://{host}:{port}/ (API docs at /api/docs; "
        f"tasks run on the {kind} executor)"
    )
    supervisor = None
    if deployment:
        from headwater.serving import ServeSupervisor

        for name in deployment:
            ws.store.deployments.get(name)  # an unknown one is refused before anything starts
        args = [a for name in deployment for a in ("--deployment", name)]
        ports = ["--port", str(serve_port), "--grpc-port", str(serve_grpc_port)]
        supervisor = ServeSupervisor([*args, "--host", host, *ports])
        supervisor.start()
    try:
        serve(
            host=host,
            port=port,
            scheduler=True,
            ui_dir=_ui_dir(),
            ws=ws,
            scheduler_options={"max_active_tasks": max_active_tasks},
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


def _ui_dir() -> str | None:
    from pathlib import Path

    built = Path(__file__).resolve().parent.parent / "ui"
    return str(built) if (built / "index.html").is_file() else None


# ---------------------------------------------------------------------- users and tokens

users_app = typer.Typer(help="Users of the API.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument()],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="owner (everything, in every namespace), or the user's role in the "
            "namespace: viewer, editor or admin.",
        ),
    ] = "editor",
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            help="The namespace a viewer, editor or admin works in (default: "
            "HEADWATER_NAMESPACE, else 'default').",
        ),
    ] = None,
    token: Annotated[bool, typer.Option("--token/--no-token", help="Also make a token.")] = True,
) -> None:
    """Create a user (and a first token, printed once): a server owner, or a member with
    a role in one namespace (more with 'headwater members add')."""
    from headwater.engine import Workspace
    from headwater.errors import HeadwaterError
    from headwater.store import NAMESPACE_ROLES

    if role not in (*NAMESPACE_ROLES, "owner"):
        raise HeadwaterError(
            f"--role {role[:40]!r} is not a role",
            hint="use owner, or a namespace role: viewer, editor or admin",
        )
    ws = Workspace.open()
    where = namespace or ws.store.namespace
    if role != "owner":
        ws.store.namespaces.get(where)  # an unknown namespace is refused before the user is made
    with ws.store.batch():
        user = ws.store.auth.create_user(name, "owner" if role == "owner" else "member")
        if role != "owner":
            ws.store.namespaces.set_member(where, user.name, role)
    said = "owner of the server" if role == "owner" else f"{role} in namespace {where}"
    out.print(f"user {escape(user.name)} ({escape(said)}) created")
    if token:
        record, secret = ws.store.auth.create_token(user.name, "default")
        out.print(f"token {record.id} (shown once; keep it):\n  {secret}")


@users_app.command("list")
def users_list() -> None:
    from headwater.engine import Workspace

    table = Table(title="users", title_justify="left")
    for col in ("user", "role", "created"):
        table.add_column(col)
    for u in Workspace.open().store.auth.list_users():
        table.add_row(escape(u.name), u.role, _when(u.created_at))
    out.print(table)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="What it is for.")] = "default",
    days: Annotated[
        float | None, typer.Option("--expires-in-days", help="Expire after this many days.")
    ] = None,
) -> None:
    """A new token; its secret is printed once and stored only as a hash."""
    from headwater.engine import Workspace
    from headwater.errors import HeadwaterError

    if days is not None and days <= 0:
        raise HeadwaterError(
            f"--expires-in-days {days:g} would make a token that is already expired",
            hint="give a number of days above 0, or leave the option out for no expiry",
        )
    if days is not None and not days <= 36_600:  # NaN too
        raise HeadwaterError(
            f"--expires-in-days {days:g} is not a number of days up to 100 years",
            hint="give at most 36600 days, or leave the option out for no expiry",
        )
    expires = datetime.now(UTC) + timedelta(days=days) if days is not None else None
    record, secret = Workspace.open().store.auth.create_token(user, name, expires_at=expires)
    err.print(f"token {record.id} for {escape(user)} (shown once; keep it):")
    out.print(secret, highlight=False)


@tokens_app.command("list")
def tokens_list(user: Annotated[str | None, typer.Option("--user")] = None) -> None:
    from headwater.engine import Workspace

    table = Table(title="tokens", title_justify="left")
    for col in ("id", "user", "name", "prefix", "created", "expires", "last used", "state"):
        table.add_column(col, no_wrap=col == "id")
    for t in Workspace.open().store.auth.list_tokens(user):
        state = "revoked" if t.revoked_at else ("active" if t.active else "expired")
        table.add_row(
            t.id,
            escape(t.user),
            escape(t.name),
            t.prefix + "...",
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.last_used_at),
            state,
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="Token id, prefix or secret.")],
) -> None:
    """Revoke a token: the API refuses it from now on."""
    from headwater.engine import Workspace

    record = Workspace.open().store.auth.revoke_token(token)
    out.print(f"token {record.id} ({escape(record.user)}/{escape(record.name)}) revoked")


# ---------------------------------------------------------------------- pools

pools_app = typer.Typer(help="Pools of slots that tasks share across runs.", no_args_is_help=True)
app.add_typer(pools_app, name="pools")


@pools_app.command("list")
def pools_list() -> None:
    from headwater.engine import Workspace

    table = Table(title="pools", title_justify="left")
    for col in ("pool", "slots", "in use", "waiting", "description"):
        table.add_column(col)
    for p in Workspace.open().store.pools.list():
        table.add_row(
            escape(p.name),
            "unlimited" if p.slots is None else str(p.slots),
            str(p.occupied),
            str(p.waiting),
            escape(p.description or ""),
        )
    out.print(table)


@pools_app.command("set")
def pools_set(
    name: Annotated[str, typer.Argument()],
    slots: Annotated[
        int | None, typer.Option("--slots", min=0, max=1_000_000, help="Omit for unlimited.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Create a pool or change its slots."""
    from headwater.engine import Workspace

    p = Workspace.open().store.pools.set_pool(name, slots, description)
    out.print(f"pool {escape(p.name)}: {'unlimited' if p.slots is None else p.slots} slot(s)")


@pools_app.command("delete")
def pools_delete(name: Annotated[str, typer.Argument()]) -> None:
    from headwater.engine import Workspace

    Workspace.open().store.pools.delete_pool(name)
    out.print(f"pool {escape(name)} deleted")


# ---------------------------------------------------------------------- assets

assets_app = typer.Typer(help="Assets and the events that update them.", no_args_is_help=True)
app.add_typer(assets_app, name="assets")


@assets_app.command("list")
def assets_list() -> None:
    from headwater.engine import Workspace

    table = Table(title="assets", title_justify="left")
    for col in ("asset", "events", "last update"):
        table.add_column(col)
    for a in Workspace.open().store.assets.list_assets(limit=1000):
        table.add_row(escape(a.name), str(a.events), _when(a.last_event_at))
    out.print(table)


@assets_app.command("events")
def assets_events(
    asset: Annotated[str | None, typer.Argument(help="Only this asset.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 20,
) -> None:
    """Asset updates, newest first: the run that made each (or who reported an external
    one, with its metadata), and the runs it triggered."""
    import json

    from headwater.engine import Workspace

    table = Table(title="asset events", title_justify="left")
    for col in ("#", "asset", "when", "from", "artifact", "metadata", "triggered"):
        table.add_column(col)
    for e in Workspace.open().store.assets.asset_events(asset=asset, limit=limit):
        source = f"run {e.run_id}" if e.kind == "task" else f"external: {e.source or '?'}"
        shown = json.dumps(e.metadata, ensure_ascii=False) if e.metadata else "-"
        table.add_row(
            str(e.id),
            escape(e.asset),
            _when(e.created_at),
            escape(source),
            e.artifact_id or "-",
            escape(shown if len(shown) <= 80 else shown[:77] + "..."),
            ", ".join(e.triggered) or "-",
        )
    out.print(table)


@assets_app.command("emit")
def assets_emit(
    name: Annotated[str, typer.Argument(help="The asset, e.g. s3://lake/orders.")],
    metadata: Annotated[
        str | None,
        typer.Option("--metadata", help="A JSON object about the update, e.g. '{\"rows\": 1200}'."),
    ] = None,
    metadata_file: Annotated[
        Path | None,
        typer.Option("--metadata-file", help="Read the JSON object from this file."),
    ] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Record that an asset was updated outside Headwater (data landed, a job elsewhere
    wrote it): the pipelines scheduled on it run, and see the event and its metadata."""
    extra = _event_metadata(metadata, metadata_file)
    if server:
        from headwater.cli._options import client

        with client(server, token) as hw:
            event = hw.emit_asset_event(name, extra)
    else:
        from headwater.engine import Workspace

        found = Workspace.open().store.assets.record_external_event(
            name, source=_local_source(), metadata=extra
        )
        event = {"id": found.id, "asset": found.asset, "source": found.source}
    out.print(
        f"asset event {event['id']} on {escape(event['asset'])} recorded "
        f"(by {escape(str(event['source']))}); the pipelines scheduled on it run on the "
        "scheduler's next pass",
        highlight=False,
    )


def _event_metadata(text: str | None, path: Path | None) -> dict[str, Any] | None:
    """The metadata ``--metadata`` or ``--metadata-file`` gives (one of them at most)."""
    import json

    from headwater.errors import InvalidValue

    if text is not None and path is not None:
        raise InvalidValue(
            "--metadata and --metadata-file both given",
            hint="give the metadata once: inline, or in a file",
        )
    where = "--metadata"
    if path is not None:
        where = f"--metadata-file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(
                f"{where}: cannot read it: {exc}",
                hint="give a readable UTF-8 file holding a JSON object",
            ) from None
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidValue(
            f"{where} is not JSON: {exc}", hint='give a JSON object, e.g. {"rows": 1200}'
        ) from None
    if not isinstance(value, dict):
        raise InvalidValue(
            f"{where} is a JSON {type(value).__name__}, not an object",
            hint='give a JSON object of names and values, e.g. {"rows": 1200}',
        )
    return value


def _local_source() -> str:
    """Who reports an event from this machine's command line."""
    import getpass

    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
