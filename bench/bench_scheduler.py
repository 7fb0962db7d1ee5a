"""Scheduler and server: a scheduler pass over 10,000 schedules (and over 1,000, the
previous size of that row, beside it so that the scaling shows), a page of runs over the
API, trigger-to-first-task latency, and how late scheduled runs are created.

Targets are the scheduler issue's (10,000 schedules in a pass: the performance issue's).
PostgreSQL rows run when a server answers at ``HEADWATER_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``; any database there will do, it is only
used to create and drop ``hw_bench_*`` databases); otherwise they print why they were
skipped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _table import Row

HERE = Path(__file__).resolve().parent
PIPELINES = HERE / "pipelines"
SCHEDULED = PIPELINES / "scheduled.py"
CLI = str(Path(sys.executable).with_name("headwater"))
POSTGRES_URL = os.environ.get(
    "HEADWATER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

SCHEDULES = 10_000
SIZES = (1_000, SCHEDULES)  # the previous size of the row first, for the scaling
START = datetime(2026, 1, 1, tzinfo=UTC)  # scheduled.py:hourly's start_date
PASS_LIMIT = 120.0  # seconds one scheduler-pass process may take before it is stopped
RUNS_IN_DB = 10_000
REQUESTS = 500
TRIGGERS = 10
INTERVAL_WATCH = 9.0  # seconds to let an every-2-seconds schedule create runs


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


MIN_INTERVAL = 1


def _env(home: str, database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_TOKEN"):
        env.pop(key, None)
    env["HEADWATER_HOME"] = home
    # every_2s measures lateness on a two-second schedule, below the default minimum.
    env["HEADWATER_MIN_SCHEDULE_INTERVAL"] = str(MIN_INTERVAL)
    if database_url is not None:
        env["HEADWATER_DATABASE_URL"] = database_url
    return env


def _workspace(env: dict[str, str]) -> Any:
    from headwater._config import Settings
    from headwater._limits import Limits, configure
    from headwater.engine import Workspace

    configure(Limits.from_env(env))  # this process deploys with the servers' limits
    return Workspace.open(Settings.from_env(env))


def _compile(name: str) -> Any:
    from headwater.sdk import compile_root, load_pipeline

    with compile_root(str(PIPELINES)):
        return load_pipeline(f"{SCHEDULED}:{name}").compile()


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------- PostgreSQL


class Postgres:
    """Creates ``hw_bench_*`` databases on the server at ``POSTGRES_URL`` and drops them."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    @staticmethod
    def reachable() -> str | None:
        """None when the server answers, else why not."""
        import psycopg

        try:
            with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return f"PostgreSQL at {POSTGRES_URL} is not reachable ({' '.join(str(exc).split())})"
        return None

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database's SQLAlchemy URL, dropped afterwards."""
        import psycopg
        import sqlalchemy as sa
        from psycopg import sql

        name = f"hw_bench_{secrets.token_hex(4)}"
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = sa.make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


# ---------------------------------------------------------------------- 1. scheduler pass


def _seed_schedules(env: dict[str, str], count: int) -> None:
    """``count`` deployed versions of scheduled.py:hourly under different names, each with a
    schedule: versions through the store API, schedule rows in one bulk insert (what
    upsert_schedule inserts for a new pipeline; one call per pipeline reads the schedule
    back each time, which on a PostgreSQL database without statistics is a nested-loop
    scan and makes seeding take minutes). PostgreSQL is then ANALYZEd, as autovacuum
    would have done on a server holding this many pipelines."""
    from headwater.engine import collect_sources
    from headwater.engine._deploy import version_digest
    from headwater.spec import digest, to_data
    from headwater.store import _schema
    from headwater.store._base import now

    spec = _compile("hourly")
    sources = collect_sources(spec, str(PIPELINES))
    ws = _workspace(env)
    try:
        versions = []
        with ws.store.batch():
            for i in range(count):
                copy = spec.model_copy(update={"name": f"hourly_{i:05d}"})
                spec_digest = digest(copy)
                versions.append(
                    ws.store.pipelines.register_version(
                        copy.name,
                        None,
                        version_digest(spec_digest, sources),
                        to_data(copy),
                        str(PIPELINES),
                        spec_digest=spec_digest,
                        sources=sources,
                    )
                )
        ts = now()
        rows = [
            {
                "pipeline_id": v.pipeline_id,
                "namespace": ws.store.namespace,
                "version_id": v.id,
                "asset_cursor": 0,
                "paused": False,
                "created_at": ts,
                "updated_at": ts,
            }
            for v in versions
        ]
        with ws.store.engine.begin() as conn:
            conn.execute(_schema.schedules.insert(), rows)
        _analyze(ws)
    finally:
        ws.close()


