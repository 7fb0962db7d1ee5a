"""Delivering one event to the notification targets a pipeline declares."""

from __future__ import annotations

import importlib
import json
import logging
import os
import smtplib
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from headwater.spec import NotificationSpec

log = logging.getLogger("headwater.notify")
TIMEOUT_SECONDS = 10.0


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


@dataclass(frozen=True)
class NotifyResult:
    target: NotificationSpec
    ok: bool
    error: str | None = None


def _post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    import httpx

    response = httpx.post(url, json=payload, headers=headers or {}, timeout=TIMEOUT_SECONDS)
    response.raise_for_status()


def _email(target: NotificationSpec, event: Event) -> None:
    host = os.environ.get("HEADWATER_SMTP_HOST", "localhost")
    port = int(os.environ.get("HEADWATER_SMTP_PORT", "25"))
    sender = os.environ.get("HEADWATER_SMTP_FROM", "headwater@localhost")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = target.target
    subject = target.options.get("subject") or f"[headwater] {event.pipeline}: {event.kind}"
    message["Subject"] = str(subject)
    message.set_content(event.summary() + "\n\n" + json.dumps(asdict(event), indent=2))
    with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
        user = os.environ.get("HEADWATER_SMTP_USER")
        if user:
            smtp.starttls()
            smtp.login(user, os.environ.get("HEADWATER_SMTP_PASSWORD", ""))
        smtp.send_message(message)


def _call(target: NotificationSpec, event: Event) -> None:
    module_name, _, qualname = target.target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    obj(event)


def _deliver(target: NotificationSpec, event: Event) -> None:
    if target.kind == "slack":
        payload: dict[str, Any] = {"text": event.summary()}
        if target.options.get("channel"):
            payload["channel"] = target.options["channel"]
        _post(target.target, payload)
    elif target.kind == "webhook":
        raw = target.options.get("headers")
        headers = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else None
        _post(target.target, asdict(event), headers)
    elif target.kind == "email":
        _email(target, event)
    else:
        _call(target, event)


def notify(targets: list[NotificationSpec], event: Event) -> list[NotifyResult]:
    """Send ``event`` to every target listening for its kind; failures are logged."""
    results = []
    for target in targets:
        if event.kind not in target.on:
            continue
        try:
            _deliver(target, event)
        except Exception as exc:  # a notifier never fails the run
            log.warning(
                "notification to %s %s for %s of run %s failed: %r",
                target.kind,
                target.target,
                event.kind,
                event.run_id,
                exc,
            )
            results.append(NotifyResult(target, False, repr(exc)))
        else:
            results.append(NotifyResult(target, True))
    return results
