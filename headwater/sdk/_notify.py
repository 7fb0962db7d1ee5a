"""Notification targets a pipeline or task declares: Slack, email, a webhook, or a callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.errors import DefinitionError, Location

EVENTS = ("success", "failure", "retry", "deadline_missed")
TASK_EVENTS = ("success", "failure", "retry")


@dataclass(frozen=True)
class Notify:
    """Base of the notification targets; ``on`` lists the events that trigger it."""

    kind: str
    target: str
    on: tuple[str, ...] = ("failure",)
    options: dict[str, Any] = field(default_factory=dict)


def _events(on: str | Sequence[str]) -> tuple[str, ...]:
    return (on,) if isinstance(on, str) else tuple(on)


def Slack(
    webhook_url: str, *, on: Sequence[str] = ("failure",), channel: str | None = None
) -> Notify:
    """Post to a Slack incoming webhook."""
    options = {"channel": channel} if channel else {}
    return Notify("slack", webhook_url, _events(on), options)


def Email(
    to: str | Sequence[str], *, on: Sequence[str] = ("failure",), subject: str | None = None
) -> Notify:
    """Send an email over SMTP to one or more addresses."""
    target = to if isinstance(to, str) else ",".join(to)
    options = {"subject": subject} if subject else {}
    return Notify("email", target, _events(on), options)


def Webhook(
    url: str, *, on: Sequence[str] = ("failure",), headers: dict[str, str] | None = None
) -> Notify:
    """POST a JSON description of the event to ``url``."""
    return Notify("webhook", url, _events(on), {"headers": dict(headers)} if headers else {})


def callable_target(func: Callable[..., Any], on: Sequence[str] = ("failure",)) -> Notify:
    """Call ``func(event)`` in the scheduler process; it is referenced as ``module:qualname``."""
    return Notify("callable", f"{func.__module__}:{func.__qualname__}", _events(on))


def notification_specs(values: Any, where: Location, *, task: bool) -> list[dict[str, Any]]:
    """Spec-shaped notifications from ``notify=``: targets, callables, or a list of them.

    A task's notifications (``task=True``) fire on success, failure or retry; a
    pipeline's also on deadline_missed.
    """
    if values is None:
        return []
    if isinstance(values, Notify) or callable(values):
        values = [values]
    if isinstance(values, str | bytes | dict) or not isinstance(values, Sequence):
        values = [values]
    allowed = TASK_EVENTS if task else EVENTS
    out = []
    for v in values:
        if not isinstance(v, Notify):
            if callable(v):
                v = callable_target(v)
            else:
                raise DefinitionError(
                    f"notify entries must be Slack(...), Email(...), Webhook(...) or a "
                    f"callable, not {v!r}",
                    location=where,
                    hint="use e.g. notify=[Slack('https://hooks.slack.com/...')]",
                )
        if task and "deadline_missed" in v.on:
            raise DefinitionError(
                "a task notification cannot fire on 'deadline_missed'; deadlines belong to runs",
                location=where,
                hint="a task's notifications take on=['success', 'failure', 'retry']; put "
                "deadline_missed on @pipeline(notify=..., deadline=...)",
            )
        bad = [e for e in v.on if e not in allowed]
        if bad:
            raise DefinitionError(
                f"unknown notification event(s) {', '.join(bad)}",
                location=where,
                hint="events are: " + ", ".join(allowed),
            )
        out.append({"kind": v.kind, "target": v.target, "on": list(v.on), "options": v.options})
    return out
