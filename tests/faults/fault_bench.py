"""The fault-injection bench: real ``headwater`` processes on one home and database, the
marks the task bodies write, and the verdict on a run after its faults.

See conftest.py for what is checked and counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from engine_helpers import alive, headwater_command
from faults_flow import WORK_ITEMS, expected_total
from server_helpers import cli_env, free_port

from headwater._config import Settings
from headwater.engine import Run, Workspace, deploy
from headwater.sdk import compile_root, load_pipeline

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
PIPELINE_FILE = PIPELINES / "faults_flow.py"
PIPELINE = "faults_flow"
# The points where faults hit: early (the first task), in the middle of the fan-out,
# and during the fan-in.
EARLY, MIDDLE, FAN_IN = "source", f"items[{WORK_ITEMS // 2}].work", "fan_in"
POINTS = (EARLY, MIDDLE, FAN_IN)
PATHS = frozenset({EARLY, FAN_IN, *(f"items[{i}].work" for i in range(WORK_ITEMS))})
DONE = ("succeeded", "failed", "cancelled")
# Engines beat every half second and are adopted after two seconds of silence.
HEARTBEAT_SECONDS, HEARTBEAT_TIMEOUT = "0.5", "2"
# Generous bounds that only prove nothing hangs.
STEP_TIMEOUT = 60.0
RUN_TIMEOUT = 120.0
DRIVER = "hw-faults-driver"  # the application_name of the driver processes' connections


@dataclass(frozen=True)
class Judged:
    """One run of the suite: its database, its faults (by kind) and what was found."""

    backend: str
    kinds: Counter[str]
    ended_correctly: bool
    lost: int
    twice: int


@dataclass
class Tally:
    """What the suite did and found, run by run."""

    runs: list[Judged] = field(default_factory=list)

    @staticmethod
    def _line(runs: list[Judged]) -> str:
        faults = sum(sum(r.kinds.values()) for r in runs)
        return (
            f"faults injected: {faults}, "
            f"runs ended correctly: {sum(r.ended_correctly for r in runs)}, "
            f"records lost: {sum(r.lost for r in runs)}, "
            f"tasks run twice: {sum(r.twice for r in runs)}"
        )

    def line(self) -> str:
        return self._line(self.runs)

    def details(self) -> list[str]:
        out = []
        for backend in sorted({r.backend for r in self.runs}):
            runs = [r for r in self.runs if r.backend == backend]
            out.append(f"  {backend} ({len(runs)} runs): {self._line(runs)}")
        kinds: Counter[str] = Counter()
        for r in self.runs:
            kinds.update(r.kinds)
        out.append(
            f"  {len(self.runs)} runs of {len(PATHS)} tasks; faults by kind: "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        )
        return out


TALLY = Tally()


@dataclass
class Mark:
    run: str
    path: str
    attempt: int
    pid: int
    event: str


@dataclass
class Verdict:
    status: str
    error: str | None
    ended_correctly: bool
    lost: list[str]
    twice: list[str]

    def explain(self) -> str:
        return (
            f"run {self.status} ({self.error}); lost: {self.lost or 'none'}; "
            f"run twice: {self.twice or 'none'}"
        )


@dataclass
class Proc:
    """A ``headwater`` process of the bench, its output in files."""

    name: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return f"--- {self.name}\n{self.out.read_text()}{self.err.read_text()}"


class FaultBench:
    """One test's Headwater home, database, processes and task marks."""

    def __init__(
        self, tmp_path: Path, backend: str, database_url: str | None, tally: Tally
    ) -> None:
        self.backend = backend
        self.tally = tally
        self.home, self.marks, self.logs = tmp_path / "home", tmp_path / "marks", tmp_path / "logs"
        for folder in (self.home, self.marks, self.logs):
            folder.mkdir()
        self.env = cli_env(self.home)
        self.env.update(
            HEADWATER_HEARTBEAT_SECONDS=HEARTBEAT_SECONDS,
            HEADWATER_HEARTBEAT_TIMEOUT=HEARTBEAT_TIMEOUT,
        )
        if database_url is not None:
            # The drivers' connections carry a name, so that a test can kill just those.
            self.env["HEADWATER_DATABASE_URL"] = f"{database_url}?application_name={DRIVER}"
        self.plain_database_url = (
            sa.make_url(database_url).set(drivername="postgresql").render_as_string(False)
            if database_url is not None
            else ""
        )
        self.view = {"HEADWATER_HOME": str(self.home)}
        if database_url is not None:
            self.view["HEADWATER_DATABASE_URL"] = database_url
        self.ws = Workspace.open(Settings.from_env(self.view))
        self.procs: list[Proc] = []
        self.judged = False
        # Tasks that had started and whose end was not recorded when a fault hit.
        self.in_flight: set[str] = set()
        self.kinds: Counter[str] = Counter()

    def use_artifact_root(self, root: Path) -> None:
        """Keep artifacts under ``root`` (for the processes started from now on)."""
        self.env["HEADWATER_ARTIFACT_ROOT"] = str(root)
        settings = Settings.from_env(
            {**{k: v for k, v in self.env.items() if k.startswith("HEADWATER_")}, **self.view}
        )
        self.ws.close()
        self.ws = Workspace.open(settings)

    # ------------------------------------------------------------------ processes

    def start(self, name: str, *args: str | Path) -> Proc:
        """``headwater ARGS`` in a session of its own, its output in files."""
        out, err = self.logs / f"{name}.out", self.logs / f"{name}.err"
        with out.open("wb") as o, err.open("wb") as e:
            popen = subprocess.Popen(
                [*headwater_command(), *(str(a) for a in args)],
                cwd=self.logs,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
                start_new_session=True,
            )
        proc = Proc(name, popen, out, err)
        self.procs.append(proc)
        return proc

    def run_cli(self, hold: tuple[str, ...] = POINTS) -> tuple[Proc, str]:
        """``headwater run`` of the pipeline; returns it and its run's id."""
        proc = self.start(
            "run",
            "run",
            PIPELINE_FILE,
            "-p",
            f"marks={self.marks}",
            "-p",
            f"hold={json.dumps(hold)}",
        )
        found: list[str] = []

        def recorded() -> bool:
            found[:] = [r.id for r in self.ws.store.runs.list_runs(pipeline=PIPELINE)]
            return bool(found) or proc.popen.poll() is not None

        self.wait(recorded, "the run to be recorded")
        assert found, self.explain()
        return proc, found[0]

    def resume(self, run_id: str) -> Proc:
        return self.start(f"resume-{len(self.procs)}", "resume", run_id)

    def scheduler(self) -> Proc:
        return self.start(f"scheduler-{len(self.procs)}", "scheduler", "--interval", "0.2")

    def standalone(self) -> Proc:
        name = f"standalone-{len(self.procs)}"
        return self.start(name, "standalone", "--port", str(free_port()))

    def deploy(self) -> None:
        with compile_root(str(PIPELINES)):
            spec = load_pipeline(f"{PIPELINE_FILE}:{PIPELINE}").compile()
        deploy(self.ws, spec, str(PIPELINES))

    def trigger(self, hold: tuple[str, ...] = POINTS) -> str:
        """Queue a run for a scheduler to drive (as the API does)."""
        from headwater.scheduler import trigger

        return trigger(self.ws, PIPELINE, {"marks": str(self.marks), "hold": list(hold)}).id

    def kill(self, proc: Proc) -> None:
        """SIGKILL the process itself (not its group), as the OOM killer or kill -9 would."""
        proc.popen.kill()
        proc.popen.wait(timeout=10)

    # ------------------------------------------------------------------ marks

    def marks_of(self, run_id: str) -> list[Mark]:
        path = self.marks / "marks.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # being written as we read
            run, task, attempt, pid, event = line.split()
            if run == run_id:
                out.append(Mark(run, task, int(attempt), int(pid), event))
        return out

    def wait_started(self, run_id: str, path: str, attempt: int = 1) -> int:
        """Wait until attempt ``attempt`` of ``path`` has started; its pid."""
        found: list[int] = []

        def started() -> bool:
            found[:] = [
                m.pid
                for m in self.marks_of(run_id)
                if (m.path, m.attempt, m.event) == (path, attempt, "start")
            ]
            return bool(found)

        self.wait(started, f"{path} (attempt {attempt}) of run {run_id} to start")
        return found[0]

    def release(self, path: str) -> None:
        """Let a held task go on (if its first attempt still runs)."""
        (self.marks / f"release-{path}").touch()

    def fault(self, run_id: str, kind: str) -> None:
        """Count a fault just injected, and what was in flight when it hit."""
        self.kinds[kind] += 1
        recorded = {
            a.path for a in self.ws.store.tasks.task_runs(run_id) if str(a.status) == "succeeded"
        }
        started = {m.path for m in self.marks_of(run_id) if m.event == "start"}
        self.in_flight |= started - recorded

    # ------------------------------------------------------------------ waiting

    def wait(self, condition: Any, what: str, timeout: float = STEP_TIMEOUT) -> None:
        """Poll ``condition()`` until it holds; fail (with every process's output) after
        ``timeout``, a bound that only proves nothing hangs."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{self.explain()}")
            time.sleep(0.02)

    def wait_ended(self, run_id: str) -> bool:
        """Wait for the run to end; False if it did not within the bound."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            if str(self.ws.store.runs.get_run(run_id).status) in DONE:
                return True
            time.sleep(0.05)
        return False

    def explain(self) -> str:
        return "\n".join(p.output() for p in self.procs)

    # ------------------------------------------------------------------ verdict

    def verdict(self, run_id: str, expect: str = "succeeded", reason: str | None = None) -> Verdict:
        """Judge the run after its faults, and count it in the suite's tally."""
        ended = self.wait_ended(run_id)
        record = self.ws.store.runs.get_run(run_id)
        attempts = self.ws.store.tasks.task_runs(run_id)
        marks = self.marks_of(run_id)
        completed = {(m.path, m.attempt) for m in marks if m.event == "end"}
        ends = Counter(m.path for m in marks if m.event == "end")
        status = str(record.status)
        lost = [
            f"{a.path} attempt {a.attempt} left {a.status}"
            for a in attempts
            if ended and str(a.status) in ("pending", "waiting", "queued", "running")
        ]
        lost += [
            f"{a.path} attempt {a.attempt} recorded succeeded, but its body never completed"
            for a in attempts
            if str(a.status) == "succeeded" and (a.path, a.attempt) not in completed
        ]
        succeeded = Counter(a.path for a in attempts if str(a.status) == "succeeded")
        if expect == "succeeded" and status == "succeeded":
            lost += [f"{p} has no succeeded attempt" for p in sorted(PATHS - set(succeeded))]
            total = Run(self.ws, run_id).outputs(FAN_IN)["output"]
            if total != expected_total():
                lost.append(f"fan_in added up {total}, not {expected_total()}")
        # A task may complete twice only if a fault hit it in flight: it had started by
        # then (its mark says so), or the engine recorded an attempt of it that ended
        # unsucceeded and ran another. The second catches the task that a killed worker
        # had just handed its process, whose start mark came a moment after the kill.
        retried = {
            a.path
            for a in attempts
            if str(a.status) not in ("succeeded", "pending", "waiting", "queued", "running")
            and any(b.path == a.path and b.attempt > a.attempt for b in attempts)
        }
        twice = [
            f"{p} completed {n} times"
            for p, n in sorted(ends.items())
            if n > (2 if p in self.in_flight | retried else 1)
        ]
        twice += [f"{p} succeeded {n} times" for p, n in sorted(succeeded.items()) if n > 1]
        # A run that failed as expected prints its tasks' tracebacks; one that succeeded
        # has no traceback anywhere.
        crashed = expect == "succeeded" and any(
            "Traceback" in p.err.read_text() for p in self.procs
        )
        correct = (
            ended
            and status == expect
            and (reason is None or reason in (record.error or ""))
            and not crashed
        )
        found = Verdict(status, record.error, correct, lost, twice)
        self._count(correct, len(lost), len(twice))
        return found

    def _count(self, correct: bool, lost: int, twice: int) -> None:
        self.judged = True
        self.tally.runs.append(Judged(self.backend, Counter(self.kinds), correct, lost, twice))

    def check(self, run_id: str, expect: str = "succeeded", reason: str | None = None) -> None:
        found = self.verdict(run_id, expect, reason)
        assert found.ended_correctly, found.explain() + "\n" + self.explain()
        assert not found.lost and not found.twice, found.explain()

    # ------------------------------------------------------------------ cleanup

    def kill_connections(self) -> int:
        """Terminate every PostgreSQL connection of the driver processes; how many."""
        with self.ws.store.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": DRIVER},
            ).all()
        return len(rows)

    def close(self) -> None:
        """Leave nothing running: every process of the bench, then any task process of
        its runs (tasks run in sessions of their own). A run that was never judged (the
        test failed before) counts as one that did not end correctly."""
        if self.kinds and not self.judged:
            self._count(False, 0, 0)
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)
        runs = {r.id for r in self.ws.store.runs.list_runs(limit=100)}
        for run_id in runs:
            for pid in {m.pid for m in self.marks_of(run_id)}:
                if alive(pid) and _runs_for(pid, run_id):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
        self.ws.close()


