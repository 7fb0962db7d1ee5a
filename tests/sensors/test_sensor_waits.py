"""Sensors wait deferred, holding no process and no slot, for real things: a file landing
on a local path and on an FTP server, an HTTP server that starts answering, a PostgreSQL
row, another pipeline's run; they time out (failing, or skipping with soft_fail); an
engine killed while they wait resumes them; bad arguments fail the task, saying why.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from engine_helpers import headwater_command, start_cli, wait_for, write_pipeline
from ftp_helpers import ftp_server
from postgres_helpers import postgres_database

from headwater.engine import Workspace
from headwater.states import TaskStatus
from headwater.store import RunRecord, TaskRunRecord

T = TaskStatus
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    w = Workspace.open()
    try:
        yield w
    finally:
        w.close()


def the_run(ws: Workspace, pipeline: str) -> RunRecord | None:
    runs = ws.store.runs.list_runs(pipeline=pipeline, limit=1)
    return runs[0] if runs else None


def attempt(ws: Workspace, pipeline: str, path: str) -> TaskRunRecord | None:
    run = the_run(ws, pipeline)
    if run is None:
        return None
    found = [a for a in ws.store.tasks.task_runs(run.id) if a.path == path]
    return found[-1] if found else None


def state(ws: Workspace, pipeline: str, path: str) -> TaskStatus | None:
    found = attempt(ws, pipeline, path)
    return found.status if found is not None else None


def finish(process: subprocess.Popen[bytes], cwd: Path, timeout: float = 60) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(
            f"the run did not end: {(cwd / 'cli.err').read_text(errors='replace')[-2000:]}"
        ) from None


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- files


PATH_FLOW = """
from headwater import component, pipeline, wait_for_path

@component
def use(paths: list[str]) -> int:
    return len(paths)

@pipeline
def path_flow(target: str):
    landed = wait_for_path(target, poke_interval="0.2s", timeout="60s")
    use(paths=landed.output)
"""


def test_a_path_sensor_waits_deferred_and_fires_when_the_file_lands(
    tmp_path: Path, ws: Workspace
) -> None:
    target = tmp_path / "landing" / "part-0.csv"
    target.parent.mkdir()
    flow = write_pipeline(tmp_path, "path_flow", PATH_FLOW)
    process = start_cli("run", flow, "-p", f"target={target}", cwd=tmp_path)
    try:
        wait_for(lambda: state(ws, "path_flow", "wait_for_path") is T.DEFERRED, 30, "deferred")
        time.sleep(0.5)  # several checks find nothing
        waiting = attempt(ws, "path_flow", "wait_for_path")
        assert waiting is not None and waiting.pid is None and waiting.deferred_at is not None
        assert state(ws, "path_flow", "use") is None  # downstream waits for it
        target.write_text("a,b\n")
        assert finish(process, tmp_path) == 0
    finally:
        process.kill()
    done = attempt(ws, "path_flow", "wait_for_path")
    assert done is not None and done.status is T.SUCCEEDED and done.pid is None
    assert done.outputs == {"parameters": {"output": [str(target)]}, "artifacts": {}}
    assert state(ws, "path_flow", "use") is T.SUCCEEDED


def test_a_glob_on_an_ftp_root_fires_when_a_matching_file_lands(
    tmp_path: Path, ws: Workspace
) -> None:
    folder = tmp_path / "ftp"
    (folder / "drop").mkdir(parents=True)
    with ftp_server(folder) as port:
        flow = write_pipeline(tmp_path, "path_flow", PATH_FLOW)
        url = f"ftp://127.0.0.1:{port}/drop/*.parquet"
        process = start_cli("run", flow, "-p", f"target={url}", cwd=tmp_path)
        try:
            wait_for(lambda: state(ws, "path_flow", "wait_for_path") is T.DEFERRED, 30, "deferred")
            time.sleep(1.0)
            (folder / "drop" / "notes.txt").write_text("not a match")
            time.sleep(0.5)
            assert state(ws, "path_flow", "wait_for_path") is T.DEFERRED
            (folder / "drop" / "events.parquet").write_bytes(b"PAR1")
            assert finish(process, tmp_path) == 0
        finally:
            process.kill()
    done = attempt(ws, "path_flow", "wait_for_path")
    assert done is not None and done.status is T.SUCCEEDED
    assert done.outputs is not None
    assert done.outputs["parameters"]["output"] == [
        f"ftp://127.0.0.1:{port}/drop/events.parquet".replace(f"127.0.0.1:{port}", "127.0.0.1")
    ] or done.outputs["parameters"]["output"][0].endswith("/drop/events.parquet")


# ---------------------------------------------------------------------- http


HTTP_FLOW = """
from headwater import pipeline, wait_for_http

