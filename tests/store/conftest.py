"""One store test suite, run against SQLite and PostgreSQL alike.

Every test that takes ``store`` (or ``db_url``) runs twice: ``[sqlite]`` on a fresh
file, ``[postgresql]`` on a database created for this test session, emptied before
each test. Tests that need a database no migration has touched take ``empty_db_url``
(or ``new_database`` for several).

PostgreSQL comes from ``HEADWATER_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``; any database there will do, it is
only used to create and drop ``hw_test_*`` databases). When it cannot be reached the
PostgreSQL tests are skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from headwater.states import TaskStatus
from headwater.store import (
    MetadataStore,
    RunRecord,
    TaskRunRecord,
    VersionRecord,
    create_engine,
    migrate,
)
from headwater.store._schema import metadata

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
USER_TABLES = [table.name for table in metadata.sorted_tables]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them all at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"hw_test_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)

    def url(self, name: str, **query: str) -> str:
        """The SQLAlchemy URL of database ``name`` on the test server."""
        url = sa.make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        if query:
            url = url.update_query_dict(query)
        return url.render_as_string(hide_password=False)

    def create(self) -> str:
        """A new empty database; returns its name."""
        name = f"{self.prefix}_{len(self.created)}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """The PostgreSQL test server, or a skip (outside CI) / failure (in CI) saying why not."""
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        where = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
        why = " ".join(str(exc).split())
        reason = f"PostgreSQL at {where} is not reachable ({exc.__class__.__name__}: {why})"
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the PostgreSQL half of the store suite must run. "
                "Start the server or point HEADWATER_TEST_POSTGRES_URL at one.",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set HEADWATER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    databases = PostgresDatabases(POSTGRES_URL)
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture(scope="session")
def postgres_store_url(postgres: PostgresDatabases) -> str:
    """One migrated database for the whole session; ``db_url`` empties it before each test."""
    url = postgres.url(postgres.create())
    engine = create_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
            names = ", ".join(f'"{name}"' for name in USER_TABLES)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with no rows in it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'headwater.db'}"
        engine = create_engine(url)
        try:
            migrate(engine)
        finally:
            engine.dispose()
        return url
    url = str(request.getfixturevalue("postgres_store_url"))
    _empty_postgres(url)
    return url


NewDatabase = Callable[[], str]


@pytest.fixture
def new_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[NewDatabase]:
    """``new_database()``: the URL of another database that no migration has touched
    (a new file, or a new PostgreSQL database dropped after the test)."""
    made: list[str] = []
    files = itertools.count()

    def new() -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'fresh-{next(files)}' / 'headwater.db'}"
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        made.append(postgres.create())
        return postgres.url(made[-1])

    yield new
    if made:
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        for name in made:
            postgres.drop(name)


@pytest.fixture
def empty_db_url(new_database: NewDatabase) -> str:
    """A database that no migration has touched."""
    return new_database()


@pytest.fixture
def store(db_url: str) -> Iterator[MetadataStore]:
    opened = MetadataStore.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def other_namespace(db_url: str, store: MetadataStore) -> Iterator[MetadataStore]:
    """The same database opened a second time, for namespace ``team-b``."""
    opened = MetadataStore.open(db_url, namespace="team-b")
    yield opened
    opened.close()


SPEC: dict[str, Any] = {
    "schema_version": "1",
    "name": "train",
    "tasks": {"load": {"component": "load"}, "fit": {"component": "fit", "after": ["load"]}},
    "params": {"lr": 0.01, "layers": [64, 32], "note": "ünïcode"},
}


@pytest.fixture
def version(store: MetadataStore) -> VersionRecord:
    return store.pipelines.register_version(
        "train", "trains a model", "sha256:v1", SPEC, "/src/train"
    )


@pytest.fixture
def run(store: MetadataStore, version: VersionRecord) -> RunRecord:
    return store.runs.create_run(version, {"lr": 0.1})


StartTask = Callable[..., TaskRunRecord]


@pytest.fixture
def start_task(store: MetadataStore) -> StartTask:
    """``start_task(run_id, path, ...)``: an attempt walked pending -> queued -> running,
    as the engine does, read back from the store."""

    def start(
        run_id: str,
        path: str,
        *,
        attempt: int = 1,
        cache_key: str | None = None,
        input_artifacts: list[tuple[str, str]] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> TaskRunRecord:
        task = path.rsplit(".", 1)[-1]
        record = store.tasks.add_task_run(
            run_id,
            path,
            task,
            f"{task}-component",
            attempt,
            TaskStatus.QUEUED,
            inputs=inputs,
            cache_key=cache_key,
            input_artifacts=input_artifacts or [],
        )
        store.tasks.update_task_run(record.id, TaskStatus.QUEUED, TaskStatus.RUNNING, pid=4242)
        return store.tasks.get_task_run(record.id)

    return start


CountRows = Callable[[str], int]


@pytest.fixture
def count_rows(store: MetadataStore) -> CountRows:
    """``count_rows(table)``: how many rows ``table`` holds, in every namespace."""

    def count(table: str) -> int:
        with store.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
            )

    return count