def _runs_for(pid: int, run_id: str) -> bool:
    """Whether process ``pid`` is a task process of run ``run_id``."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"HEADWATER_RUN_ID={run_id}\0".encode() in f.read()
    except OSError:
        return False


class Mount:
    """A small tmpfs, mounted at ``path``, that can be made read-only or filled up."""

    def __init__(self, path: Path, size: str = "1m") -> None:
        self.path = path
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.mounted = done.returncode == 0
        self.why_not = " ".join((done.stderr or done.stdout).split())

    def require(self) -> None:
        if not self.mounted:
            pytest.skip(f"cannot mount a tmpfs here ({self.why_not or 'mount failed'})")

    def read_only(self) -> None:
        """Make the artifact root read-only: remount it so, or (where nothing can be
        mounted) take away write permission, which stops everyone but root."""
        if self.mounted:
            # A file still open for writing there (a process of the run before, ending)
            # makes the remount "busy" for a moment: try again for a few seconds.
            deadline = time.monotonic() + 10
            while True:
                done = subprocess.run(
                    ["mount", "-o", "remount,ro", str(self.path)], capture_output=True, text=True
                )
                if done.returncode == 0:
                    return
                if "busy" not in done.stderr or time.monotonic() > deadline:
                    raise AssertionError(f"cannot remount {self.path} read-only: {done.stderr}")
                time.sleep(0.2)
        if os.geteuid() == 0:
            pytest.skip(
                f"cannot mount a tmpfs here ({self.why_not or 'mount failed'}), and a "
                "read-only folder does not stop root"
            )
        for folder, _, _ in os.walk(self.path):
            os.chmod(folder, 0o555)

    def fill(self) -> None:
        """Write to the file system until it has no space left."""
        self.require()
        with contextlib.suppress(OSError), open(self.path / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        else:
            for folder, _, _ in os.walk(self.path):
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o755)
