"""Alembic migrations of the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from headwater.errors import StoreError
from headwater.store import MetadataStore, create_engine, migrate
from headwater.store._db import HEAD_REVISION, current_revision
from headwater.store._schema import metadata

TABLES = {
    "pipelines",
    "pipeline_versions",
    "runs",
    "task_runs",
    "artifacts",
    "lineage_events",
    "metrics",
    "source_files",
    "schedules",
    "users",
    "api_tokens",
    "pools",
    "assets",
    "asset_events",
    "asset_triggers",
    "uri_roots",
    "notifications",
    "studies",
    "study_journal",
    "study_trials",
    "registered_models",
    "model_versions",
    "model_aliases",
    "model_alias_history",
    "deployments",
    "deployment_revisions",
    "deployment_serving",
    "namespaces",
    "memberships",
    "secrets",
    "connections",
    "variables",
    "audit_events",
}


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(empty_db_url)
    yield engine
    engine.dispose()


def test_the_schema_module_defines_the_core_tables() -> None:
    assert set(metadata.tables) == TABLES


def test_migrate_creates_every_table_with_every_column(engine: sa.Engine) -> None:
    assert current_revision(engine) is None

    migrate(engine)

    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == TABLES | {"alembic_version"}
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    assert current_revision(engine) == HEAD_REVISION


def test_migrations_build_exactly_the_tables_the_code_defines(engine: sa.Engine) -> None:
    migrate(engine)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_every_table_has_a_namespace_defaulting_to_default(engine: sa.Engine) -> None:
    migrate(engine)

    inspector = sa.inspect(engine)
    for name in TABLES:
        [column] = [c for c in inspector.get_columns(name) if c["name"] == "namespace"]
        assert column["nullable"] is False, name
        assert "'default'" in str(column["default"]), (name, column["default"])


def test_migrate_twice_is_a_no_op(engine: sa.Engine, empty_db_url: str) -> None:
    migrate(engine)
    store = MetadataStore(engine)
    version = store.pipelines.register_version("train", None, "sha256:v", {"tasks": {}}, None)
    run = store.runs.create_run(version, {"a": 1})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        migrate(engine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    writes = [
        s for s in statements if s.lstrip().split(None, 1)[0].upper() not in ("SELECT", "PRAGMA")
    ]
    assert writes == [], "the second migrate() changed the database"
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [HEAD_REVISION]
    assert store.runs.get_run(run.id) == run
    # Opening the store again (which migrates) keeps everything too.
    again = MetadataStore.open(empty_db_url)
    try:
        assert again.runs.get_run(run.id) == run
    finally:
        again.close()


def _open_together(url: str, threads: int) -> list[str]:
    """Open the store on ``url`` from ``threads`` threads at once; the errors, if any."""
    barrier = threading.Barrier(threads)
    opened: list[MetadataStore] = []
    failures: list[str] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(MetadataStore.open(url))
        except Exception as exc:  # collected and asserted by the caller
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    workers = [threading.Thread(target=open_store) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for store in opened:
        assert current_revision(store.engine) == HEAD_REVISION
        store.close()
    return failures


def test_threads_opening_a_new_database_at_once(
    backend: str, new_database: Callable[[], str]
) -> None:
    """Threads of one process (a server and its scheduler, say) opening the store
    on a new database together. The race is narrow, so it is run many times."""
    threads = 4
    rounds = 30 if backend == "sqlite" else 3
    failures = [f for _ in range(rounds) for f in _open_together(new_database(), threads)]
    assert failures == [], f"{len(failures)} of {rounds * threads} opens failed"


_MIGRATE_AT = """
import sys, time
import alembic.command, alembic.config  # imported up front: every process is ready at once
from headwater.store import create_engine, migrate
engine = create_engine(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
migrate(engine)
"""


def test_processes_migrating_at_once_do_not_fail(empty_db_url: str, tmp_path: Path) -> None:
    """Two headwater processes (a scheduler and a `headwater run`, say) opening a new
    database at the same moment: one migrates, the other finds nothing to do."""
    start = time.time() + 3  # after every process has imported headwater
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AT, empty_db_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        if process.returncode != 0:
            errors = [line for line in err.splitlines() if "Error" in line]
            failures.append(errors[-1] if errors else err[-500:])
    assert failures == [], f"{len(failures)} of {len(processes)} migrations failed"

    engine = create_engine(empty_db_url)
    try:
        assert current_revision(engine) == HEAD_REVISION
        assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_database_at_an_unknown_revision_is_a_store_error(engine: sa.Engine) -> None:
    """A database a newer headwater migrated: say so, rather than an Alembic traceback."""
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(StoreError, match="9999"):
        migrate(engine)


def test_an_unreachable_sqlite_database_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    engine = create_engine(f"sqlite:///{folder}")
    try:
        with pytest.raises(StoreError, match="cannot open the metadata database") as info:
            migrate(engine)
    finally:
        engine.dispose()
    assert str(folder) in str(info.value)
    assert info.value.hint and "HEADWATER_DATABASE_URL" in info.value.hint


def test_an_unreachable_postgres_database_is_a_store_error(postgres: Any) -> None:
    url = postgres.url(f"{postgres.prefix}_never_created")
    engine = create_engine(url)
    try:
        with pytest.raises(StoreError, match="never_created") as info:
            migrate(engine)
    finally:
        engine.dispose()
    assert info.value.hint and "HEADWATER_DATABASE_URL" in info.value.hint


def test_create_engine_accepts_a_plain_postgresql_url(postgres_store_url: str) -> None:
    plain = postgres_store_url.replace("postgresql+psycopg://", "postgresql://", 1)
    engine = create_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_create_engine_makes_the_sqlite_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "home" / "nested" / "headwater.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert path.exists()


def test_0007_confines_the_runs_a_server_created_before_it(engine: sa.Engine) -> None:
    """Runs queued through a server before URI roots existed are driven confined after the
    upgrade; runs a user started with 'headwater run' ('manual') are not."""
    with engine.begin() as conn:
        _upgrade_to(conn, "0006")
        stamp = "2026-01-01 00:00:00"
        conn.execute(
            sa.text("INSERT INTO pipelines (id, name, created_at) VALUES ('p', 'p', :t)"),
            {"t": stamp},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_versions (id, pipeline_id, digest, spec, created_at) "
                "VALUES ('v', 'p', 'd', '{}', :t)"
            ),
            {"t": stamp},
        )
        for run_id, trigger in (("r-manual", "manual"), ("r-api", "api"), ("r-sched", "schedule")):
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, pipeline_id, version_id, status, parameters, trigger, "
                    "created_at) VALUES (:id, 'p', 'v', 'queued', '{}', :trigger, :t)"
                ),
                {"id": run_id, "trigger": trigger, "t": stamp},
            )
    migrate(engine)
    with engine.connect() as conn:
        confined = dict(conn.execute(sa.text("SELECT id, confined FROM runs")).all())
    assert {k: bool(v) for k, v in confined.items()} == {
        "r-manual": False,
        "r-api": True,
        "r-sched": True,
    }


def _upgrade_to(conn: sa.Connection, revision: str) -> None:
    """Migrate the database on ``conn`` up to ``revision`` only (to write rows as they
    were before a later migration)."""
    from alembic import command
    from alembic.config import Config

    from headwater.store._db import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def test_0011_puts_earlier_runs_in_their_pipelines_experiment(engine: sa.Engine) -> None:
    """Runs made before experiments existed belong to the experiment named after their
    pipeline, as a new run does by default."""
    with engine.begin() as conn:
        _upgrade_to(conn, "0010")
        stamp = "2026-01-01 00:00:00"
        for pid in ("train", "score"):
            conn.execute(
                sa.text("INSERT INTO pipelines (id, name, created_at) VALUES (:p, :p, :t)"),
                {"p": pid, "t": stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO pipeline_versions (id, pipeline_id, digest, spec, created_at) "
                    "VALUES (:v, :p, 'd', '{}', :t)"
                ),
                {"v": f"v-{pid}", "p": pid, "t": stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, pipeline_id, version_id, status, parameters, "
                    "created_at) VALUES (:r, :p, :v, 'succeeded', '{}', :t)"
                ),
                {"r": f"r-{pid}", "p": pid, "v": f"v-{pid}", "t": stamp},
            )
    migrate(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text("SELECT id, experiment FROM runs")).all())
    assert found == {"r-train": "train", "r-score": "score"}
    store = MetadataStore(engine)
    assert [r.id for r in store.runs.list_runs(experiment="score")] == ["r-score"]


def test_0015_marks_each_attempts_last_point_of_a_metric_final(engine: sa.Engine) -> None:
    """Points logged before 0015: the last of each key of each attempt is its final value,
    so comparing old runs shows what it showed before."""
    with engine.begin() as conn:
        _upgrade_to(conn, "0014")
        stamp = "2026-01-01 00:00:00"
        conn.execute(
            sa.text("INSERT INTO pipelines (id, name, created_at) VALUES ('p', 'p', :t)"),
            {"t": stamp},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pipeline_versions (id, pipeline_id, digest, spec, created_at) "
                "VALUES ('v', 'p', 'd', '{}', :t)"
            ),
            {"t": stamp},
        )
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, pipeline_id, version_id, status, parameters, "
                "created_at, experiment) VALUES ('r', 'p', 'v', 'succeeded', '{}', :t, 'p')"
            ),
            {"t": stamp},
        )
        for tid, attempt in (("t1", 1), ("t2", 2)):
            conn.execute(
                sa.text(
                    "INSERT INTO task_runs (id, run_id, path, task, component, attempt, "
                    "status, created_at) VALUES (:i, 'r', 'train', 'train', 'c', :a, "
                    "'succeeded', :t)"
                ),
                {"i": tid, "a": attempt, "t": stamp},
            )
        points = [("t1", "loss", 0.9), ("t1", "loss", 0.5), ("t2", "loss", 0.4)]
        points += [("t2", "accuracy", 0.7), ("t2", "loss", 0.2), ("t2", "accuracy", 0.8)]
        for tid, key, value in points:
            conn.execute(
                sa.text(
                    "INSERT INTO metrics (run_id, task_run_id, key, value, logged_at) "
                    "VALUES ('r', :i, :k, :v, :t)"
                ),
                {"i": tid, "k": key, "v": value, "t": stamp},
            )
    migrate(engine)
    with engine.connect() as conn:
        final = conn.execute(
            sa.text("SELECT task_run_id, key, value FROM metrics WHERE final ORDER BY id")
        ).all()
    assert [tuple(row) for row in final] == [
        ("t1", "loss", 0.5),
        ("t2", "loss", 0.2),
        ("t2", "accuracy", 0.8),
    ]
    found = MetadataStore(engine).experiments.compare(experiment="p")
    assert found.rows[0].metrics == {"loss": 0.2, "accuracy": 0.8}


def test_0016_makes_admins_owners_users_editors_and_lists_the_namespaces_in_use(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        _upgrade_to(conn, "0015")
        stamp = "2026-01-01 00:00:00"
        for uid, ns, role in (("u1", "default", "admin"), ("u2", "default", "user")):
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, namespace, name, role, created_at) "
                    "VALUES (:i, :n, :i, :r, :t)"
                ),
                {"i": uid, "n": ns, "r": role, "t": stamp},
            )
        conn.execute(
            sa.text(
                "INSERT INTO pipelines (id, namespace, name, created_at) "
                "VALUES ('p', 'team-b', 'p', :t)"
            ),
            {"t": stamp},
        )
    migrate(engine)
    store = MetadataStore(engine)
    assert store.namespaces.names() == ["default", "team-b"]
    users = {u.name: u.role for u in store.auth.list_users()}
    assert users == {"u1": "owner", "u2": "member"}
    assert store.namespaces.roles_of("u2") == {"default": "editor"}
    assert store.namespaces.roles_of("u1") == {}


def test_0020_keeps_earlier_asset_events_as_task_events(engine: sa.Engine) -> None:
    """Events recorded before 0020 (all of them a task's) read back as task events with
    no source or metadata; an external event can then be recorded next to them."""
    stamp = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        _upgrade_to(conn, "0018")
        for sql in (
            "INSERT INTO pipelines (id, name, created_at) VALUES ('p', 'p', :t)",
            "INSERT INTO pipeline_versions (id, pipeline_id, digest, spec, created_at) "
            "VALUES ('v', 'p', 'd', '{}', :t)",
            "INSERT INTO runs (id, pipeline_id, version_id, status, parameters, created_at, "
            "experiment) VALUES ('r', 'p', 'v', 'succeeded', '{}', :t, 'p')",
            "INSERT INTO task_runs (id, run_id, path, task, component, attempt, status, "
            "created_at) VALUES ('t', 'r', 'make', 'make', 'c', 1, 'succeeded', :t)",
            "INSERT INTO assets (id, name, created_at) VALUES ('a', 'lake://orders', :t)",
            "INSERT INTO asset_events (asset_id, run_id, task_run_id, created_at) "
            "VALUES ('a', 'r', 't', :t)",
        ):
            conn.execute(sa.text(sql), {"t": stamp})
    migrate(engine)
    store = MetadataStore(engine)
    (old,) = store.assets.asset_events()
    assert (old.kind, old.source, old.metadata, old.task_run_id) == ("task", None, None, "t")
    new = store.assets.record_external_event("lake://orders", source="sensor", metadata={"rows": 3})
    assert [(e.id, e.kind, e.metadata) for e in store.assets.asset_events()] == [
        (new.id, "external", {"rows": 3}),
        (old.id, "task", None),
    ]
