"""Notifications delivered for real: a local HTTP receiver, a local SMTP server, callables.

A failing notifier is logged and never fails the run.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import headwater
from headwater import Email, Slack, Webhook, component, pipeline
from headwater.states import RunStatus


def record_event(event: Any) -> None:
    """A callable target: it runs in a child process, so it leaves its mark in a file."""
    with open(os.environ["NOTIFY_RECORD"], "a") as f:
        f.write(json.dumps({"callable": event.kind, "run": event.run_id, "pid": os.getpid()}))
        f.write("\n")


def received() -> list[dict[str, Any]]:
    path = Path(os.environ["NOTIFY_RECORD"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class _Receiver(BaseHTTPRequestHandler):
    posts: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        _Receiver.posts.append((self.path, body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[str]:
    _Receiver.posts = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Mailbox]:
    mailbox = _Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("HEADWATER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HEADWATER_SMTP_PORT", str(port))
    monkeypatch.setenv("HEADWATER_SMTP_FROM", "headwater@example.test")
    yield mailbox
    controller.stop()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NOTIFY_RECORD", str(tmp_path / "callable.jsonl"))


@component
def works() -> int:
    return 1


@component
def breaks() -> int:
    raise RuntimeError("the data was bad")


def test_success_goes_to_slack_webhook_email_and_a_callable(
    http_receiver: str, smtp: _Mailbox
) -> None:
    @pipeline(
        notify=[
            Slack(f"{http_receiver}/slack", on=["success"]),
            Webhook(f"{http_receiver}/hook", on=["success"], headers={"X-Token": "t0k"}),
            Email("ml-team@example.test", on=["success"]),
            record_event,  # a callable, on failure only by default
        ]
    )
    def notified():
        works()

    run = headwater.run(notified)
    assert run.status is RunStatus.SUCCEEDED
    paths = {p: (body, headers) for p, body, headers in _Receiver.posts}
    assert set(paths) == {"/slack", "/hook"}
    assert (
        "pipeline notified" in paths["/slack"][0]["text"] and run.id in paths["/slack"][0]["text"]
    )
    hook, headers = paths["/hook"]
    assert hook["kind"] == "success" and hook["run_id"] == run.id and hook["pipeline"] == "notified"
    assert headers.get("X-Token") == "t0k"
    assert len(smtp.messages) == 1
    assert smtp.messages[0].rcpt_tos == ["ml-team@example.test"]
    assert b"notified: success" in smtp.messages[0].content
    assert received() == []  # the callable listens for failures only


def test_failure_and_retry_events(http_receiver: str) -> None:
    @pipeline(
        notify=[Webhook(f"{http_receiver}/hook", on=["failure", "retry"]), record_event],
        task_defaults={"retries": 1},
    )
    def failing():
        breaks()

    run = headwater.run(failing)
    assert run.status is RunStatus.FAILED
    kinds = [body["kind"] for _, body, _ in _Receiver.posts]
    assert kinds == ["retry", "failure"]
    retry = _Receiver.posts[0][1]
    assert retry["task"] == "breaks" and "the data was bad" in retry["error"]
    calls = received()
    assert [{k: c[k] for k in ("callable", "run")} for c in calls] == [
        {"callable": "failure", "run": run.id}
    ]
    assert calls[0]["pid"] != os.getpid()  # user code never runs in the engine's process


def test_a_failing_notifier_is_logged_and_the_run_still_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens here once the socket closes

    @pipeline(notify=[Webhook(f"http://127.0.0.1:{dead}/hook", on=["success"])])
    def unlucky():
        works()

    with caplog.at_level(logging.WARNING, logger="headwater.notify"):
        run = headwater.run(unlucky)
    assert run.status is RunStatus.SUCCEEDED
    assert any(
        "notification to webhook" in r.message and "failed" in r.message for r in caplog.records
    )
