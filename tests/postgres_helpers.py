"""A fresh PostgreSQL database for a test, shared by every test folder that runs on both
SQLite and PostgreSQL.

The server is ``HEADWATER_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). When it cannot be reached the test is
skipped, except under CI (``CI`` set), where it fails: PostgreSQL tests must run there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database (SQLAlchemy URL), dropped afterwards; skipped when the
    server is unreachable, except under CI, where the test fails."""
    import psycopg
    from psycopg import sql

    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        where = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
        reason = f"PostgreSQL at {where} is not reachable ({type(exc).__name__}: {exc})"
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the PostgreSQL tests must run. Start the server or "
                "point HEADWATER_TEST_POSTGRES_URL at one.",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set HEADWATER_TEST_POSTGRES_URL to run them")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
