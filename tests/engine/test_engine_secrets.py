"""A pipeline whose tasks use a secret, a connection and a variable, run through the real
CLI on SQLite and PostgreSQL: the tasks get the values, and the values appear nowhere they
are stored (logs, errors, the database, the spec, the cache key)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from engine_helpers import cli_env, headwater_command, write_pipeline
from postgres_helpers import postgres_database

from headwater.engine import Workspace
from headwater.store._schema import metadata

SECRET = "hunter2-Pl41nText-4b1d"
PASSWORD = "p@ss:Wörd-77"
URI = f"postgresql://bob:{quote(PASSWORD, safe='')}@db.local:5432/wh?sslmode=require"

PIPELINE = """
import hashlib
import os
import subprocess
import sys

import headwater
from headwater import component, pipeline


@component(secrets=["api_token"], connections=["warehouse"], variables=["limits"])
def use(digest: str, password_digest: str) -> int:
    token = headwater.secret("api_token")
    assert hashlib.sha256(token.encode()).hexdigest() == digest
    assert os.environ["HEADWATER_SECRET_API_TOKEN"] == token
    conn = headwater.connection("warehouse")
    assert hashlib.sha256(conn.password.encode()).hexdigest() == password_digest
    assert (conn.type, conn.host, conn.port, conn.login, conn.schema) == (
        "postgres", "db.local", 5432, "bob", "wh"
    )
    assert conn.extras == {"sslmode": "require"}
    print("printing it on purpose:", token)
    print("the connection:", conn.uri, "and", os.environ["HEADWATER_CONN_WAREHOUSE"])
    sys.stdout.write("split across writes: " + token[:6])
    sys.stdout.flush()
    sys.stdout.write(token[6:] + " done\\n")
    sys.stdout.flush()
    sys.stderr.write(f"on stderr {token}\\n")
    subprocess.run(["echo", "a child process says", token], check=True)
    return headwater.variable("limits")["rows"]


@component(secrets=["api_token"], fresh_interpreter=True)
def fail() -> None:
    print("fresh interpreter:", headwater.secret("api_token"))
    raise RuntimeError("could not log in with " + headwater.secret("api_token"))


@pipeline
def secrets_flow(digest: str, password_digest: str):
    use(digest=digest, password_digest=password_digest)
    fail()


@component(secrets=["absent_token"])
def needs_absent() -> None:
    pass


@pipeline
def missing_flow():
    needs_absent()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, home: Path
) -> Iterator[str]:
    monkeypatch.delenv("HEADWATER_SECRET_KEY", raising=False)
    if request.param == "sqlite":
        yield f"sqlite:///{home / 'headwater.db'}"
        return
    with postgres_database("hw_secrets") as url:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
        yield url


def hw(cwd: Path, *args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*headwater_command(), *(str(a) for a in args)],
        cwd=cwd,
        env=cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_bytes(url: str) -> bytes:
    """The database as stored: the SQLite files, or a data dump of PostgreSQL."""
    if url.startswith("sqlite"):
        path = Path(sa.make_url(url).database or "")
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    plain = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    if pg_dump is not None:
        return subprocess.run(
            [pg_dump, "--data-only", plain], capture_output=True, check=True
        ).stdout
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        text = [
            str(v) for t in metadata.sorted_tables for r in conn.execute(sa.select(t)) for v in r
        ]
    engine.dispose()
    return "\n".join(text).encode()