@pipeline
def http_flow(url: str):
    wait_for_http(url, contains="ready", poke_interval="0.2s", timeout="60s")
"""


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"service ready" if self.path == "/health" else b"no"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_http_sensor_fires_once_the_server_starts_answering(
    tmp_path: Path, ws: Workspace
) -> None:
    port = free_port()
    flow = write_pipeline(tmp_path, "http_flow", HTTP_FLOW)
    process = start_cli("run", flow, "-p", f"url=http://127.0.0.1:{port}/health", cwd=tmp_path)
    server = None
    try:
        wait_for(lambda: state(ws, "http_flow", "wait_for_http") is T.DEFERRED, 30, "deferred")
        time.sleep(1.0)  # connections refused meanwhile: not yet
        assert state(ws, "http_flow", "wait_for_http") is T.DEFERRED
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Ready)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        assert finish(process, tmp_path) == 0
    finally:
        process.kill()
        if server is not None:
            server.shutdown()
    done = attempt(ws, "http_flow", "wait_for_http")
    assert done is not None and done.status is T.SUCCEEDED
    assert done.outputs is not None and done.outputs["parameters"]["output"] == "service ready"


# ---------------------------------------------------------------------- sql


SQL_FLOW = """
from headwater import pipeline, wait_for_sql

@pipeline
def sql_flow(query: str):
    wait_for_sql("warehouse", query, poke_interval="0.2s", timeout="60s")
"""


@pytest.fixture
def postgres() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432")
    yield engine
    engine.dispose()


def test_a_sql_sensor_fires_when_the_row_is_inserted(
    tmp_path: Path, ws: Workspace, postgres: sa.Engine
) -> None:
    table = f"landed_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    with postgres.begin() as db:
        db.execute(sa.text(f"CREATE TABLE {table} (day text, n int)"))
    try:
        ws.store.connections.set(
            "warehouse", type="postgres", host="127.0.0.1", port=5432, login="postgres",
            schema="test",
        )  # fmt: skip
        flow = write_pipeline(tmp_path, "sql_flow", SQL_FLOW)
        query = f"SELECT count(*), max(day) FROM {table} WHERE day = '2026-12-05'"
        process = start_cli("run", flow, "-p", f"query={query}", cwd=tmp_path)
        try:
            wait_for(lambda: state(ws, "sql_flow", "wait_for_sql") is T.DEFERRED, 30, "deferred")
            time.sleep(0.6)
            with postgres.begin() as db:
                db.execute(sa.text(f"INSERT INTO {table} VALUES ('2026-12-04', 1)"))
            time.sleep(0.6)
            assert state(ws, "sql_flow", "wait_for_sql") is T.DEFERRED  # a count of 0
            with postgres.begin() as db:
                db.execute(sa.text(f"INSERT INTO {table} VALUES ('2026-12-05', 2)"))
            assert finish(process, tmp_path) == 0
        finally:
            process.kill()
    finally:
        with postgres.begin() as db:
            db.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    done = attempt(ws, "sql_flow", "wait_for_sql")
    assert done is not None and done.status is T.SUCCEEDED
    assert done.outputs is not None and done.outputs["parameters"]["output"] == [1, "2026-12-05"]


# ---------------------------------------------------------------------- another run


UPSTREAM_FLOW = """
import os, time
from headwater import component, pipeline

