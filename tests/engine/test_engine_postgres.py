"""The engine on PostgreSQL: the same runs, recorded in a real PostgreSQL database."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import engine_flow
import psycopg
import pytest
from psycopg import sql

import headwater
from headwater.states import RunStatus, TaskStatus

ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database for this test, as HEADWATER_DATABASE_URL."""
    name = f"hw_engine_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_a_run_with_loops_and_trigger_rules_on_postgresql(postgres: str) -> None:
    run = headwater.run(engine_flow.engine_nested_loops)
    assert run.status is RunStatus.SUCCEEDED, run.tasks
    assert all(t.status is TaskStatus.SUCCEEDED for t in run.tasks.values())

    failing = headwater.run(engine_flow.engine_triggers)
    assert failing.status is RunStatus.FAILED
    states = {path: t.status for path, t in failing.tasks.items()}
    assert TaskStatus.UPSTREAM_FAILED in states.values()

    again = headwater.run(engine_flow.engine_nested_loops)
    assert again.status is RunStatus.SUCCEEDED
    assert {t.status for t in again.tasks.values()} == {TaskStatus.CACHED}
    assert again.id != run.id
