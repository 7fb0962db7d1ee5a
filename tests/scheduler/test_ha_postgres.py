"""Two real ``headwater scheduler`` processes on one real PostgreSQL database.

Each test gets a new database (a copy of one migrated for this module, dropped
afterwards) and a Headwater home that its schedulers share (artifacts are local
files). Heartbeats are shortened (every 0.5 s, adopted after 3 s of silence) so that
adoption takes seconds.

The pipelines (tests/pipelines/scheduler_ha.py) write a line per task execution to a
file, so "no task ran twice" is checked from what the task bodies did, not only from
the store's rows.

PostgreSQL comes from ``HEADWATER_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``, used only to create and drop
databases). When it cannot be reached the tests are skipped, except under CI (``CI``
set), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from headwater._config import Settings
from headwater._limits import configure, limits
from headwater.engine import Workspace, deploy
from headwater.scheduler import edit_schedule, trigger
from headwater.sdk import compile_root, load_pipeline
from headwater.store import create_engine, migrate

MIN_INTERVAL = 1  # HEADWATER_MIN_SCHEDULE_INTERVAL for these tests' one-second schedule
POSTGRES_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
PIPELINE_FILE = PIPELINES / "scheduler_ha.py"
HEADWATER = Path(sys.executable).with_name("headwater")
HEARTBEAT_SECONDS = 0.5
HEARTBEAT_TIMEOUT = 3.0
LOST_ATTEMPT = "the engine driving this attempt stopped before it finished"
DONE = ("succeeded", "failed", "cancelled")
TASKS = ("mark", "mark-2")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def admin() -> psycopg.Connection[Any]:
    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)


def database_url_of(name: str, driver: str = "postgresql+psycopg") -> str:
    url = sa.make_url(POSTGRES_URL).set(drivername=driver, database=name)
    return url.render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def migrated_template() -> Iterator[str]:
    """A migrated database that each test's database is copied from; or a skip (outside
    CI) / failure (in CI) saying why PostgreSQL cannot be used."""
    try:
        with admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        where = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
        why = " ".join(str(exc).split())
        reason = f"PostgreSQL at {where} is not reachable ({exc.__class__.__name__}: {why})"
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the two-scheduler tests must run. Start the "
                "server or point HEADWATER_TEST_POSTGRES_URL at one.",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set HEADWATER_TEST_POSTGRES_URL to run these tests")
    name = f"hw_test_{secrets.token_hex(4)}_ha_template"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        engine = create_engine(database_url_of(name))
        try:
            migrate(engine)
        finally:
            engine.dispose()  # a template must have no sessions when it is copied
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def database(migrated_template: str) -> Iterator[str]:
    """The name of a new migrated database for this test; dropped (sessions and all) after."""
    name = migrated_template.removesuffix("_template") + f"_{secrets.token_hex(3)}"
    with admin() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(migrated_template)
            )
        )
    try:
        yield name
    finally:
        drop_database(name)


@dataclass
class Scheduler:
    """One ``headwater scheduler`` process, its output in files."""

    name: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def output(self) -> str:
        return self.stdout.read_text()

    @property
    def errors(self) -> str:
        return self.stderr.read_text()

    @property
    def owner(self) -> str:
        """The engine id it claims runs as (``runs.engine_id``)."""
        found = re.search(r"^scheduler (\S+) started", self.output, re.MULTILINE)
        assert found, self.describe()
        return found.group(1)

    def driving(self) -> list[str]:
        """The runs it claimed, in order, from its 'driving run ID' lines."""
        return re.findall(r"^driving run (\S+)$", self.output, re.MULTILINE)

    def describe(self) -> str:
        return f"--- {self.name} stdout\n{self.output}\n--- {self.name} stderr\n{self.errors}"


@dataclass
class Cluster:
    """The database, shared home and task-marks folder of one test's schedulers."""

    database: str
    home: Path
    marks: Path
    logs: Path
    ws: Workspace
    started: list[Scheduler] = field(default_factory=list)

    def env(self, heartbeat_timeout: float) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HEADWATER_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE")
        }
        env.update(
            HEADWATER_HOME=str(self.home),
            HEADWATER_DATABASE_URL=database_url_of(self.database),
            HEADWATER_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
            HEADWATER_HEARTBEAT_TIMEOUT=str(heartbeat_timeout),
            HA_TEST_MARKS=str(self.marks),
            # Task processes see only the variables they are allowed to.
            HEADWATER_TASK_ENV_ALLOW="HA_TEST_MARKS",
            # ha_ticks runs every second: below the default minimum, allowed here.
            HEADWATER_MIN_SCHEDULE_INTERVAL=str(MIN_INTERVAL),
            NO_COLOR="1",
            COLUMNS="200",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(
        self, name: str, *args: str, heartbeat_timeout: float = HEARTBEAT_TIMEOUT
    ) -> Scheduler:
        stdout, stderr = self.logs / f"{name}.out", self.logs / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                [str(HEADWATER), "scheduler", "--interval", "0.2", *args],
                cwd=self.logs,
                env=self.env(heartbeat_timeout),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, to kill it and its workers
            )
        scheduler = Scheduler(name, proc, stdout, stderr)
        self.started.append(scheduler)
        return scheduler

    def wait_started(self, *schedulers: Scheduler) -> None:
        for s in schedulers:
            wait_for(
                lambda s=s: " started" in s.output or s.proc.poll() is not None,
                f"scheduler {s.name} to start",
                explain=s.describe,
            )
            assert s.proc.poll() is None, s.describe()

    def stop(self, scheduler: Scheduler) -> int:
        """SIGTERM: it stops claiming runs, lets its running ones end and exits."""
        scheduler.proc.send_signal(signal.SIGTERM)
        return scheduler.proc.wait(timeout=60)

    def deploy(self, name: str) -> None:
        with compile_root(str(PIPELINES)):
            spec = load_pipeline(f"{PIPELINE_FILE}:{name}").compile()
        deploy(self.ws, spec, str(PIPELINES))

    def query(self, statement: str) -> list[Any]:
        with self.ws.store.engine.connect() as conn:
            return list(conn.execute(sa.text(statement)).all())

    def runs(self) -> dict[str, Any]:
        """Every run by id: status, engine_id, trigger, data interval start, error."""
        rows = self.query(
            "SELECT id, status, engine_id, trigger, data_interval_start, error FROM runs"
        )
        return {r.id: r for r in rows}

    def attempts(self, run_id: str | None = None) -> list[Any]:
        """Every task attempt row (of one run, or of all), by run, path and attempt."""
        rows = self.query(
            "SELECT run_id, path, attempt, status, error, pid FROM task_runs "
            "ORDER BY run_id, path, attempt"
        )
        return [r for r in rows if run_id is None or r.run_id == run_id]

    def marks_lines(self) -> list[tuple[str, str, int, int, str]]:
        """(run id, task path, attempt, pid, 'start' | 'end') for each line a task wrote."""
        path = self.marks / "marks.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            run_id, task, attempt, pid, event = line.split()
            out.append((run_id, task, int(attempt), int(pid), event))
        return out

    def executions(self) -> Counter[tuple[str, str, int, str]]:
        """How many times each (run, task, attempt) wrote 'start' and 'end'."""
        return Counter((run, task, attempt, ev) for run, task, attempt, _, ev in self.marks_lines())

    def alive(self, pid: int) -> bool:
        """Whether task process ``pid`` of this test still runs (not a zombie)."""
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return False
            with open(f"/proc/{pid}/environ", "rb") as f:
                return f"HA_TEST_MARKS={self.marks}\0".encode() in f.read()
        except OSError:
            return False

    def kill_all(self) -> None:
        """Kill every scheduler's process group, then any task process of this test left
        behind (tasks run in sessions of their own)."""
        for s in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(s.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.proc.wait(timeout=10)
        for pid in {m[3] for m in self.marks_lines()}:
            if self.alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def cluster(database: str, tmp_path: Path) -> Iterator[Cluster]:
    home, marks, logs = tmp_path / "home", tmp_path / "marks", tmp_path / "logs"
    for folder in (home, marks, logs):
        folder.mkdir()
    env = {"HEADWATER_HOME": str(home), "HEADWATER_DATABASE_URL": database_url_of(database)}
    ws = Workspace.open(Settings.from_env(env))
    made = Cluster(database, home, marks, logs, ws)
    previous = configure(limits().replace(min_schedule_interval=MIN_INTERVAL))
    try:
        yield made
    finally:
        configure(previous)
        made.kill_all()
        ws.close()


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 60,
    explain: Callable[[], str] = lambda: "",
) -> None:
    """Poll until ``condition()`` holds. ``timeout`` bounds a hang; it checks no speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{explain()}")
        time.sleep(0.05)


def no_tracebacks(*schedulers: Scheduler) -> None:
    for s in schedulers:
        assert "Traceback" not in s.errors + s.output, s.describe()


# ---------------------------------------------------------------------------- tests


def test_two_schedulers_create_and_run_every_run_and_task_once(cluster: Cluster) -> None:
    cluster.deploy("ha_ticks")
    cluster.deploy("ha_pair")
    # Eight one-second intervals are due at once, and four more come due while both run.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=8)
    intervals = [start + timedelta(seconds=k) for k in range(12)]
    end = start + timedelta(seconds=len(intervals))
    edit_schedule(cluster.ws, "ha_ticks", start_date=start, end_date=end)
    api = {trigger(cluster.ws, "ha_pair", {"label": f"api-{i}"}).id for i in range(20)}

    # A few runs at once each, so that neither scheduler can take them all. Nothing
    # here is adopted: a long heartbeat timeout keeps a slow machine from making it so.
    a = cluster.start("a", "--max-runs", "3", heartbeat_timeout=30)
    b = cluster.start("b", "--max-runs", "3", heartbeat_timeout=30)
    cluster.wait_started(a, b)

    def all_ended() -> bool:
        runs = cluster.runs().values()
        made = sum(r.trigger == "schedule" for r in runs)
        return made == len(intervals) and all(r.status in DONE for r in runs)

    explain = lambda: a.describe() + b.describe()  # noqa: E731
    wait_for(all_ended, "every run to be created and to end", timeout=120, explain=explain)
    assert cluster.stop(a) == 0, a.describe()
    assert cluster.stop(b) == 0, b.describe()
    no_tracebacks(a, b)

    runs = cluster.runs()
    # Each interval got exactly one run: none missing, none twice.
    assert sorted(r.data_interval_start for r in runs.values() if r.trigger == "schedule") == (
        intervals
    )
    assert {r.id for r in runs.values() if r.trigger == "api"} == api
    assert len(runs) == len(intervals) + len(api)
    assert {r.status for r in runs.values()} == {"succeeded"}

    # Each run was claimed once, by one scheduler, which drove it to its end.
    assert Counter(a.driving() + b.driving()) == Counter(list(runs)), explain()
    by_a, by_b = set(a.driving()), set(b.driving())
    assert by_a and by_b, f"one scheduler drove every run\n{explain()}"
    assert {r.id for r in runs.values() if r.engine_id == a.owner} == by_a
    assert {r.id for r in runs.values() if r.engine_id == b.owner} == by_b

    # Each task of each run has one attempt, the first, which succeeded ...
    attempts = cluster.attempts()
    assert Counter((r.run_id, r.path) for r in attempts) == Counter(
        {(run, task): 1 for run in runs for task in TASKS}
    )
    assert {(r.attempt, r.status) for r in attempts} == {(1, "succeeded")}
    # ... and its body ran once.
    assert cluster.executions() == Counter(
        {(run, task, 1, ev): 1 for run in runs for task in TASKS for ev in ("start", "end")}
    )


@pytest.mark.parametrize(
    ("pipeline", "kill"),
    [
        # The scheduler process alone, as the OOM killer or 'kill -9 PID' would.
        pytest.param("ha_pair", "scheduler", id="forked-task-scheduler-killed"),
        pytest.param("ha_fresh", "scheduler", id="fresh-interpreter-task-scheduler-killed"),
        # The scheduler and its task workers ('kill -9 -PGID'); the task process, in a
        # session of its own, lives on.
        pytest.param("ha_pair", "group", id="forked-task-scheduler-and-workers-killed"),
    ],
)
def test_a_killed_schedulers_run_is_adopted_and_finished_by_the_other(
    cluster: Cluster, pipeline: str, kill: str
) -> None:
    cluster.deploy(pipeline)
    a = cluster.start("a")
    cluster.wait_started(a)
    # The first attempt of the first task would run for a minute; a retry is quick.
    run_id = trigger(cluster.ws, pipeline, {"label": "slow", "seconds": 60.0}).id
    wait_for(
        lambda: (run_id, "mark", 1, "start") in cluster.executions(),
        "a to start the first task",
        explain=a.describe,
    )
    (lost_pid,) = [m[3] for m in cluster.marks_lines() if m[:3] == (run_id, "mark", 1)]
    wait_for(
        lambda: [(r.status, r.pid) for r in cluster.attempts(run_id)] == [("running", lost_pid)],
        "a to record the running attempt",
        explain=a.describe,
    )
    assert cluster.runs()[run_id].engine_id == a.owner
    if kill == "group":
        os.killpg(a.proc.pid, signal.SIGKILL)
    else:
        a.proc.kill()
    a.proc.wait(timeout=10)

    b = cluster.start("b")
    cluster.wait_started(b)
    wait_for(
        lambda: cluster.runs()[run_id].status in DONE,
        "b to adopt the run and finish it",
        explain=lambda: a.describe() + b.describe(),
    )
    # The lost attempt does not run on beside the one that replaced it.
    assert not cluster.alive(lost_pid), f"the lost attempt (pid {lost_pid}) still runs"
    assert cluster.stop(b) == 0, b.describe()
    # Not a: a worker of a killed scheduler may die of a broken pipe on the way down.
    no_tracebacks(b)

    run = cluster.runs()[run_id]
    assert (run.status, run.engine_id) == ("succeeded", b.owner), run.error
    assert b.driving() == [run_id]
    attempts = cluster.attempts(run_id)
    assert [(r.path, r.attempt, r.status) for r in attempts] == [
        ("mark", 1, "failed"),
        ("mark", 2, "succeeded"),
        ("mark-2", 1, "succeeded"),
    ]
    assert attempts[0].error.startswith(LOST_ATTEMPT)
    assert attempts[0].pid == lost_pid
    assert cluster.executions() == Counter(
        {
            (run_id, "mark", 1, "start"): 1,  # cut short: no 'end'
            (run_id, "mark", 2, "start"): 1,
            (run_id, "mark", 2, "end"): 1,
            (run_id, "mark-2", 1, "start"): 1,
            (run_id, "mark-2", 1, "end"): 1,
        }
    )


def test_a_live_scheduler_keeps_its_runs(cluster: Cluster) -> None:
    cluster.deploy("ha_pair")
    a = cluster.start("a")
    b = cluster.start("b")
    cluster.wait_started(a, b)
    # Longer than the heartbeat timeout: a silent engine would lose the run meanwhile.
    seconds = HEARTBEAT_TIMEOUT + 1.0
    run_id = trigger(cluster.ws, "ha_pair", {"label": "long", "seconds": seconds}).id

    owners: list[str | None] = []

    def ended() -> bool:
        run = cluster.runs()[run_id]
        if not owners or owners[-1] != run.engine_id:
            owners.append(run.engine_id)
        return run.status in DONE

    explain = lambda: a.describe() + b.describe()  # noqa: E731
    wait_for(ended, "the run to end", explain=explain)
    assert cluster.stop(a) == 0 and cluster.stop(b) == 0, explain()
    no_tracebacks(a, b)

    driver = owners[-1]
    assert driver in (a.owner, b.owner)
    assert owners in ([None, driver], [driver]), f"the run changed hands: {owners}"
    assert sorted(a.driving() + b.driving()) == [run_id]
    assert cluster.runs()[run_id].status == "succeeded"
    attempts = [(r.path, r.attempt, r.status) for r in cluster.attempts(run_id)]
    assert attempts == [("mark", 1, "succeeded"), ("mark-2", 1, "succeeded")]
    assert cluster.executions() == Counter(
        {(run_id, task, 1, ev): 1 for task in TASKS for ev in ("start", "end")}
    )


def test_a_run_whose_engine_stopped_with_an_error_is_not_left_running(
    cluster: Cluster,
) -> None:
    cluster.deploy("ha_pair")
    # An OSError in the engine once the run has started: its work folder cannot be made.
    (cluster.home / "work").write_text("a file where the work folder should be")
    a = cluster.start("a")
    cluster.wait_started(a)
    run_id = trigger(cluster.ws, "ha_pair", {"label": "broken"}).id
    wait_for(
        lambda: cluster.runs()[run_id].status in DONE,
        "the run to end",
        explain=a.describe,
    )
    assert cluster.stop(a) == 0, a.describe()
    run = cluster.runs()[run_id]
    assert run.status == "failed"
    assert "NotADirectoryError" in run.error
    assert a.driving() == [run_id]  # failed once, not claimed again and again


def test_a_run_given_back_after_a_database_error_can_be_adopted(cluster: Cluster) -> None:
    cluster.deploy("ha_pair")
    # Statements that wait for a lock longer than this fail with an OperationalError.
    with admin() as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET lock_timeout = '300ms'").format(
                sql.Identifier(cluster.database)
            )
        )
    a = cluster.start("a")
    cluster.wait_started(a)
    run_id = trigger(cluster.ws, "ha_pair", {"label": "hiccup", "seconds": 1.0}).id
    wait_for(
        lambda: (run_id, "mark", 1, "start") in cluster.executions(),
        "a to start the first task",
        explain=a.describe,
    )
    # While the task runs, its engine cannot write its attempts (a database hiccup).
    with cluster.ws.store.engine.connect() as conn:
        conn.execute(sa.text("SET lock_timeout = 0"))  # this session waits for its lock
        conn.execute(sa.text("LOCK TABLE task_runs IN ACCESS EXCLUSIVE MODE"))
        wait_for(
            lambda: f"run {run_id}: the database failed" in a.errors,
            "a's engine to fail on the database",
            explain=a.describe,
        )
        conn.rollback()
    assert cluster.stop(a) == 0, a.describe()

    # Stranded, unless it ended or another scheduler may adopt it once stale (here:
    # with every heartbeat counted stale).
    claimed = cluster.ws.store.control.claim_runs("b", datetime.now(UTC) + timedelta(days=1), 10)
    run = cluster.runs()[run_id]
    assert run.status in DONE or claimed == [run_id], (
        f"run {run_id} is left {run.status} with engine {run.engine_id} and nobody may adopt it"
    )


def test_a_task_whose_pid_was_not_recorded_does_not_outlive_its_scheduler(
    cluster: Cluster,
) -> None:
    cluster.deploy("ha_fresh")
    # The engine's write of a started attempt's pid waits while this test holds an
    # advisory lock: the task runs, and its scheduler dies before the pid is stored.
    with psycopg.connect(database_url_of(cluster.database, "postgresql"), autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION hold_pid() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_advisory_xact_lock(724310077); RETURN NEW; END $$"
        )
        db.execute(
            "CREATE TRIGGER hold_pid BEFORE UPDATE ON task_runs FOR EACH ROW "
            "WHEN (OLD.pid IS NULL AND NEW.pid IS NOT NULL) EXECUTE FUNCTION hold_pid()"
        )
        db.execute("SELECT pg_advisory_lock(724310077)")
        a = cluster.start("a")
        cluster.wait_started(a)
        run_id = trigger(cluster.ws, "ha_fresh", {"label": "slow", "seconds": 60.0}).id
        wait_for(
            lambda: (run_id, "mark", 1, "start") in cluster.executions(),
            "a to start the first task",
            explain=a.describe,
        )
        (lost_pid,) = [m[3] for m in cluster.marks_lines() if m[:3] == (run_id, "mark", 1)]
        a.proc.kill()
        a.proc.wait(timeout=10)
        db.execute("SELECT pg_advisory_unlock(724310077)")
    assert [r.pid for r in cluster.attempts(run_id)] == [None]

    b = cluster.start("b")
    cluster.wait_started(b)
    wait_for(
        lambda: cluster.runs()[run_id].status in DONE,
        "b to adopt the run and finish it",
        explain=lambda: a.describe() + b.describe(),
    )
    assert cluster.runs()[run_id].status == "succeeded"
    assert not cluster.alive(lost_pid), f"the lost attempt (pid {lost_pid}) still runs"
