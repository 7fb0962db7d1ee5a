"""Tuning tests run real studies: real runs in real task processes, on a real store.

Each test gets its own ``HEADWATER_HOME``. A test that takes ``database`` runs twice:
``[sqlite]`` in that home, ``[postgresql]`` on a database created for it (from
``HEADWATER_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
skipped when unreachable, except under CI, where it fails). The pipelines in
tuning_flow.py are importable by name.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Headwater home for every test (database, artifacts, logs)."""
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_GPUS"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The store's backend for this test: the home's SQLite file, or a new PostgreSQL
    database (as HEADWATER_DATABASE_URL)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}: {exc}")
    name = f"hw_tuning_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = (
        sa.make_url(ADMIN_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    try:
        yield "postgresql"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
