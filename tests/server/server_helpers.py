"""A real ``headwater standalone`` (or ``headwater server``) in a subprocess, and what
tests do with it.

:func:`start_standalone` starts one on a free port with its own ``HEADWATER_HOME``,
reads the admin token it prints on its first start, waits for /api/v1/health, and
stops it (SIGINT, then SIGKILL of its process group) when the block ends. A server
whose log shows an unhandled exception in a route fails the test that started it (for
the shared server, the last test of the session): every error the API gives must be
a 4xx with a message, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from postgres_helpers import POSTGRES_URL, in_ci, postgres_database  # noqa: F401 (shared)

from headwater.store import MetadataStore

HEADWATER = Path(sys.executable).with_name("headwater")
DONE = ("succeeded", "failed", "cancelled")
UNHANDLED = "Exception in ASGI application"
_TOKEN = re.compile(r"admin token \(shown once; keep it\):\s*\n\s*(hw_\S+)")
# Columns that a read may change: a token's last use is stamped as it authenticates.
VOLATILE = {"api_tokens": {"last_used_at"}}
# Tables that every mutating request adds to, refused or not: the audit log.
APPEND_ONLY = {"audit_events"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """This process's environment, minus Headwater's, with ``home`` as HEADWATER_HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADWATER_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE")
    }
    env.update(
        HEADWATER_HOME=str(home),
        NO_COLOR="1",
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if database_url is not None:
        env["HEADWATER_DATABASE_URL"] = database_url
    return env


class Standalone:
    """A running server: its URL, admin token, home, and a client logged in as admin."""

    def __init__(
        self,
        url: str,
        token: str | None,
        home: Path,
        env: dict[str, str],
        process: subprocess.Popen[bytes],
        log: Path,
    ) -> None:
        self.url = url
        self.token = token
        self.home = home
        self.env = env
        self.process = process
        self.log = log
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)
        self._engine: sa.Engine | None = None
        self._tables = sa.MetaData()

    @property
    def database_url(self) -> str:
        return self.env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{self.home / 'headwater.db'}"

    @contextlib.contextmanager
    def store(self) -> Iterator[MetadataStore]:
        """The server's metadata store, opened from this process."""
        opened = MetadataStore.open(self.database_url)
        try:
            yield opened
        finally:
            opened.close()

    def anonymous(self, token: str | None = None) -> httpx.Client:
        """A client with ``token`` (or none at all)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def cli(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real ``headwater`` command, on this server's home and database."""
        return run_cli({**self.env, **(env or {})}, *args)

    def deploy(self, path: Path, pipeline: str | None = None) -> str:
        """``headwater deploy path[:pipeline]``; returns the version id."""
        return version_id(self.cli("deploy", f"{path}:{pipeline}" if pipeline else path))

    def trigger(self, pipeline: str, **parameters: Any) -> dict[str, Any]:
        r = self.http.post(f"/api/v1/pipelines/{pipeline}/runs", json={"parameters": parameters})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def trigger_raw(self, pipeline: str, **parameters: Any) -> httpx.Response:
        """The answer to a trigger, whatever it is (for tests of refusals)."""
        return self.http.post(f"/api/v1/pipelines/{pipeline}/runs", json={"parameters": parameters})

    def run(self, run_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/runs/{run_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_for(
        self, check: Callable[[], Any], what: str, timeout: float = 90.0, poll: float = 0.1
    ) -> Any:
        """Poll ``check()`` until it returns something truthy; fail after ``timeout``
        (a guard against hanging, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}\nserver log:\n{self.log_tail()}")
            time.sleep(poll)

    def wait(self, run_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The run once it has ended (succeeded, failed or cancelled), with its tasks."""

        def ended() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] in DONE else None

        found: dict[str, Any] = self.wait_for(ended, f"run {run_id} to end", timeout)
        return found

    def count_runs(self, pipeline: str | None = None) -> int:
        params = {"pipeline": pipeline} if pipeline else {}
        r = self.http.get("/api/v1/runs", params={**params, "limit": 1})
        assert r.status_code == 200, r.text
        total: int = r.json()["total"]
        return total

    def snapshot(self) -> dict[str, str]:
        """Every table of the server's database as its row count and a digest of its rows
        (less the columns reads update): equal snapshots mean nothing was created,
        changed or deleted in between."""
        if self._engine is None:
            self._engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)
            self._tables = sa.MetaData()
            self._tables.reflect(self._engine)
        found: dict[str, str] = {}
        with self._engine.connect() as conn:
            for name, table in sorted(self._tables.tables.items()):
                if name == "alembic_version" or name in APPEND_ONLY:
                    continue
                columns = [c for c in table.c if c.name not in VOLATILE.get(name, ())]
                rows = sorted(repr(tuple(row)) for row in conn.execute(sa.select(*columns)))
                digest = hashlib.sha256("\n".join(rows).encode("utf-8", "replace")).hexdigest()
                found[name] = f"{len(rows)} rows, {digest[:16]}"
        return found

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def version_id(deployed: subprocess.CompletedProcess[str]) -> str:
    """The version id that ``headwater deploy`` printed."""
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    found = re.search(r"version (\w{26})", deployed.stdout)
    assert found, deployed.stdout
    return found.group(1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    with contextlib.suppress(ProcessLookupError):  # task processes left in its group
        os.killpg(process.pid, signal.SIGKILL)


def _launch(
    command: str, folder: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``headwater COMMAND``; returns it and its URL once it answers /api/v1/health."""
    for _ in range(3):  # another process may take the free port before the server does
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [str(HEADWATER), command, "--port", str(port)],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return process, url
            time.sleep(0.05)
        _stop(process)
        if "address already in use" not in log.read_text(errors="replace"):
            break
    pytest.fail(f"headwater {command} did not start:\n{log.read_text(errors='replace')[-4000:]}")


def home_of(folder: Path, database_url: str | None = None) -> tuple[Path, dict[str, str]]:
    """``folder/home`` (made) and the environment of the processes that use it."""
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    return home, cli_env(home, database_url)


def run_cli(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The real ``headwater`` command with ``env`` (see :func:`home_of`)."""
    return subprocess.run(
        [str(HEADWATER), *(str(a) for a in args)],
        cwd=env["HEADWATER_HOME"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def start_standalone(
    folder: Path,
    *,
    database_url: str | None = None,
    command: str = "standalone",
    token: str | None = None,
    extra_env: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Standalone]:
    """``headwater standalone`` (or ``server``: the API alone, with ``token``) with
    ``folder/home`` as its home (and ``extra_env`` or ``env``, a limit say, over its
    environment), stopped when the block ends."""
    home, base = home_of(folder, database_url)
    env = {**base, **(extra_env or {}), **(env or {})}
    log = folder / f"{command}-{len(list(folder.glob(f'{command}-*.log')))}.log"
    process, url = _launch(command, folder, env, log)
    if token is None:
        found = _TOKEN.search(log.read_text(errors="replace"))
        token = found.group(1) if found else None
    running = Standalone(url, token, home, env, process, log)
    try:
        yield running
    finally:
        running.http.close()
        if running._engine is not None:
            running._engine.dispose()
        _stop(process)
    text = log.read_text(errors="replace")
    if UNHANDLED in text:
        at = text.index(UNHANDLED)
        pytest.fail(f"the server crashed on a request:\n{text[at : at + 6000]}")