@component
def slow(gate: str) -> str:
    while not os.path.exists(gate):
        time.sleep(0.05)
    return "made"

@pipeline
def producer(gate: str):
    slow(gate=gate)
"""

DOWNSTREAM_FLOW = """
from headwater import component, pipeline, wait_for_run

@component
def report(run_id: str) -> str:
    return run_id

@pipeline
def consumer():
    upstream = wait_for_run("producer", task="slow", poke_interval="0.2s", timeout="60s")
    report(run_id=upstream.output)
"""


def test_a_run_sensor_fires_when_the_other_pipelines_task_succeeds(
    tmp_path: Path, ws: Workspace
) -> None:
    gate = tmp_path / "gate"
    up = write_pipeline(tmp_path, "producer_flow", UPSTREAM_FLOW)
    down = write_pipeline(tmp_path, "consumer_flow", DOWNSTREAM_FLOW)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    producer = start_cli("run", up, "-p", f"gate={gate}", cwd=tmp_path / "a")
    consumer = None
    try:
        wait_for(lambda: state(ws, "producer", "slow") is T.RUNNING, 30, "the producer runs")
        consumer = start_cli("run", down, cwd=tmp_path / "b")
        wait_for(lambda: state(ws, "consumer", "wait_for_run") is T.DEFERRED, 30, "deferred")
        time.sleep(0.6)
        assert state(ws, "consumer", "wait_for_run") is T.DEFERRED
        gate.write_text("go")
        assert finish(producer, tmp_path / "a") == 0
        assert finish(consumer, tmp_path / "b") == 0
    finally:
        producer.kill()
        if consumer is not None:
            consumer.kill()
    made = the_run(ws, "producer")
    assert made is not None
    assert state(ws, "consumer", "report") is T.SUCCEEDED
    done = attempt(ws, "consumer", "report")
    assert done is not None and done.outputs is not None
    assert done.outputs["parameters"]["output"] == made.id


# ---------------------------------------------------------------------- no slot held


BUSY_FLOW = """
from headwater import component, pipeline, wait_for_path

@component
def work() -> str:
    return "worked"

@pipeline(max_active_tasks=1)
def busy(target: str):
    wait_for_path(target, poke_interval="0.2s", timeout="60s")
    work()
    work()
"""


def test_a_waiting_sensor_holds_no_slot_under_max_active_tasks_1(
    tmp_path: Path, ws: Workspace
) -> None:
    target = tmp_path / "flag"
    flow = write_pipeline(tmp_path, "busy_flow", BUSY_FLOW)
    process = start_cli("run", flow, "-p", f"target={target}", cwd=tmp_path)
    try:
        # Both other tasks run, one at a time, while the sensor waits.
        wait_for(
            lambda: (
                state(ws, "busy", "work") is T.SUCCEEDED
                and state(ws, "busy", "work-2") is T.SUCCEEDED
            ),
            60,
            "the other tasks to run while the sensor waits",
        )
        assert state(ws, "busy", "wait_for_path") is T.DEFERRED
        assert not children(process.pid) or all(
            "headwater" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
            for p in children(process.pid)
        )
        target.write_text("")
        assert finish(process, tmp_path) == 0
    finally:
        process.kill()
    assert state(ws, "busy", "wait_for_path") is T.SUCCEEDED


# ---------------------------------------------------------------------- @sensor pokes


POKE_FLOW = """
import os
from headwater import pipeline, sensor

@sensor(poke_interval="0.3s", timeout="60s")
def partition(folder: str, day: str) -> str | None:
    with open(os.path.join(folder, "pokes.log"), "a") as log:
        log.write(f"{os.getpid()}\\n")
    path = os.path.join(folder, day)
    return path if os.path.exists(path) else None

