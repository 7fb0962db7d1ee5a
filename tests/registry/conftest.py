"""The model registry is tested on real runs, in a fresh Headwater home per test, on SQLite
and on PostgreSQL (``backend``: a fresh database; skipped when no server answers, except
under CI, where the test fails)."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
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
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs recorded in the home's SQLite database, or in a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    name = f"hw_reg_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    monkeypatch.setenv(
        "HEADWATER_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    )
    try:
        yield "postgresql"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def ws(home: Path) -> Iterator[object]:
    """The store of this test's home (after ``backend``, when a test asks for both)."""
    from headwater.engine import Workspace

    opened = Workspace.open()
    yield opened
    opened.close()
