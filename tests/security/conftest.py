"""The hostile-input suite: every API route fed input no well-behaved client sends, on
SQLite (``headwater standalone``) and PostgreSQL (``headwater server``), both real
subprocesses started with tests/server's helpers.

Each test asks for ``target``: a server over a fresh database holding two users (the
admin whose token sends the hostile requests, and a bystander whose token checks that
the lists still answer), a deployed scheduled pipeline (paused, so that nothing is
created behind the tests' back), the pipelines of tests/pipelines/server_api.py, and a
pool. At the end of the run the suite prints, per database, how many hostile inputs it
sent and how they were answered, e.g.::

    hostile inputs (sqlite): 1234 tried, 1000 answered 4xx with nothing created, 0 5xx
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "server", HERE.parent / "pipelines"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from hostile_inputs import TALLIES, Tally, Target  # noqa: E402
from server_helpers import home_of, postgres_database, start_standalone  # noqa: E402

PIPELINES = HERE.parent / "pipelines"
SCHEDULED = """
from headwater import component, pipeline


@component
def stamp(day: str) -> str:
    return day


@pipeline(schedule="@daily", start_date="2024-01-01", catchup=False)
def hostile_daily(day: str = "{{ ds }}"):
    stamp(day=day)
"""


def _prepare(folder: Path, database_url: str | None) -> tuple[str, str]:
    """Users, tokens, pipelines and a pool in a fresh store; returns the two tokens."""
    from headwater._config import Settings
    from headwater.engine import Workspace, deploy
    from headwater.sdk import compile_root, load_pipeline

    _, env = home_of(folder, database_url)
    # One file for both databases: a pipeline module is imported once per process.
    source = folder.parent / "hostile_daily.py"
    if not source.exists():
        source.write_text(SCHEDULED)
    ws = Workspace.open(Settings.from_env(env))
    try:
        ws.store.auth.create_user("admin", "owner")
        _, admin = ws.store.auth.create_token("admin", "hostile")
        ws.store.auth.create_user("bystander")
        ws.store.namespaces.set_member("default", "bystander", "editor")
        _, bystander = ws.store.auth.create_token("bystander", "lists")
        for file, name in [
            (source, "hostile_daily"),
            (PIPELINES / "server_api.py", "server_report"),
            (PIPELINES / "server_api.py", "server_sleepy"),
        ]:
            with compile_root(str(file.parent)):
                spec = load_pipeline(f"{file}:{name}").compile()
            deploy(ws, spec, str(file.parent))
        ws.store.schedules.set_paused("hostile_daily", True)
        ws.store.pools.set_pool("hostile-pool", 2, "a pool")
    finally:
        ws.close()
    return admin, bystander


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    database = str(request.param)
    with ExitStack() as stack:
        url = (
            stack.enter_context(postgres_database("hw_test_security"))
            if database == "postgresql"
            else None
        )
        folder = tmp_path_factory.mktemp(f"hostile-{database}")
        admin, bystander = _prepare(folder, url)
        command = "standalone" if database == "sqlite" else "server"
        api = stack.enter_context(
            start_standalone(folder, database_url=url, command=command, token=admin)
        )
        other = stack.enter_context(api.anonymous(bystander))
        yield Target(database, api, other, TALLIES.setdefault(database, Tally()))


@pytest.fixture(autouse=True)
def nothing_changes(target: Target) -> Iterator[None]:
    """Each test: no new failure in the tally, the database as it was, the lists
    answering for the bystander."""
    failures = len(target.tally.failures)
    before = target.api.snapshot()
    yield
    new = target.tally.failures[failures:]
    assert not new, f"{len(new)} hostile request(s) badly answered:\n" + "\n".join(new[:20])
    after = target.api.snapshot()
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    assert not changed, f"hostile requests changed the database: {changed}"
    target.lists_answer()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLIES:
        return
    terminalreporter.section("hostile inputs")
    total = Tally()
    for database, tally in sorted(TALLIES.items()):
        terminalreporter.write_line(tally.line(database))
        total.counts.update(tally.counts)
    if len(TALLIES) > 1:
        terminalreporter.write_line(total.line("all databases"))
