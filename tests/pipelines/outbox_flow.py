"""A pipeline whose task and run notifications go to a webhook named at compile time
(``OUTBOX_HOOK``), for the notification outbox tests (tests/notify)."""

from __future__ import annotations

import os

from headwater import Webhook, component, pipeline

HOOK = os.environ.get("OUTBOX_HOOK", "http://127.0.0.1:9")


@component(notify=[Webhook(f"{HOOK}/task", on=["success"])])
def first() -> int:
    return 1


@component
def second(x: int) -> int:
    return x + 1


@pipeline(notify=[Webhook(f"{HOOK}/run", on=["success", "failure"])])
def outbox_flow():
    second(x=first().output)
