"""Delivering one event to one notification target: Slack, email, a webhook, a callable."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from headwater.errors import NotifyError
from headwater.spec import NotificationSpec


@dataclass(frozen=True)
class Event:
    """What happened: ``kind`` is success, failure, retry or deadline_missed."""

    kind: str
    pipeline: str
    run_id: str
    status: str
    task: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        what = f"task {self.task} of " if self.task else ""
        text = f"Headwater: {what}pipeline {self.pipeline}, run {self.run_id}: {self.kind}"
        if self.error:
            text += f"\n{self.error.splitlines()[0][:500]}"
        return text


def _post(
    url: str, payload: dict[str, Any], timeout: float, headers: dict[str, str] | None = None
) -> None:
    import httpx

    response = httpx.post(url, json=payload, headers=headers or {}, timeout=timeout)
    response.raise_for_status()


def _email(target: NotificationSpec, event: Event, timeout: float) -> None:
    host = os.environ.get("HEADWATER_SMTP_HOST", "localhost")
    port = int(os.environ.get("HEADWATER_SMTP_PORT", "25"))
    sender = os.environ.get("HEADWATER_SMTP_FROM", "headwater@localhost")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = target.target
    subject = target.options.get("subject") or f"[headwater] {event.pipeline}: {event.kind}"
    message["Subject"] = str(subject)
    message.set_content(event.summary() + "\n\n" + json.dumps(asdict(event), indent=2))
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        user = os.environ.get("HEADWATER_SMTP_USER")
        if user:
            smtp.starttls()
            smtp.login(user, os.environ.get("HEADWATER_SMTP_PASSWORD", ""))
        smtp.send_message(message)


# What a user's callable never sees of the sender's environment.
_SECRET_NAMES = ("HEADWATER_TOKEN", "HEADWATER_DATABASE_URL", "HEADWATER_SMTP_PASSWORD")


def _call(target: NotificationSpec, event: Event, timeout: float, root: str | None) -> None:
    """Call ``module:qualname`` with the event in a child process of its own: user code
    never runs in a scheduler's or engine's process, and a hung callable is killed."""
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_NAMES}
    path = [p for p in sys.path if p]
    if root:
        path.insert(0, root)  # callables live beside the pipeline
    env["PYTHONPATH"] = os.pathsep.join(path)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "headwater.notify._callable", target.target],
            input=json.dumps(asdict(event)).encode(),
            capture_output=True,
            cwd=root if root and os.path.isdir(root) else None,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NotifyError(f"the callable did not return within {timeout:g}s") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise NotifyError(lines[-1] if lines else f"the callable exited with {done.returncode}")


def deliver(
    target: NotificationSpec, event: Event, *, timeout: float, source_root: str | None = None
) -> None:
    """Send ``event`` to one target; raises what went wrong."""
    if target.kind == "slack":
        payload: dict[str, Any] = {"text": event.summary()}
        if target.options.get("channel"):
            payload["channel"] = target.options["channel"]
        _post(target.target, payload, timeout)
    elif target.kind == "webhook":
        raw = target.options.get("headers")
        headers = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else None
        _post(target.target, asdict(event), timeout, headers)
    elif target.kind == "email":
        _email(target, event, timeout)
    else:
        _call(target, event, timeout, source_root)
