"""Connecting to the metadata database and bringing its schema up to date."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from headwater.errors import StoreError

HEAD_REVISION = "0020"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL is a property of the file, set once by migrate() under its lock; switching
    # modes here, on every connection, would race other processes opening the file.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@contextmanager
def _file_lock(engine: sa.Engine) -> Iterator[None]:
    """Across processes, one migrator at a time for a SQLite file (a no-op elsewhere)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    with open(f"{path}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


#: What SQLAlchemy raises when the database itself failed (it went away, restarted, or
#: killed the connection): an operational fact to report in a line, not a bug.
DATABASE_FAILURES = (sa.exc.OperationalError, sa.exc.InterfaceError)


def failure_cause(exc: sa.exc.DBAPIError) -> str:
    """The first line of what the driver said about a database failure."""
    return (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


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
    from alembic.util.exc import CommandError

    with _lock, _file_lock(engine):
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Processes migrating at once: the next waits, then finds nothing to do.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7415290)"))
            elif _revision(conn) == HEAD_REVISION:
                return  # another process migrated while this one waited for the lock
            revision = _revision(conn)
            cfg = Config()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise StoreError(
                    f"the metadata database is at schema revision {revision!r}, which this "
                    f"version of Headwater does not know ({exc})",
                    hint="upgrade Headwater to the version that wrote this database, or point "
                    "HEADWATER_DATABASE_URL at another database",
                ) from None