@pipeline
def poke_flow(folder: str):
    partition(folder=folder, day="2026-12-05")
"""


def test_a_sensor_function_is_poked_in_short_attempts_and_rests_deferred_between(
    tmp_path: Path, ws: Workspace
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    flow = write_pipeline(tmp_path, "poke_flow", POKE_FLOW)
    process = start_cli("run", flow, "-p", f"folder={folder}", cwd=tmp_path)
    try:
        log = folder / "pokes.log"
        wait_for(lambda: log.exists() and len(log.read_text().split()) >= 3, 30, "three pokes")
        wait_for(lambda: state(ws, "poke_flow", "partition") is T.DEFERRED, 10, "resting")
        resting = attempt(ws, "poke_flow", "partition")
        assert resting is not None and resting.pid is None and (resting.pokes or 0) >= 2
        (folder / "2026-12-05").mkdir()
        assert finish(process, tmp_path) == 0
    finally:
        process.kill()
    attempts = [
        a
        for a in ws.store.tasks.task_runs(the_run(ws, "poke_flow").id)  # type: ignore[union-attr]
        if a.path == "partition"
    ]
    assert len(attempts) == 1  # every poke is the same attempt
    done = attempts[0]
    assert done.status is T.SUCCEEDED and done.attempt == 1
    assert done.outputs is not None
    assert done.outputs["parameters"]["output"] == str(folder / "2026-12-05")
    pids = log.read_text().split()
    assert len(set(pids)) == len(pids) >= 3  # a process per poke, none kept between


# ---------------------------------------------------------------------- timeouts


TIMEOUT_FLOW = """
from headwater import component, pipeline, sensor, wait_for_path

@sensor(poke_interval="0.2s", timeout="1s", soft_fail=True)
def never() -> bool:
    return False

@component
def after() -> str:
    return "ran"

@pipeline
def timeouts(target: str):
    hard = wait_for_path(target, poke_interval="0.2s", timeout="1s")
    soft = wait_for_path(target, poke_interval="0.2s", timeout="1s", soft_fail=True)
    never()
    after().after(soft)
"""


def test_a_sensor_that_times_out_fails_or_with_soft_fail_skips(
    tmp_path: Path, ws: Workspace
) -> None:
    flow = write_pipeline(tmp_path, "timeouts_flow", TIMEOUT_FLOW)
    process = start_cli("run", flow, "-p", f"target={tmp_path / 'never'}", cwd=tmp_path)
    assert finish(process, tmp_path) == 1
    hard = attempt(ws, "timeouts", "wait_for_path")
    soft = attempt(ws, "timeouts", "wait_for_path-2")
    poked = attempt(ws, "timeouts", "never")
    assert hard is not None and hard.status is T.FAILED
    assert "did not hold within its timeout of 1s" in (hard.error or "")
    assert soft is not None and soft.status is T.SKIPPED
    assert poked is not None and poked.status is T.SKIPPED and (poked.pokes or 0) >= 2
    assert state(ws, "timeouts", "after") is T.SKIPPED  # a skip propagates (all_success)


# ---------------------------------------------------------------------- kill -9


def test_an_engine_killed_while_its_sensors_wait_resumes_them(
    tmp_path: Path, ws: Workspace
) -> None:
    target = tmp_path / "landing.csv"
    flow = write_pipeline(tmp_path, "path_flow", PATH_FLOW)
    process = start_cli("run", flow, "-p", f"target={target}", cwd=tmp_path)
    try:
        wait_for(lambda: state(ws, "path_flow", "wait_for_path") is T.DEFERRED, 30, "deferred")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    run = the_run(ws, "path_flow")
    assert run is not None
    target.write_text("landed while no engine ran\n")
    done = subprocess.run(
        [*headwater_command(), "resume", run.id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    attempts = [a for a in ws.store.tasks.task_runs(run.id) if a.path == "wait_for_path"]
    assert [a.status for a in attempts] == [T.SUCCEEDED]  # the same wait, not a new attempt
    assert state(ws, "path_flow", "use") is T.SUCCEEDED


# ---------------------------------------------------------------------- bad arguments


BAD_FLOW = """
from headwater import pipeline, wait_for_http, wait_for_path, wait_for_run, wait_until

