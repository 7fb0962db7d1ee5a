"""The notification outbox on SQLite and PostgreSQL, with real HTTP receivers.

Notifications are rows written with the change they tell of and delivered by a sender
outside any transaction: a slow target blocks no writer and does not hold up the run, a
failing one is retried with backoff and the outcome recorded, and a sender killed in the
middle of a delivery loses nothing (another sender delivers the row once its lease ends).
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import headwater
from headwater.engine import Workspace, create_run
from headwater.notify import Sender
from headwater.scheduler import SchedulerService
from headwater.states import RunStatus
from headwater.store import DeliveryStatus

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
FLOW = PIPELINES / "outbox_flow.py"
ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh home, on SQLite or on a fresh PostgreSQL database."""
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "sqlite":
        yield "sqlite"
        return
    name = f"hw_outbox_{secrets.token_hex(4)}"
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


@dataclass
class Receiver:
    """A real HTTP server: records each POST, holds it until released (or ``hold_seconds``
    pass, like a slow target), then answers the next status in ``statuses`` (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    hold_seconds: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    arrived: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answered: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, what: Callable[[], bool], timeout: float, why: str) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, f"timed out waiting for {why}"
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with r.lock:
                r.arrived.append((self.path, body))
            if r.hold_seconds:
                r.release.wait(r.hold_seconds)
            with r.lock:
                status = r.statuses.pop(0) if r.statuses else 200
                r.answered.append((self.path, status))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    r.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield r
    finally:
        r.release.set()
        server.shutdown()
        server.server_close()


def _flow(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Any:
    """The pipeline of tests/pipelines/outbox_flow.py, compiled against ``receiver``."""
    monkeypatch.setenv("OUTBOX_HOOK", receiver.url)
    monkeypatch.syspath_prepend(str(PIPELINES))
    import outbox_flow

    return importlib.reload(outbox_flow).outbox_flow


def _command() -> list[str]:
    return [sys.executable, "-c", "from headwater.cli import run; run()"]


def test_a_slow_target_blocks_no_writer_and_does_not_hold_up_the_run(
    database: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.hold_seconds = 5.0  # a target that takes 5 s to answer, unless released
    flow = _flow(monkeypatch, receiver)
    ws = Workspace.open()
    finished: list[Any] = []
    thread = threading.Thread(target=lambda: finished.append(headwater.run(flow)))
    thread.start()
    try:
        receiver.wait_for(lambda: len(receiver.arrived) >= 1, 30, "the first notification")
        # While a delivery is in flight, another writer gets the database at once...
        ws.store.pools.set_pool("probe", 2, "written while a notification was being delivered")
        # ...and the run goes on to its end: its last task and its own status are
        # written while the task's notification is still unanswered.
        (run_id,) = [r.id for r in ws.store.runs.list_runs()]
        receiver.wait_for(
            lambda: ws.store.runs.get_run(run_id).status is RunStatus.SUCCEEDED, 30, "the run's end"
        )
        with receiver.lock:
            assert receiver.answered == [], "the run waited for its notification"
        assert ws.store.pools.get_pool("probe").slots == 2
    finally:
        receiver.release.set()
        thread.join(60)
    (run,) = finished
    assert run.status is RunStatus.SUCCEEDED
    assert sorted(p for p, _ in receiver.arrived) == ["/run", "/task"]
    rows = ws.store.outbox.recent(run_id=run.id)
    assert {(r.event, r.task, r.status, r.attempts) for r in rows} == {
        ("success", "first", DeliveryStatus.DELIVERED, 1),
        ("success", None, DeliveryStatus.DELIVERED, 1),
    }
    assert all(r.delivered_at is not None and r.last_error is None for r in rows)
    ws.close()


def test_a_failing_target_is_retried_with_backoff_and_the_outcome_recorded(
    database: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_NOTIFY_RETRY_SECONDS", "0.05")
    receiver.statuses = [500, 503]  # the target fails twice, then recovers
    flow = _flow(monkeypatch, receiver)
    run = headwater.run(flow)
    assert run.status is RunStatus.SUCCEEDED
    ws = Workspace.open()
    # The run returned after one try of each; the failed ones wait for a sender.
    sender = Sender(ws.store).start()
    try:
        receiver.wait_for(
            lambda: all(
                r.status is DeliveryStatus.DELIVERED for r in ws.store.outbox.recent(run_id=run.id)
            ),
            30,
            "every notification delivered",
        )
    finally:
        sender.stop()
    rows = {r.task: r for r in ws.store.outbox.recent(run_id=run.id)}
    assert sum(r.attempts for r in rows.values()) == 4  # 2 failures + 2 deliveries
    assert [s for _, s in receiver.answered].count(200) == 2
    ws.close()


def test_a_target_that_keeps_failing_is_marked_failed_with_its_error(
    database: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_NOTIFY_RETRY_SECONDS", "0.05")
    monkeypatch.setenv("HEADWATER_NOTIFY_ATTEMPTS", "3")
    receiver.statuses = [500] * 100
    flow = _flow(monkeypatch, receiver)
    run = headwater.run(flow)
    ws = Workspace.open()
    sender = Sender(ws.store).start()
    try:
        receiver.wait_for(
            lambda: all(
                r.status is DeliveryStatus.FAILED for r in ws.store.outbox.recent(run_id=run.id)
            ),
            30,
            "every notification given up",
        )
    finally:
        sender.stop()
    rows = ws.store.outbox.recent(run_id=run.id)
    assert [r.attempts for r in rows] == [3, 3]
    assert all("500" in (r.last_error or "") for r in rows)
    assert len(receiver.arrived) == 6  # three tries each, and no more
    listed = subprocess.run(
        [*_command(), "notifications", "list", "--run", run.id, "--status", "failed"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("failed") >= 2 and "500" in listed.stdout
    ws.close()


def test_a_sender_killed_mid_delivery_loses_nothing(
    database: str, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.hold_seconds = 30.0  # never answers before the kill
    env = {
        **os.environ,
        "OUTBOX_HOOK": receiver.url,
        "HEADWATER_NOTIFY_LEASE_SECONDS": "1",
    }
    proc = subprocess.Popen(
        [*_command(), "run", str(FLOW)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        receiver.wait_for(lambda: len(receiver.arrived) >= 2, 60, "both notifications sent")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    ws = Workspace.open()
    (run,) = ws.store.runs.list_runs()
    rows = ws.store.outbox.recent(run_id=run.id)
    assert len(rows) == 2 and all(r.status is DeliveryStatus.PENDING for r in rows)
    assert all(r.claimed_by is not None for r in rows), "both were in flight at the kill"

    receiver.hold_seconds = 0.0  # the target answers again
    sent = subprocess.run(
        [*_command(), "notifications", "send", "--wait", "30"],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert sent.returncode == 0, sent.stderr
    rows = ws.store.outbox.recent(run_id=run.id)
    assert all(r.status is DeliveryStatus.DELIVERED for r in rows), rows
    # At least once: the killed attempt reached the target, the second one was answered.
    assert sorted(p for p, _ in receiver.arrived) == ["/run", "/run", "/task", "/task"]
    assert sorted(p for p, s in receiver.answered if s == 200) == ["/run", "/task"]
    ws.close()


def test_a_scheduler_delivers_what_the_runs_it_drives_queue(
    database: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = _flow(monkeypatch, receiver)
    ws = Workspace.open()
    run = create_run(ws, flow.compile(), {}, source_root=str(PIPELINES), owner="", trigger="api")
    service = SchedulerService(ws, poll=0.05)
    try:
        service.step()
        service.runner.wait(60)
    finally:
        service.close()  # sends what its runs queued before it leaves
    assert ws.store.runs.get_run(run.id).status is RunStatus.SUCCEEDED
    assert sorted(p for p, _ in receiver.arrived) == ["/run", "/task"]
    rows = ws.store.outbox.recent(run_id=run.id)
    assert all(r.status is DeliveryStatus.DELIVERED for r in rows)
    ws.close()


def test_one_target_hears_a_runs_events_in_order_across_claims(
    database: str, receiver: Receiver
) -> None:
    """A row claimed while an earlier row for the same target is still being delivered
    waits for it, even when they come from different claims."""
    from headwater.store import NewNotification

    receiver.hold_seconds = 30.0
    ws = Workspace.open()
    target = {"kind": "webhook", "target": f"{receiver.url}/hook", "on": ["retry", "success"]}

    def queue(kind: str) -> None:
        payload = {"kind": kind, "pipeline": "p", "run_id": "r", "status": "running"}
        ws.store.outbox.add([NewNotification(None, "p", kind, target, payload, task="t")])

    sender = Sender(ws.store)
    try:
        queue("retry")
        assert sender.send_due() == 1
        receiver.wait_for(lambda: len(receiver.arrived) == 1, 30, "the first event")
        queue("success")
        assert sender.send_due() == 1  # claimed while the first is still held
        time.sleep(0.5)
        assert len(receiver.arrived) == 1, "the second event overtook the first"
        receiver.release.set()
        receiver.wait_for(lambda: len(receiver.answered) == 2, 30, "both events answered")
    finally:
        receiver.release.set()
        sender.stop()
    assert [body["kind"] for _, body in receiver.arrived] == ["retry", "success"]
    ws.close()
