"""The audit log: what was done through the API, by whom, when, and with what outcome.

The server writes one row per mutating request (see ``headwater/server/_audit.py``);
rows older than the retention are purged. A row never holds a secret or a whole request
body: the server passes a summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.store import _schema as t
from headwater.store._base import Database, fields_of


@dataclass(frozen=True)
class NewAuditEvent:
    """One request to record. ``user`` is ``"anonymous"`` when the caller was not known."""

    at: datetime
    user_id: str | None
    user: str
    method: str
    route: str
    status: int
    request_id: str
    duration_ms: float
    path_params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    error: str | None = None
    client: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    namespace: str
    at: datetime
    user_id: str | None
    user: str
    method: str
    route: str
    path_params: dict[str, Any] | None
    body: Any
    status: int
    error: str | None
    client: str | None
    request_id: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to read; every field given must hold."""

    user: str | None = None
    method: str | None = None
    route_prefix: str | None = None
    # "ok" (status below 400) or "error" (400 and above).
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class AuditStore:
    """The audit log of one namespace (``store.audit``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, event: NewAuditEvent) -> None:
        """Write one row (in its own transaction, or the current batch's)."""
        with self.db.begin() as conn:
            conn.execute(
                t.audit_events.insert().values(namespace=self.db.namespace, **event.__dict__)
            )

    def _where(self, f: AuditFilter) -> list[Any]:
        c = t.audit_events.c
        where: list[Any] = [c.namespace == self.db.namespace]
        if f.user is not None:
            where.append(c.user == f.user)
        if f.method is not None:
            where.append(c.method == f.method.upper())
        if f.route_prefix:
            where.append(c.route.like(_like_prefix(f.route_prefix), escape="\\"))
        if f.outcome == "ok":
            where.append(c.status < 400)
        elif f.outcome == "error":
            where.append(c.status >= 400)
        elif f.outcome is not None:
            raise ValueError(f"unknown outcome {f.outcome!r}: use 'ok' or 'error'")
        if f.since is not None:
            where.append(c.at >= f.since)
        if f.until is not None:
            where.append(c.at < f.until)
        return where

    def page(
        self, f: AuditFilter | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditRecord], int]:
        """Rows matching ``f``, newest first, and how many match in all."""
        where = self._where(f or AuditFilter())
        c = t.audit_events.c
        with self.db.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(t.audit_events).where(*where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(t.audit_events)
                .where(*where)
                .order_by(c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [AuditRecord(**fields_of(AuditRecord, r._mapping)) for r in rows], int(total)

    def purge(self, before: datetime) -> int:
        """Delete the rows older than ``before``, of every namespace (the retention is the
        installation's); returns how many."""
        with self.db.begin() as conn:
            result = conn.execute(t.audit_events.delete().where(t.audit_events.c.at < before))
        return int(result.rowcount or 0)
