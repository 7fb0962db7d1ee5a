"""The built-in waits' checks (``TriggerImplementation``): each a coroutine the triggerer
runs every poke interval, saying whether the condition holds.

A check that cannot ever hold (a URL no filesystem knows, a connection that does not
exist, a query the database refuses, an upstream run that failed) ends the wait at once
with an error naming what was wrong. What may pass (a server not up yet, a refused
connection, a file not there yet) is "not yet".
"""

from __future__ import annotations

import glob as _glob
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.engine._triggerer import NOT_YET, Check, Checked, Triggerer
from headwater.errors import HeadwaterError
from headwater.states import RUN_DONE, TASK_FAILURE, RunStatus, TaskStatus
from headwater.store import MetadataStore, RunRecord

# The most of an HTTP body a sensor keeps as its output.
HTTP_BODY_LIMIT = 1 << 20
# How long one HTTP check may take (and no longer than its interval).
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class CheckContext:
    """What a check may use: the run's store (its namespace), the run, the triggerer."""

    store: MetadataStore
    run: RunRecord
    triggerer: Triggerer
    interval: float
    check_uri: Any = None  # the run's URI policy (a confined run), or None


def make_check(kind: str, args: dict[str, Any], ctx: CheckContext) -> tuple[Check, float | None]:
    """The check of a ``kind`` wait with ``args`` (the task's inputs), and when its first
    check is due (epoch seconds; None: at once). Raises ``ValueError`` for arguments no
    check can use."""
    if kind == "path":
        return _path(str(args["url"]), ctx), None
    if kind == "http":
        return _http(args, ctx), None
    if kind == "sql":
        return _sql(str(args["connection"]), str(args["sql"]), ctx), None
    if kind == "run":
        return _run(args, ctx), None
    if kind == "asset":
        return _asset(str(args["asset"]), ctx), None
    if kind == "time":
        moment = _moment(args.get("moment"))
        return _time(moment), moment
    raise ValueError(f"no built-in wait checks {kind!r}")


# ---------------------------------------------------------------------- path


def _path(url: str, ctx: CheckContext) -> Check:
    import fsspec

    if not url:
        raise ValueError("wait_for_path needs a path or URL; it was given ''")
    if ctx.check_uri is not None:
        ctx.check_uri(url)  # a confined run may only look inside its namespace's roots
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as exc:
        raise ValueError(f"cannot open {url!r}: {exc}") from None
    pattern = _glob.has_magic(path)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]

    def look() -> list[str]:
        fs.invalidate_cache()  # a listing cached by the last check would hide new files
        found = sorted(fs.glob(path)) if pattern else ([path] if fs.exists(path) else [])
        if protocol in ("file", "local"):
            return found
        return [fs.unstrip_protocol(p) for p in found]

    async def check() -> Checked:
        try:
            found = await ctx.triggerer.run_blocking(look)
        except (OSError, EOFError, TimeoutError):
            return NOT_YET  # the store did not answer this time
        return Checked(True, found) if found else NOT_YET

    return check


# ---------------------------------------------------------------------- http


def _http(args: dict[str, Any], ctx: CheckContext) -> Check:
    import httpx

    url = str(args["url"])
    method = str(args.get("method") or "GET").upper()
    status = int(args.get("status") or 200)
    contains = args.get("contains")
    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    timeout = min(HTTP_TIMEOUT_SECONDS, max(ctx.interval, 1.0))

    async def check() -> Checked:
        client = _client(ctx.triggerer)
        try:
            answer = await client.request(method, url, headers=headers, timeout=timeout)
        except httpx.HTTPError:
            return NOT_YET  # refused, reset, timed out: not up yet
        if answer.status_code != status:
            return NOT_YET
        body = answer.text[:HTTP_BODY_LIMIT]
        if contains is not None and str(contains) not in body:
            return NOT_YET
        return Checked(True, body)

    return check


_clients: dict[int, Any] = {}


def _client(triggerer: Triggerer) -> Any:
    """One HTTP client per triggerer (made on its loop, reused by every HTTP wait)."""
    import httpx

    client = _clients.get(id(triggerer))
    if client is None:
        client = _clients[id(triggerer)] = httpx.AsyncClient(follow_redirects=True)
    return client


