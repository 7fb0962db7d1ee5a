"""Workspaces on SQLite and PostgreSQL for scheduler tests that touch the store.

``ws`` runs a test twice, ``[sqlite]`` on a fresh file and ``[postgresql]`` on a
database created for the test module and emptied before each test. PostgreSQL comes
from ``HEADWATER_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
when it cannot be reached those tests are skipped, except under CI, where they fail
(as in tests/store). Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from headwater.engine import Workspace
from headwater.store import create_engine, migrate
from headwater.store._schema import metadata

ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for one test module, dropped at its end."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}: {exc}")
    name = f"hw_sched_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = (
        sa.make_url(ADMIN_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    engine = create_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _empty(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def use_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HEADWATER_HOME (SQLite, artifacts, logs) under ``tmp_path``."""
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    """A workspace on a fresh SQLite file, or on the emptied PostgreSQL database."""
    use_home(tmp_path, monkeypatch)
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        _empty(url)
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    opened = Workspace.open()
    yield opened
    opened.close()
