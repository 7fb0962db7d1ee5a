"""The executor conformance suite: what the engine relies on from any executor.

Each test runs against every executor in ``conftest.EXECUTORS``: success, failure with
its traceback, exit codes and signals, timeouts and cancels that kill whole process
trees, memory limits, resource refusal and capacity, log capture, environment, the
order of events, waking a wait, reclaiming an earlier engine's task, closing, and tasks
in a prepared per-step environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import HERE, NOTHING, Harness, alive, environment_of, read_pid, wait_gone

from headwater.executors import KILL_GRACE_SECONDS, Environment, Resources, Stopped


def test_a_task_that_succeeds_is_reported_started_then_exited_with_status_0(
    harness: Harness,
) -> None:
    req = harness.request("succeed", "hello")
    harness.executor.submit(req)

    (started, exited) = harness.until_ended([req.id])[req.id]

    assert (started.kind, exited.kind) == ("started", "exited")
    assert started.pid is not None and exited.pid == started.pid
    assert exited.status == 0
    assert exited.stopped is None
    out = harness.output(req)
    assert out["headwater"].get("error") is None


def test_a_failing_task_exits_1_and_leaves_its_traceback(harness: Harness) -> None:
    req = harness.request("fail", "the detail")
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", 1, None)
    error = harness.output(req)["headwater"]["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "it went wrong: the detail"
    assert "conformance_tasks.py" in error["traceback"]
    assert "ValueError: it went wrong: the detail" in harness.log(req)


def test_an_exit_code_is_reported_as_it_is(harness: Harness) -> None:
    req = harness.request("exit_with", "3")
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", 3, None)


def test_a_segfault_is_reported_as_killed_by_sigsegv(harness: Harness) -> None:
    req = harness.request("segfault")
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", -signal.SIGSEGV, None)


def test_a_timeout_kills_the_whole_process_tree_even_when_it_ignores_sigterm(
    harness: Harness,
) -> None:
    req = harness.request("stubborn_tree", str(harness.root), timeout_seconds=0.5)
    harness.executor.submit(req)
    child = read_pid(harness.root / "child.pid")
    task = read_pid(harness.root / "task.pid")

    end = harness.until_ended([req.id], within=KILL_GRACE_SECONDS + 20)[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", -signal.SIGKILL, Stopped.TIMEOUT)
    assert end.wall_seconds is not None and end.wall_seconds >= 0.5
    assert wait_gone(task), f"task process {task} outlived its timeout"
    assert wait_gone(child), f"the task's child {child} outlived its timeout"


def test_a_timed_out_task_that_stops_on_sigterm_ends_without_waiting_for_the_grace(
    harness: Harness,
) -> None:
    req = harness.request("graceful", str(harness.root), timeout_seconds=0.5)
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", -signal.SIGTERM, Stopped.TIMEOUT)
    assert end.wall_seconds is not None
    assert 0.5 <= end.wall_seconds < KILL_GRACE_SECONDS


def test_cancel_kills_a_running_task_and_its_children(harness: Harness) -> None:
    req = harness.request("stubborn_tree", str(harness.root))
    harness.executor.submit(req)
    child = read_pid(harness.root / "child.pid")
    task = read_pid(harness.root / "task.pid")

    harness.executor.cancel(req.id)
    end = harness.until_ended([req.id], within=10)[req.id][-1]

    assert (end.kind, end.status, end.stopped) == ("exited", -signal.SIGKILL, Stopped.CANCELLED)
    assert wait_gone(task) and wait_gone(child)


def test_a_task_cancelled_before_its_start_is_reported_is_killed_before_its_code_ends(
    harness: Harness,
) -> None:
    req = harness.request("late_marker", str(harness.root))
    harness.executor.submit(req)
    harness.executor.cancel(req.id)

    end = harness.until_ended([req.id], within=10)[req.id][-1]

    assert end.kind == "exited" and end.stopped is Stopped.CANCELLED
    time.sleep(2.2)
    assert not (harness.root / "ran").exists()


def test_cancelling_an_unknown_or_ended_task_does_nothing(harness: Harness) -> None:
    req = harness.request("succeed")
    harness.executor.submit(req)
    harness.until_ended([req.id])

    harness.executor.cancel(req.id)
    harness.executor.cancel("no-such-task")

    assert harness.executor.events(0.2) == []


def test_resources_the_machine_does_not_have_are_refused_with_the_reason(
    harness: Harness,
) -> None:
    ex = harness.executor
    cpus = os.cpu_count() or 1

    assert ex.check(Resources(cpu=1)) is None
    assert "CPU" in (ex.check(Resources(cpu=cpus * 64)) or "")
    assert "memory" in (ex.check(Resources(memory=2**60)) or "")
    assert "GPU" in (ex.check(Resources(gpu=10_000)) or "")
    other = Environment("sha256:0", ("six==1.17.0",), python="cpython-2.7")
    assert "environment" in (ex.check(Resources(), environment=other) or "")
    with pytest.raises(ValueError, match="CPU"):
        ex.submit(harness.request("succeed", resources=Resources(cpu=cpus * 64)))
    assert ex.has_room(NOTHING), "a refused request must not hold a slot"


def test_capacity_is_held_while_a_task_runs_and_given_back_when_it_ends(
    harness: Harness,
) -> None:
    # As many tasks as fit, each asking for every CPU of this machine: one on the local
    # executor, one per node of that size on a cluster.
    ex = harness.executor
    cpus = float(os.cpu_count() or 1)
    whole = Resources(cpu=cpus)
    assert ex.has_room(whole)

    reqs = []
    while ex.has_room(whole):
        reqs.append(harness.request("sleep_for", "0.5", resources=whole))
        ex.submit(reqs[-1])
        assert len(reqs) <= 8, "has_room never said no"
    assert not ex.has_room(Resources(cpu=1))
    assert ex.has_room(NOTHING), "CPU is taken but slots are not"
    harness.until_ended([r.id for r in reqs])

    assert ex.has_room(whole)


def test_slots_limit_how_many_tasks_run_at_once(harness: Harness) -> None:
    ex = harness.executor
    reqs = []
    while ex.has_room(NOTHING):
        reqs.append(harness.request("sleep_for", "0.3"))
        ex.submit(reqs[-1])
        assert len(reqs) <= 64, "has_room never said no"

    assert len(reqs) >= 1
    harness.until_ended([r.id for r in reqs])
    assert ex.has_room(NOTHING)


def test_a_task_over_its_memory_request_is_killed_and_its_use_reported(
    harness: Harness,
) -> None:
    limit = 150 * 2**20
    req = harness.request("hog", "400", resources=Resources(memory=limit))
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    assert (end.kind, end.status) == ("exited", -signal.SIGKILL)
    assert end.stopped is Stopped.MEMORY_EXCEEDED
    assert end.peak_rss is not None and end.peak_rss > limit


def test_the_log_holds_stdout_and_stderr_of_the_task_and_of_its_children(
    harness: Harness,
) -> None:
    req = harness.request("children_print")
    harness.executor.submit(req)
    harness.until_ended([req.id])

    log = harness.log(req)
    for line in ("from the task", "from a child process", "child stderr"):
        assert line in log


def test_the_task_sees_its_own_variables_and_directory_but_not_the_callers_secrets(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFORMANCE_SECRET", "do-not-leak")
    where = harness.root / "elsewhere"
    where.mkdir()
    req = harness.request(
        "show_environment", str(harness.root), env={"CONFORMANCE_VALUE": "given"}, cwd=str(where)
    )
    harness.executor.submit(req)
    harness.until_ended([req.id])

    value, secret, cwd = (harness.root / "env").read_text().split("\n")
    assert value == "given"
    assert secret == "<unset>"
    assert Path(cwd).resolve() == where.resolve()


def test_variables_an_interpreter_reads_as_it_starts_take_effect_in_the_task(
    harness: Harness,
) -> None:
    # A forked task's interpreter started long before it: the executor must start these
    # tasks so that what they ask for is honoured (docs/adr/0012: no silent options).
    extra = harness.root / "extra"
    extra.mkdir()
    (extra / "conformance_extra.py").write_text("VALUE = 1\n")
    env = {"PYTHONOPTIMIZE": "1", "PYTHONPATH": str(extra)}
    req = harness.request("show_interpreter_settings", str(harness.root), env=env)
    harness.executor.submit(req)
    (end,) = [e for e in harness.until_ended([req.id])[req.id] if e.kind == "exited"]

    assert end.status == 0, harness.log(req)
    noted = (harness.root / "interpreter").read_text().split("\n")
    assert noted == ["optimize=1", "extra=True"]


def test_a_task_that_asks_for_a_fresh_interpreter_runs_in_one(harness: Harness) -> None:
    harness.executor.start([(str(HERE), "conformance_preloaded", "conformance_preloaded.py")], [])
    places = {"forked": harness.root / "forked", "fresh": harness.root / "fresh"}
    for place in places.values():
        place.mkdir()
    forked = harness.request("show_preloaded", str(places["forked"]), fresh_interpreter=False)
    fresh = harness.request("show_preloaded", str(places["fresh"]), fresh_interpreter=True)
    harness.executor.submit(forked)
    harness.executor.submit(fresh)
    harness.until_ended([forked.id, fresh.id])

    assert (places["fresh"] / "preloaded").read_text() == "False", harness.log(fresh)
    if harness.executor.name == "local":  # its forked tasks come from a worker that preloads
        assert (places["forked"] / "preloaded").read_text() == "True", harness.log(forked)


def test_a_task_in_a_prepared_environment_sees_its_packages_and_none_of_the_engines(
    harness: Harness,
) -> None:
    import importlib.util

    # The engine's own Python has SQLAlchemy and lacks tabulate; the environment is the
    # other way round.
    assert importlib.util.find_spec("tabulate") is None
    assert importlib.util.find_spec("sqlalchemy") is not None
    env = environment_of("tabulate==0.9.0")
    assert harness.executor.check(NOTHING, env) is None
    harness.executor.prepare(env, [], None)
    req = harness.request("package_versions", "tabulate,sqlalchemy", environment=env)
    harness.executor.submit(req)
    events = harness.until_ended([req.id])[req.id]
    assert [e.kind for e in events] == ["started", "exited"], events
    end = events[-1]
    log = harness.log(req)
    assert end.status == 0, log
    assert "tabulate=0.9.0" in log
    assert "sqlalchemy=missing" in log
    assert f"python={sys.prefix}" not in log  # another interpreter's prefix


def test_tasks_without_an_environment_run_beside_tasks_in_one(harness: Harness) -> None:
    env = environment_of("tabulate==0.9.0")
    harness.executor.prepare(env, [], None)
    inside = harness.request("package_versions", "tabulate", environment=env)
    outside = harness.request("package_versions", "tabulate")
    harness.executor.submit(inside)
    harness.executor.submit(outside)
    harness.until_ended([inside.id, outside.id])
    assert "tabulate=0.9.0" in harness.log(inside)
    assert "tabulate=missing" in harness.log(outside)


def test_each_task_is_reported_started_once_then_ended_once(harness: Harness) -> None:
    ex = harness.executor
    pending = [harness.request("exit_with", str(i % 3)) for i in range(16)]
    ids = [r.id for r in pending]
    by_task: dict[str, list] = {i: [] for i in ids}
    deadline = time.monotonic() + 60
    while any(len(evs) < 2 for evs in by_task.values()):
        while pending and ex.has_room(NOTHING):
            ex.submit(pending.pop(0))
        assert time.monotonic() < deadline, by_task
        for ev in ex.events(0.5):
            if ev.kind != "wake":
                by_task[ev.id].append(ev)

    for i, task_id in enumerate(ids):
        kinds = [e.kind for e in by_task[task_id]]
        assert kinds == ["started", "exited"], (task_id, kinds)
        assert by_task[task_id][1].status == i % 3
    assert ex.events(0.2) == []


def test_wake_ends_a_wait_from_another_thread(harness: Harness) -> None:
    timer = threading.Timer(0.2, harness.executor.wake)
    began = time.monotonic()
    timer.start()

    evs = harness.executor.events(10)

    assert time.monotonic() - began < 5
    assert [e.kind for e in evs] == ["wake"]


def test_events_returns_empty_after_its_timeout_when_nothing_happens(harness: Harness) -> None:
    began = time.monotonic()
    assert harness.executor.events(0.3) == []
    assert 0.25 <= time.monotonic() - began < 3


def test_reclaim_stops_a_task_an_earlier_engine_left_and_spares_other_programs(
    harness: Harness, tmp_path: Path
) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    leftovers = []
    for name in ("by-pid", "by-log", "stranger"):
        log = tmp_path / f"{name}.leftover.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(sleeper, stdout=out, stderr=out, start_new_session=True)
        (tmp_path / f"{name}.pid").write_text(str(proc.pid))
        leftovers.append((proc, log))
    (by_pid, log_a), (by_log, log_b), (stranger, _) = leftovers
    try:
        harness.executor.reclaim(by_pid.pid, str(log_a))
        harness.executor.reclaim(None, str(log_b))
        # A pid that now belongs to another program (its output goes elsewhere) is spared.
        harness.executor.reclaim(stranger.pid, str(log_a))

        assert by_pid.wait(5) == -signal.SIGKILL
        assert by_log.wait(5) == -signal.SIGKILL
        time.sleep(0.2)
        assert stranger.poll() is None and alive(stranger.pid)
    finally:
        for proc, _ in leftovers:
            proc.kill()
            proc.wait()


def test_close_stops_every_task_still_running(harness: Harness) -> None:
    req = harness.request("stubborn_tree", str(harness.root))
    harness.executor.submit(req)
    child = read_pid(harness.root / "child.pid")
    task = read_pid(harness.root / "task.pid")

    harness.executor.close()

    assert wait_gone(task), "a task outlived its executor"
    assert wait_gone(child), "a task's child outlived its executor"


def test_an_ended_task_reports_how_long_it_ran_and_its_peak_memory(harness: Harness) -> None:
    req = harness.request("sleep_for", "0.4")
    harness.executor.submit(req)

    end = harness.until_ended([req.id])[req.id][-1]

    # At least the sleep, give or take the clocks' resolution (the task's start is taken
    # in another process than the one that slept).
    assert end.wall_seconds is not None and 0.39 <= end.wall_seconds < 10
    assert end.peak_rss is not None and end.peak_rss > 2**20
