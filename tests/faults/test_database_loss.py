"""PostgreSQL drops the engine's connections (``pg_terminate_backend``) again and again
while the fan-out of a run is being recorded.

An engine that was between statements reconnects without noticing; one that was in the
middle of a transaction stops. ``headwater run`` then says so (and how to finish the
run) and ``headwater resume`` finishes it; a scheduler gives the run back and drives it
again. Either way the run ends succeeded with nothing lost or run twice.
"""

from __future__ import annotations

import time

import psycopg
from engine_helpers import alive
from fault_bench import EARLY, MIDDLE, RUN_TIMEOUT, FaultBench

ROUNDS, EVERY = 10, 0.1


def drop_connections(bench: FaultBench, run_id: str) -> None:
    """Release the held task, then kill the drivers' connections every ``EVERY`` seconds
    while the rest of the fan-out runs."""
    bench.release(MIDDLE)
    for _ in range(ROUNDS):
        if bench.kill_connections():
            bench.fault(run_id, "database connections killed")
        time.sleep(EVERY)


def test_the_engine_losing_its_database_connections_ends_the_run_correctly(
    pg_bench: FaultBench,
) -> None:
    driver, run_id = pg_bench.run_cli(hold=(MIDDLE,))
    pg_bench.wait_started(run_id, MIDDLE)
    drop_connections(pg_bench, run_id)
    code = driver.popen.wait(timeout=RUN_TIMEOUT)
    if code != 0:
        # It stopped on the database error: a clear message, then an operator's resume.
        errors = driver.err.read_text()
        assert code == 1 and "Traceback" not in errors, pg_bench.explain()
        assert "the connection to the database was lost" in errors, errors
        assert f"headwater resume {run_id}" in " ".join(errors.split()), errors
        resumed = pg_bench.resume(run_id)
        assert resumed.popen.wait(timeout=RUN_TIMEOUT) == 0, pg_bench.explain()
    pg_bench.check(run_id)


def test_a_scheduler_losing_its_database_connections_drives_the_run_to_its_end(
    pg_bench: FaultBench,
) -> None:
    pg_bench.deploy()
    pg_bench.scheduler()
    run_id = pg_bench.trigger(hold=(MIDDLE,))
    pg_bench.wait_started(run_id, MIDDLE)
    drop_connections(pg_bench, run_id)
    pg_bench.check(run_id)


LOCK = 724310078


def test_a_task_that_ended_while_its_start_could_not_be_recorded_is_not_run_again(
    pg_bench: FaultBench,
) -> None:
    # The engine's write of a started attempt's pid waits while this test holds an
    # advisory lock: the first task runs and ends, and the engine is killed before it
    # could record even the start.
    with psycopg.connect(pg_bench.plain_database_url, autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION hold_pid() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock({LOCK}); RETURN NEW; END $$"
        )
        db.execute(
            "CREATE TRIGGER hold_pid BEFORE UPDATE ON task_runs FOR EACH ROW "
            "WHEN (OLD.pid IS NULL AND NEW.pid IS NOT NULL) EXECUTE FUNCTION hold_pid()"
        )
        db.execute(f"SELECT pg_advisory_lock({LOCK})")
        driver, run_id = pg_bench.run_cli(hold=())
        pid = pg_bench.wait_started(run_id, EARLY)
        pg_bench.wait(lambda: not alive(pid), "the first task to end")
        pg_bench.kill(driver)
        pg_bench.fault(run_id, "engine killed while the database held its writes")
        db.execute(f"SELECT pg_advisory_unlock({LOCK})")
        db.execute("DROP TRIGGER hold_pid ON task_runs")
        db.execute("DROP FUNCTION hold_pid()")
    rows = [
        (a.path, a.attempt, str(a.status), a.pid) for a in pg_bench.ws.store.tasks.task_runs(run_id)
    ]
    assert rows == [(EARLY, 1, "queued", None)], rows

    resumed = pg_bench.resume(run_id)
    assert resumed.popen.wait(timeout=RUN_TIMEOUT) == 0, pg_bench.explain()
    first = [(a.attempt, str(a.status)) for a in pg_bench.ws.store.tasks.task_runs(run_id)]
    assert first[0] == (1, "succeeded"), first
    ends = [m for m in pg_bench.marks_of(run_id) if m.path == EARLY and m.event == "end"]
    assert len(ends) == 1, "the first task ran again"
    pg_bench.check(run_id)
