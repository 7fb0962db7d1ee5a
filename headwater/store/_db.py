"""Connecting to the metadata database and bringing its schema up to date."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from headwater.errors import HeadwaterError

HEAD_REVISION = "0001"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_lock = threading.Lock()


class StoreError(HeadwaterError):
    """The metadata store cannot be reached or is at an unknown schema version."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``: SQLite in WAL mode (its folder created), or PostgreSQL."""
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: sa.Engine) -> None:
    """Upgrade the schema to the newest migration; cheap when it is already there."""
    try:
        if current_revision(engine) == HEAD_REVISION:
            return
    except sa.exc.OperationalError as exc:
        raise StoreError(
            f"cannot open the metadata database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}",
            hint="check HEADWATER_DATABASE_URL, or unset it to use SQLite under HEADWATER_HOME",
        ) from None
    from alembic import command
    from alembic.config import Config

    with _lock, engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two processes migrating at once: the second waits, then finds nothing to do.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7415290)"))
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
