"""The notification outbox: events written with the change that causes them, sent later.

An engine never talks to a notification target. When a run or task changes state in a
way someone listens for, the engine adds one row per (event, target) here, in the same
transaction as the change (so a crash can lose neither without the other). A sender
(:mod:`headwater.notify`) claims due rows with a lease, delivers them outside any
transaction, and marks each delivered, or due again after a backoff, or failed for good
after its last attempt. A sender that dies mid-delivery loses nothing: its lease runs out
and another claims the row (delivery is at least once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from headwater.store import _schema as t
from headwater.store._base import Database, new_id, now


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class NewNotification:
    """One event for one target, as the engine records it."""

    run_id: str | None
    pipeline: str
    event: str
    target: dict[str, Any]
    payload: dict[str, Any]
    task: str | None = None
    source_root: str | None = None


@dataclass(frozen=True)
class NotificationRecord:
    id: str
    namespace: str
    run_id: str | None
    pipeline: str
    event: str
    task: str | None
    target: dict[str, Any]
    payload: dict[str, Any]
    source_root: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _record(m: Any) -> NotificationRecord:
    return NotificationRecord(
        id=m["id"],
        namespace=m["namespace"],
        run_id=m["run_id"],
        pipeline=m["pipeline"],
        event=m["event"],
        task=m["task"],
        target=m["target"],
        payload=m["payload"],
        source_root=m["source_root"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        claimed_by=m["claimed_by"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        delivered_at=m["delivered_at"],
    )


class OutboxStore:
    """The outbox table, written through ``db`` so that an engine's batch covers it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entries: list[NewNotification]) -> list[str]:
        """Queue ``entries`` for delivery now (in the caller's batch, if any)."""
        if not entries:
            return []
        stamp = now()
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "namespace": self.db.namespace,
                "run_id": e.run_id,
                "pipeline": e.pipeline,
                "event": e.event,
                "task": e.task,
                "target": e.target,
                "payload": e.payload,
                "source_root": e.source_root,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": stamp,
                "created_at": stamp,
            }
            for e in entries
        ]
        with self.db.begin() as conn:
            conn.execute(t.notifications.insert(), rows)
        return [str(r["id"]) for r in rows]

    def claim(self, owner: str, lease_seconds: float, limit: int = 32) -> list[NotificationRecord]:
        """Take up to ``limit`` due rows for ``owner`` until the lease runs out.

        Rows of every namespace: the sender is part of the installation, not of a team.
        A row whose lease ran out (its sender died) is due again.
        """
        n = t.notifications.c
        stamp = now()
        free = sa.or_(n.claimed_until.is_(None), n.claimed_until < stamp)
        due = sa.and_(n.status == DeliveryStatus.PENDING.value, n.next_attempt_at <= stamp, free)
        until = stamp + timedelta(seconds=lease_seconds)
        with self.db.engine.begin() as conn:
            q = (
                sa.select(n.id)
                .where(due)
                .order_by(n.next_attempt_at, n.created_at, n.id)
                .limit(limit)
            )
            if self.db.postgres:
                q = q.with_for_update(skip_locked=True)
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            # Conditional, so that of two senders racing for a row only one wins it.
            conn.execute(
                t.notifications.update()
                .where(n.id.in_(ids), due)
                .values(claimed_by=owner, claimed_until=until)
            )
            rows = conn.execute(
                sa.select(t.notifications)
                .where(n.id.in_(ids), n.claimed_by == owner)
                .order_by(n.created_at, n.id)
            ).mappings()
            return [_record(m) for m in rows]

    def delivered(self, notification_id: str, owner: str) -> None:
        self._settle(
            notification_id,
            owner,
            status=DeliveryStatus.DELIVERED,
            delivered_at=now(),
            last_error=None,
        )

    def retry_later(self, notification_id: str, owner: str, error: str, delay: float) -> None:
        self._settle(
            notification_id,
            owner,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now() + timedelta(seconds=delay),
            last_error=error,
        )

    def give_up(self, notification_id: str, owner: str, error: str) -> None:
        self._settle(notification_id, owner, status=DeliveryStatus.FAILED, last_error=error)

    def _settle(
        self, notification_id: str, owner: str, *, status: DeliveryStatus, **values: Any
    ) -> None:
        n = t.notifications.c
        with self.db.engine.begin() as conn:
            conn.execute(
                t.notifications.update()
                .where(n.id == notification_id, n.claimed_by == owner)
                .values(
                    status=status.value,
                    attempts=n.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    **values,
                )
            )

    def recent(
        self,
        *,
        run_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[NotificationRecord]:
        """This namespace's notifications, newest first."""
        n = t.notifications.c
        q = sa.select(t.notifications).where(n.namespace == self.db.namespace)
        if run_id is not None:
            q = q.where(n.run_id == run_id)
        if status is not None:
            q = q.where(n.status == status.value)
        q = q.order_by(n.created_at.desc(), n.id.desc()).limit(limit)
        with self.db.connect() as conn:
            return [_record(m) for m in conn.execute(q).mappings()]

    def unsent(self, run_id: str) -> list[NotificationRecord]:
        """The run's rows still pending, and whether each was tried at least once."""
        n = t.notifications.c
        q = sa.select(t.notifications).where(
            n.run_id == run_id, n.status == DeliveryStatus.PENDING.value
        )
        with self.db.connect() as conn:
            return [_record(m) for m in conn.execute(q).mappings()]

    def untried_due(self) -> int:
        """Rows due now that no sender has tried yet (any namespace)."""
        n = t.notifications.c
        q = (
            sa.select(sa.func.count())
            .select_from(t.notifications)
            .where(
                n.status == DeliveryStatus.PENDING.value,
                n.attempts == 0,
                n.next_attempt_at <= now(),
            )
        )
        with self.db.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())