@pipeline
def bad_waits():
    wait_for_path("nosuchscheme://bucket/key")
    wait_for_http("file:///etc/passwd")
    wait_for_run("elsewhere", states=["finished"])
    wait_until("next tuesday")
"""


def test_bad_arguments_fail_the_wait_at_once_saying_what_is_wrong(
    tmp_path: Path, ws: Workspace
) -> None:
    flow = write_pipeline(tmp_path, "bad_waits_flow", BAD_FLOW)
    process = start_cli("run", flow, cwd=tmp_path)
    assert finish(process, tmp_path, timeout=30) == 1
    errors = {
        path: (attempt(ws, "bad_waits", path) or pytest.fail(path)).error or ""
        for path in ("wait_for_path", "wait_for_http", "wait_for_run", "wait_until")
    }
    assert "cannot open 'nosuchscheme://bucket/key'" in errors["wait_for_path"]
    assert "is not an http:// or https:// URL" in errors["wait_for_http"]
    assert "'finished' is not a run state" in errors["wait_for_run"]
    assert "wait_until needs an ISO 8601 date and time" in errors["wait_until"]


# ---------------------------------------------------------------------- marking an asset


MARK_FLOW = """
from headwater import pipeline, wait_for_path

@pipeline
def mark_flow(target: str):
    wait_for_path(target, poke_interval="0.2s", timeout="60s", updates="lake://raw/orders")
"""


def test_a_sensor_marks_its_asset_updated_when_its_condition_holds(
    tmp_path: Path, ws: Workspace
) -> None:
    target = tmp_path / "orders.csv"
    target.write_text("id\n1\n")
    flow = write_pipeline(tmp_path, "mark_flow", MARK_FLOW)
    process = start_cli("run", flow, "-p", f"target={target}", cwd=tmp_path)
    assert finish(process, tmp_path) == 0
    run = the_run(ws, "mark_flow")
    assert run is not None
    [event] = ws.store.assets.asset_events(asset="lake://raw/orders")
    assert event.kind == "external"
    assert event.source == f"sensor wait_for_path of run {run.id}"
    assert event.metadata == {"run_id": run.id, "task": "wait_for_path"}


# ---------------------------------------------------------------------- a killed scheduler


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_scheduler_killed_while_its_sensors_wait_has_them_resumed_by_the_next(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started by a scheduler waits on an @sensor (resting between pokes) and a
    built-in wait; the scheduler is killed -9; the next scheduler adopts the run and both
    waits go on, in their same attempts, to success once their file lands."""
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(postgres_database("sensors"))
            monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
        _scheduler_adopts(tmp_path, monkeypatch)