def test_tasks_get_their_secrets_and_no_stored_place_holds_a_value(
    tmp_path: Path, home: Path, database: str
) -> None:
    file = write_pipeline(tmp_path, "secrets_flow", PIPELINE)
    assert (
        hw(tmp_path, "secrets", "set", "api_token", "--value-stdin", stdin=SECRET + "\n").returncode
        == 0
    )
    added = hw(tmp_path, "connections", "add", "warehouse", "--uri-stdin", stdin=URI)
    assert added.returncode == 0, added.stderr
    assert hw(tmp_path, "variables", "set", "limits", '{"rows": 7}').returncode == 0

    done = hw(
        tmp_path,
        "run",
        f"{file}:secrets_flow",
        "-p",
        f"digest={hashlib.sha256(SECRET.encode()).hexdigest()}",
        "-p",
        f"password_digest={hashlib.sha256(PASSWORD.encode()).hexdigest()}",
    )

    assert done.returncode != 0  # 'fail' fails on purpose
    assert SECRET not in done.stdout + done.stderr
    ws = Workspace.open()
    try:
        [run] = ws.store.runs.list_runs()
        attempts = {a.path: a for a in ws.store.tasks.task_runs(run.id)}
        assert attempts["use"].status.value == "succeeded", attempts["use"].error
        assert attempts["fail"].status.value == "failed"
        assert "could not log in with ***" in (attempts["fail"].error or "")
        logs = {name: Path(a.log_path or "").read_text() for name, a in attempts.items()}
        version = ws.store.pipelines.get_version(run.version_id)
    finally:
        ws.close()
    use_log = logs["use"]
    assert "printing it on purpose: ***" in use_log
    assert "split across writes: *** done" in use_log
    assert "on stderr ***" in use_log
    assert "a child process says ***" in use_log
    assert "postgresql://bob:***@db.local:5432/wh?sslmode=require" in use_log
    assert "fresh interpreter: ***" in logs["fail"]
    assert "could not log in with ***" in logs["fail"]
    for text in logs.values():
        assert SECRET not in text and PASSWORD not in text
    # Names only in the spec; neither value in the cache key, the run or anything stored.
    spec = json.dumps(version.spec)
    assert '"api_token"' in spec and SECRET not in spec and PASSWORD not in spec
    assert SECRET not in str(attempts["use"].cache_key)
    stored = stored_bytes(database)
    assert SECRET.encode() not in stored
    assert PASSWORD.encode() not in stored and PASSWORD.encode("utf-8") not in stored
    assert b"api_token" in stored
    compiled = hw(tmp_path, "compile", f"{file}:secrets_flow")
    assert SECRET not in compiled.stdout


def test_a_missing_secret_refuses_the_run_before_it_is_created(
    tmp_path: Path, home: Path, database: str
) -> None:
    file = write_pipeline(tmp_path, "secrets_missing_flow", PIPELINE)

    done = hw(tmp_path, "run", f"{file}:missing_flow")

    assert done.returncode == 1
    assert "needs secret 'absent_token'" in done.stderr
    assert "headwater secrets set absent_token --value-stdin" in done.stderr
    assert "Traceback" not in done.stderr
    ws = Workspace.open()
    try:
        assert ws.store.runs.list_runs() == []
    finally:
        ws.close()


def test_a_secret_deleted_after_the_run_was_created_fails_the_task_naming_it(
    tmp_path: Path, home: Path, database: str
) -> None:
    from headwater.engine import create_run, execute_run
    from headwater.sdk import load_pipeline

    file = write_pipeline(tmp_path, f"secrets_deleted_{os.urandom(4).hex()}", PIPELINE)
    ws = Workspace.open()
    try:
        ws.store.secrets.set("absent_token", "soon gone")
        spec = load_pipeline(f"{file}:missing_flow").compile()
        run = create_run(ws, spec, {}, source_root=str(tmp_path))
        ws.store.secrets.delete("absent_token")
        execute_run(ws, run)
        [attempt] = ws.store.tasks.task_runs(run.id)
    finally:
        ws.close()
    assert attempt.status.value == "failed"
    assert "secret 'absent_token'" in (attempt.error or "")
    assert "headwater secrets set absent_token" in (attempt.error or "")


def test_a_wrong_key_fails_the_task_naming_the_secret_without_a_traceback(
    tmp_path: Path, home: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    file = write_pipeline(tmp_path, "secrets_wrong_key_flow", PIPELINE)
    stored = hw(tmp_path, "secrets", "set", "absent_token", "--value-stdin", stdin=SECRET)
    assert stored.returncode == 0, stored.stderr
    monkeypatch.setenv("HEADWATER_SECRET_KEY", Fernet.generate_key().decode())

    done = hw(tmp_path, "run", f"{file}:missing_flow")

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    ws = Workspace.open()
    try:
        [run] = ws.store.runs.list_runs()
        [attempt] = ws.store.tasks.task_runs(run.id)
    finally:
        ws.close()
    assert attempt.status.value == "failed"
    assert "secret 'absent_token' cannot be decrypted" in (attempt.error or "")
    assert "HEADWATER_SECRET_KEY" in (attempt.error or "")
