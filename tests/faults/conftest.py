"""Fault injection with real processes: SIGKILL of the engine, the task worker, a task,
``headwater standalone`` and ``headwater scheduler``; artifact roots that turn read-only
or fill up; PostgreSQL connections killed under a running engine.

Every test drives the 50-task pipeline of tests/pipelines/faults_flow.py (on SQLite and
on PostgreSQL), injects its faults at points where a chosen task is in flight, lets the
system recover the way an operator would (``headwater resume``, another scheduler) and
checks what the task bodies themselves wrote down against what the store recorded:

- *records lost*: a task of a run that succeeded without a succeeded attempt, an attempt
  left queued or running after its run ended, a success recorded for a body that never
  completed, or a fan-in total that misses a part;
- *tasks run twice*: a task whose body completed twice, other than one that was in
  flight (started, its end not yet recorded) at a fault, which may complete once more;
- the run ends, within a bound, as expected (succeeded; or failed with a clear reason).

At the end of the pytest run the suite prints one line to quote:
``faults injected: N, runs ended correctly: N, records lost: N, tasks run twice: N``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for folder in (HERE, TESTS / "engine", TESTS / "server", TESTS / "scheduler", TESTS / "pipelines"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fault_bench import TALLY, FaultBench, Mount, Tally  # noqa: E402
from store_backends import _empty, postgres_url  # noqa: E402, F401  (a fixture)


@pytest.fixture(scope="session")
def tally() -> Tally:
    """The suite's counts, printed at the end of the run."""
    return TALLY


def _bench(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> FaultBench:
    database_url = None
    if backend == "postgresql":
        database_url = str(request.getfixturevalue("postgres_url"))
        _empty(database_url)
    return FaultBench(tmp_path, backend, database_url, TALLY)


@pytest.fixture(params=["sqlite", "postgresql"])
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultBench]:
    """A Headwater home and database (SQLite, then PostgreSQL) for one test's processes;
    whatever they left running is killed after."""
    made = _bench(request, request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def pg_bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultBench]:
    """A bench on PostgreSQL only."""
    made = _bench(request, "postgresql", tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def small_root(tmp_path: Path) -> Iterator[Mount]:
    """A 1 MiB tmpfs to serve as the artifact root, unmounted after the test; a skip
    (saying why) where no file system can be mounted."""
    made = Mount(tmp_path / "artifacts")
    try:
        yield made
    finally:
        made.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.runs:
        return
    terminalreporter.section("fault injection")
    terminalreporter.write_line(TALLY.line())
    for line in TALLY.details():
        terminalreporter.write_line(line)