def _scheduler_adopts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("HEADWATER_HEARTBEAT_TIMEOUT", "2")
    # A scheduler's runs are confined to their namespace's roots: the landing folder is one.
    target = tmp_path / "landing" / "orders.csv"
    target.parent.mkdir()
    flow = write_pipeline(
        tmp_path,
        "adopted_flow",
        """
        import os
        from headwater import pipeline, sensor, wait_for_path

        @sensor(poke_interval="0.3s", timeout="120s")
        def landed(path: str) -> bool:
            return os.path.exists(path)

        @pipeline
        def adopted(target: str):
            wait_for_path(target, poke_interval="0.2s", timeout="120s")
            landed(path=target)
        """,
    )
    ws = Workspace.open()
    schedulers: list[subprocess.Popen[bytes]] = []
    try:
        from headwater.scheduler import trigger

        for args in (["deploy", str(flow)], ["roots", "add", str(target.parent)]):
            done = subprocess.run(
                [*headwater_command(), *args],
                cwd=tmp_path,
                env={**os.environ, "NO_COLOR": "1"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        trigger(ws, "adopted", {"target": str(target)})  # queued, as the API does
        schedulers.append(start_cli("scheduler", "--interval", "0.2", cwd=tmp_path))
        wait_for(
            lambda: (
                state(ws, "adopted", "wait_for_path") is T.DEFERRED
                and state(ws, "adopted", "landed") is T.DEFERRED
            ),
            60,
            "both sensors to wait",
        )
        os.killpg(schedulers[0].pid, signal.SIGKILL)
        schedulers[0].wait(10)
        target.write_text("landed while no scheduler ran\n")
        (tmp_path / "second").mkdir()
        schedulers.append(start_cli("scheduler", "--interval", "0.2", cwd=tmp_path / "second"))
        run = the_run(ws, "adopted")
        assert run is not None
        wait_for(
            lambda: ws.store.runs.get_run(run.id).status.value in ("succeeded", "failed"),
            60,
            "the adopted run to end",
        )
        assert ws.store.runs.get_run(run.id).status.value == "succeeded"
        attempts = ws.store.tasks.task_runs(run.id)
        assert sorted((a.path, a.attempt, a.status) for a in attempts) == [
            ("landed", 1, T.SUCCEEDED),
            ("wait_for_path", 1, T.SUCCEEDED),
        ]
    finally:
        for process in schedulers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        ws.close()


# ---------------------------------------------------------------------- an asset, a moment


MOMENT_FLOW = """
from headwater import pipeline, wait_for_asset, wait_until

@pipeline
def moment_flow(moment: str):
    wait_until(moment)
    wait_for_asset("lake://curated/orders", poke_interval="0.2s", timeout="60s")
"""


def test_wait_until_wakes_at_its_moment_and_wait_for_asset_on_a_new_event(
    tmp_path: Path, ws: Workspace
) -> None:
    from datetime import UTC, datetime, timedelta

    ws.store.assets.register_assets(["lake://curated/orders"])
    moment = datetime.now(UTC) + timedelta(seconds=2)
    flow = write_pipeline(tmp_path, "moment_flow", MOMENT_FLOW)
    process = start_cli("run", flow, "-p", f"moment={moment.isoformat()}", cwd=tmp_path)
    try:
        wait_for(lambda: state(ws, "moment_flow", "wait_for_asset") is T.DEFERRED, 30, "deferred")
        time.sleep(0.6)
        assert state(ws, "moment_flow", "wait_for_asset") is T.DEFERRED  # no event yet
        event = ws.store.assets.record_external_event(
            "lake://curated/orders", source="test", metadata={"rows": 3}
        )
        assert finish(process, tmp_path) == 0
    finally:
        process.kill()
    until = attempt(ws, "moment_flow", "wait_until")
    asset = attempt(ws, "moment_flow", "wait_for_asset")
    assert until is not None and until.status is T.SUCCEEDED
    assert until.finished_at is not None and until.finished_at >= moment
    assert until.pokes == 0  # no check before its moment: it woke then, once
    assert asset.pokes is not None and asset.pokes >= 2
    assert asset is not None and asset.outputs is not None
    assert asset.outputs["parameters"]["output"] == event.id


def test_exponential_backoff_doubles_the_wait_up_to_its_cap() -> None:
    from headwater.engine._sensors import _interval
    from headwater.spec import SensorPolicy

    policy = SensorPolicy(
        poke_interval_seconds=1, exponential_backoff=True, max_interval_seconds=5
    ).resolved()
    assert [_interval(policy, n) for n in range(6)] == [1, 1, 2, 4, 5, 5]
    flat = SensorPolicy(poke_interval_seconds=3).resolved()
    assert [_interval(flat, n) for n in range(4)] == [3, 3, 3, 3]