def _analyze(ws: Any) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load (a no-op on SQLite)."""
    if ws.store.postgres:
        import sqlalchemy as sa

        with ws.store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def _count_runs(env: dict[str, str]) -> int:
    ws = _workspace(env)
    try:
        import sqlalchemy as sa

        with ws.store.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one())
    finally:
        ws.close()


@dataclass
class Passes:
    """What the scheduler-pass process reported: seconds per pass, runs, peak RSS."""

    seconds: dict[str, float]
    cpu: dict[str, float]  # CPU seconds of the scheduler process in each pass
    created: dict[str, int]
    rss_mib: float
    stopped: bool  # the process ran past PASS_LIMIT and was stopped
    runs_when_stopped: int = 0


def _scheduler_passes(env: dict[str, str]) -> Passes:
    """In a fresh process: a warm-up pass before anything is due (it loads every schedule
    as the due pass does), the pass at which each schedule has one interval due, then a
    pass at the same instant with nothing due."""
    at = {
        "warmup": START + timedelta(minutes=30),  # [00:00, 01:00) has not ended
        "due": START + timedelta(hours=1),  # it has: one run per schedule
        "steady": START + timedelta(hours=1),  # nothing new
    }
    args = [sys.executable, str(HERE / "scheduler_pass.py")]
    args += [f"{label}={when.isoformat()}" for label, when in at.items()]
    stopped = False
    try:
        out = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=PASS_LIMIT, check=False
        )
        stdout = out.stdout
        if out.returncode != 0:
            raise RuntimeError(f"scheduler pass failed:\n{out.stderr[-2000:]}")
    except subprocess.TimeoutExpired as exc:
        stopped = True
        raw = exc.stdout or b""
        stdout = raw.decode() if isinstance(raw, bytes) else raw
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    result = Passes(
        seconds={x["pass"]: x["seconds"] for x in lines},
        cpu={x["pass"]: x["cpu"] for x in lines},
        created={x["pass"]: x["created"] for x in lines if x["created"] is not None},
        rss_mib=max((x["rss_mib"] for x in lines), default=0.0),
        stopped=stopped,
    )
    if stopped:
        result.runs_when_stopped = _count_runs(env)
    return result


def _pass_rows(backend: str, count: int, passes: Passes, before: Passes | None) -> list[Row]:
    """The rows of ``count`` schedules; ``before`` is the pass over fewer schedules (the
    previous size of the row), for the scaling."""
    rows: list[Row] = []
    ready = passes.seconds.get("open", 0.0) + passes.seconds.get("warmup", 0.0)
    previous = ""
    if before is not None and "due" in before.seconds and "due" in passes.seconds:
        previous = (
            f"; {passes.seconds['due'] / before.seconds['due']:.1f}x the "
            f"{before.created.get('due', 0):,}-schedule pass above"
        )
    if "due" in passes.seconds:
        due = passes.seconds["due"]
        made = passes.created.get("due", 0)
        rows.append(
            Row(
                f"scheduler pass, {count:,} cron schedules, one interval due each ({backend})",
                f"{due:.2f} s",
                "<= 1 s",
                _verdict(due <= 1.0 and made == count),
                f"{made:,} runs created; {passes.cpu['due']:.2f} s CPU in the scheduler"
                f"{previous}; first pass (nothing due yet, every spec parsed): "
                f"{passes.seconds.get('warmup', 0.0):.2f} s"
                + ("; tables ANALYZEd after seeding" if backend == "PostgreSQL" else ""),
            )
        )
    else:
        warmed = "warmup" in passes.seconds
        rows.append(
            Row(
                f"scheduler pass, {count:,} cron schedules, one interval due each ({backend})",
                f"> {PASS_LIMIT - ready:.0f} s" if warmed else "-",
                "<= 1 s",
                "NO",
                f"process stopped after {PASS_LIMIT:.0f} s "
                + (
                    f"with {passes.runs_when_stopped:,} of {count:,} runs created"
                    if warmed
                    else "before its first pass (nothing due) had ended"
                ),
            )
        )
    if "steady" in passes.seconds:
        steady = passes.seconds["steady"]
        rows.append(
            Row(
                f"scheduler pass, {count:,} schedules, nothing due (steady state, {backend})",
                f"{steady:.2f} s",
                "<= 1 s",
                _verdict(steady <= 1.0),
                f"same process, right after the due pass; {passes.cpu['steady']:.2f} s CPU",
            )
        )
    return rows


def _backend_passes(
    backend: str, database: Callable[[], contextlib.AbstractContextManager[str | None]]
) -> tuple[list[Row], float]:
    """The rows of each size in ``SIZES`` on one backend (a fresh ``database()`` each), and the
    peak RSS of the scheduler process at the largest size."""
    rows: list[Row] = []
    before: Passes | None = None
    rss = 0.0
    for count in SIZES:
        home = tempfile.mkdtemp(prefix="hw-bench-sched-")
        try:
            with database() as url:
                env = _env(home, url)
                _seed_schedules(env, count)
                passes = _scheduler_passes(env)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        rows += _pass_rows(backend, count, passes, before)
        before, rss = passes, passes.rss_mib
    return rows, rss


@contextlib.contextmanager
def _sqlite() -> Iterator[None]:
    yield None  # the default database, under the fresh HEADWATER_HOME


def scheduler_pass(pg: Postgres | None, pg_skip: str | None) -> list[Row]:
    rss: dict[str, float] = {}
    rows, rss["SQLite"] = _backend_passes("SQLite", _sqlite)
    if pg is None:
        rows.append(Row("scheduler pass (PostgreSQL)", "skipped", "<= 1 s", "-", pg_skip or ""))
    else:
        pg_rows, rss["PostgreSQL"] = _backend_passes("PostgreSQL", pg.database)
        rows += pg_rows
    peak = max(rss.values())
    rows.append(
        Row(
            f"peak RSS of a scheduler process with {SCHEDULES:,} schedules (3 passes)",
            f"{peak:.0f} MiB",
            "<= 300 MiB",
            _verdict(peak <= 300),
            ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()),
        )
    )
    return rows


# ---------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(command: str, env: dict[str, str], home: str) -> Iterator[str]:
    """``headwater server`` or ``standalone`` on a free port; yields its base URL once
    /api/v1/health answers. Stopped (its process group) on the way out."""
    import httpx

    port = _free_port()
    log_path = Path(home) / f"{command}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [CLI, command, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"headwater {command} exited:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"headwater {command} did not answer within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _token(ws: Any) -> str:
    ws.store.auth.create_user("bench", "user")
    _, secret = ws.store.auth.create_token("bench", "bench")
    return str(secret)


# ---------------------------------------------------------------------- 2. list runs


def _seed_runs(ws: Any) -> None:
    """10 pipelines with 1,000 runs each, inserted in bulk, one second apart (then
    ANALYZEd, as autovacuum would have done by the time a server holds 10,000 runs)."""
    from headwater.spec import digest, to_data
    from headwater.store import _schema, new_id

    spec = _compile("tiny")
    versions = []
    for i in range(10):
        copy = spec.model_copy(update={"name": f"listed_{i}"})
        versions.append(
            ws.store.pipelines.register_version(copy.name, None, digest(copy), to_data(copy), None)
        )
    base = datetime.now(UTC) - timedelta(seconds=RUNS_IN_DB + 60)
    rows = []
    for i in range(RUNS_IN_DB):
        v = versions[i % len(versions)]
        created = base + timedelta(seconds=i)
        rows.append(
            {
                "id": new_id(),
                "namespace": ws.store.namespace,
                "pipeline_id": v.pipeline_id,
                "version_id": v.id,
                "status": "failed" if i % 17 == 0 else "succeeded",
                "parameters": {"n": i},
                "trigger": "api",
                "cache_enabled": True,
                "error": "task 'noop' failed" if i % 17 == 0 else None,
                "created_at": created,
                "started_at": created + timedelta(milliseconds=50),
                "finished_at": created + timedelta(milliseconds=400),
                "engine_host": "bench",
                "engine_pid": 4242,
                "heartbeat_at": created + timedelta(milliseconds=400),
                "experiment": v.pipeline,
            }
        )
    with ws.store.engine.begin() as conn:
        conn.execute(_schema.runs.insert(), rows)
    _analyze(ws)


def list_runs(pg: Postgres | None, pg_skip: str | None) -> list[Row]:
    name = f"GET /api/v1/runs?limit=50, {RUNS_IN_DB:,} runs in PostgreSQL, p99 of {REQUESTS}"
    if pg is None:
        return [Row(name, "skipped", "p99 <= 50 ms", "-", pg_skip or "")]
    import httpx

    home = tempfile.mkdtemp(prefix="hw-bench-api-")
    try:
        with pg.database() as url:
            env = _env(home, url)
            ws = _workspace(env)
            try:
                _seed_runs(ws)
                token = _token(ws)
            finally:
                ws.close()
            with (
                _server("server", env, home) as base,
                httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
                ) as http,
            ):
                for _ in range(20):  # warm-up: connections, statement caches
                    http.get("/api/v1/runs", params={"limit": 50}).raise_for_status()
                first = http.get("/api/v1/runs", params={"limit": 50}).json()
                if len(first["items"]) != 50 or first["total"] != RUNS_IN_DB:
                    raise RuntimeError(f"unexpected page: {len(first['items'])} items")
                times = []
                for _ in range(REQUESTS):
                    start = time.perf_counter()
                    http.get("/api/v1/runs", params={"limit": 50}).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    p50, p95, p99 = (_percentile(times, p) for p in (50, 95, 99))
    return [
        Row(
            name,
            f"{p99:.1f} ms",
            "p99 <= 50 ms",
            _verdict(p99 <= 50),
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms; "
            "'headwater server', one keep-alive connection; tables ANALYZEd after the bulk load",
        )
    ]


# ---------------------------------------------------------------------- 3. and 4. standalone


def _wait_for(fn: Any, timeout: float, poll: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = fn()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the standalone server")
        time.sleep(poll)


def _trigger_latencies(ws: Any, http: Any) -> list[dict[str, float]]:
    """Trigger ``tiny`` over the API, one run at a time; for each, in ms from the moment
    before the POST: run created, run started (an engine in the scheduler thread has
    claimed it), task started (reported by its process)."""
    from headwater.states import RUN_DONE

    found = []
    for i in range(2 + TRIGGERS):  # the first two are a warm-up
        time.sleep(0.5)  # let the scheduler's spare worker warm up again
        before = datetime.now(UTC)
        response = http.post("/api/v1/pipelines/tiny/runs", json={"parameters": {}})
        response.raise_for_status()
        run_id = response.json()["id"]

        def started(rid: str = run_id) -> Any:
            return [t for t in ws.store.tasks.task_runs(rid) if t.started_at is not None]

        def ended(rid: str = run_id) -> Any:
            run = ws.store.runs.get_run(rid)
            return run if run.status in RUN_DONE else None

        task = _wait_for(started, 30)[0]
        run = _wait_for(ended, 30)
        if i < 2:
            continue
        stamps = {
            "created": run.created_at,
            "run_started": run.started_at,
            "task_started": task.started_at,
        }
        found.append({k: (v - before).total_seconds() * 1000 for k, v in stamps.items()})
    return found


def _lateness(ws: Any) -> list[float]:
    """Deploy ``every_2s`` and watch it; created_at - data_interval_end of its runs, in s."""
    from headwater.engine import deploy

    deploy(ws, _compile("every_2s"), str(PIPELINES))
    time.sleep(INTERVAL_WATCH)
    ws.store.schedules.set_paused("every_2s", True)
    runs = [
        r
        for r in ws.store.runs.list_runs(pipeline="every_2s", limit=100)
        if r.trigger == "schedule"
    ]
    return sorted(
        (r.created_at - r.data_interval_end).total_seconds()
        for r in runs
        if r.data_interval_end is not None
    )


def standalone() -> list[Row]:
    import httpx

    from headwater.engine import deploy

    home = tempfile.mkdtemp(prefix="hw-bench-standalone-")
    try:
        env = _env(home)
        ws = _workspace(env)
        try:
            deploy(ws, _compile("tiny"), str(PIPELINES))
            token = _token(ws)
            with (
                _server("standalone", env, home) as base,
                httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
                ) as http,
            ):
                time.sleep(1.0)  # the scheduler thread starts its spare task worker
                latencies = _trigger_latencies(ws, http)
                late = _lateness(ws)
        finally:
            ws.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    first = [x["task_started"] for x in latencies]
    med = {k: statistics.median(x[k] for x in latencies) for k in latencies[0]}
    rows = [
        Row(
            "trigger over the API -> first task running (standalone, SQLite, "
            f"median of {TRIGGERS})",
            f"{statistics.median(first):.0f} ms",
            "<= 200 ms",
            _verdict(statistics.median(first) <= 200),
            f"max {max(first):.0f} ms; medians from before the POST: run created "
            f"{med['created']:.0f} ms, run started {med['run_started']:.0f} ms, task started "
            f"{med['task_started']:.0f} ms",
        )
    ]
    if late:
        rows.append(
            Row(
                "scheduled run created after its due time (every-2-seconds schedule, standalone)",
                f"{statistics.median(late) * 1000:.0f} ms",
                "<= 1 s",
                _verdict(max(late) <= 1.0),
                f"max {max(late) * 1000:.0f} ms over {len(late)} runs in "
                f"{INTERVAL_WATCH:.0f} s; created_at - data_interval_end",
            )
        )
    else:
        rows.append(Row("scheduled run created after its due time", "no runs", "<= 1 s", "NO", ""))
    return rows


def run() -> list[Row]:
    pg_skip = Postgres.reachable()
    pg = Postgres(POSTGRES_URL) if pg_skip is None else None
    rows = scheduler_pass(pg, pg_skip)
    rows += list_runs(pg, pg_skip)
    rows += standalone()
    return rows
