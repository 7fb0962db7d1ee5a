"""Notification targets a pipeline declares: Slack, email, a webhook, or a callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

EVENTS = ("success", "failure", "retry", "deadline_missed")


@dataclass(frozen=True)
class Notify:
    """Base of the notification targets; ``on`` lists the events that trigger it."""

    kind: str
    target: str
    on: tuple[str, ...] = ("failure",)
    options: dict[str, Any] = field(default_factory=dict)


def Slack(
    webhook_url: str, *, on: Sequence[str] = ("failure",), channel: str | None = None
) -> Notify:
    """Post to a Slack incoming webhook."""
    options = {"channel": channel} if channel else {}
    return Notify("slack", webhook_url, tuple(on), options)


def Email(
    to: str | Sequence[str], *, on: Sequence[str] = ("failure",), subject: str | None = None
) -> Notify:
    """Send an email over SMTP to one or more addresses."""
    target = to if isinstance(to, str) else ",".join(to)
    options = {"subject": subject} if subject else {}
    return Notify("email", target, tuple(on), options)


def Webhook(
    url: str, *, on: Sequence[str] = ("failure",), headers: dict[str, str] | None = None
) -> Notify:
    """POST a JSON description of the event to ``url``."""
    return Notify("webhook", url, tuple(on), {"headers": dict(headers)} if headers else {})


def callable_target(func: Callable[..., Any], on: Sequence[str] = ("failure",)) -> Notify:
    """Call ``func(event)`` in the scheduler process; it is referenced as ``module:qualname``."""
    return Notify("callable", f"{func.__module__}:{func.__qualname__}", tuple(on))