# ---------------------------------------------------------------------- sql


_engines: dict[str, Any] = {}


def _sqlalchemy_url(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return uri


def _sql(connection: str, sql: str, ctx: CheckContext) -> Check:
    import sqlalchemy as sa

    if not sql.strip():
        raise ValueError("wait_for_sql needs a query; it was given ''")

    def query() -> Checked:
        try:
            conn = ctx.store.connections.get(connection)
        except HeadwaterError as exc:
            return Checked(False, error=f"connection '{connection}': {exc.message}")
        url = _sqlalchemy_url(conn.uri)
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = _engines[url] = sa.create_engine(url, pool_pre_ping=True, pool_size=2)
            except Exception as exc:
                return Checked(False, error=f"connection '{connection}': {exc}")
        try:
            with engine.connect() as db:
                row = db.execute(sa.text(sql)).first()
        except sa.exc.OperationalError:
            return NOT_YET  # the database is not reachable now
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            return Checked(False, error=f"the query failed: {reason}")
        if row is None or not row[0]:
            return NOT_YET
        return Checked(True, json.loads(json.dumps(list(row), default=str)))

    async def check() -> Checked:
        result: Checked = await ctx.triggerer.run_blocking(query)
        return result

    return check


# ---------------------------------------------------------------------- run


# What a run or task ending there means for a run sensor by default: it fails at once.
RUN_FAILED = sorted(s.value for s in RUN_DONE - {RunStatus.SUCCEEDED})
TASK_FAILED = sorted(s.value for s in TASK_FAILURE)


def _run(args: dict[str, Any], ctx: CheckContext) -> Check:
    pipeline = str(args["pipeline"])
    task = args.get("task")
    states = [str(s) for s in (args.get("states") or ["succeeded"])]
    failed = [str(s) for s in (args.get("failed_states") or (TASK_FAILED if task else RUN_FAILED))]
    valid = {s.value for s in TaskStatus} if task else {s.value for s in RUN_DONE}
    bad = [s for s in [*states, *failed] if s not in valid]
    if bad:
        raise ValueError(
            f"wait_for_run: {bad[0]!r} is not a {'task' if task else 'run'} state "
            f"(states are {', '.join(sorted(valid))})"
        )
    same = args.get("same_interval")
    interval = ctx.run.data_interval_start if same is None or same else None

    def look() -> Checked:
        runs = ctx.store.runs.list_runs(pipeline=pipeline, limit=50)
        runs = [r for r in runs if r.id != ctx.run.id]
        if interval is not None:
            runs = [r for r in runs if r.data_interval_start == interval]
        if not runs:
            return NOT_YET
        run = runs[0]
        if task is None:
            state = run.status.value
        else:
            attempts = [a for a in ctx.store.tasks.task_runs(run.id) if a.path == task]
            if not attempts:
                return NOT_YET
            state = attempts[-1].status.value
        if state in states:
            return Checked(True, run.id)
        if state in failed:
            what = f"task '{task}' of run {run.id}" if task else f"run {run.id}"
            return Checked(False, error=f"{what} of pipeline '{pipeline}' ended {state}")
        return NOT_YET

    async def check() -> Checked:
        result: Checked = await ctx.triggerer.run_blocking(look)
        return result

    return check


# ---------------------------------------------------------------------- asset


def _asset(name: str, ctx: CheckContext) -> Check:
    since = ctx.run.created_at

    def look() -> Checked:
        events = ctx.store.assets.asset_events(asset=name, limit=1)
        if events and events[0].created_at > since:
            return Checked(True, events[0].id)
        return NOT_YET

    async def check() -> Checked:
        result: Checked = await ctx.triggerer.run_blocking(look)
        return result

    return check


# ---------------------------------------------------------------------- time


def _moment(value: Any) -> float:
    text = str(value or "").strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"wait_until needs an ISO 8601 date and time such as '2026-12-31T06:00:00+00:00'; "
            f"it was given {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _time(moment: float) -> Check:
    async def check() -> Checked:
        return Checked(True) if time.time() >= moment else NOT_YET

    return check
