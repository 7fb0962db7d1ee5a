"""Assets: named data (URI-like names) that tasks update and pipelines are scheduled on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, aware, new_id, now


@dataclass(frozen=True)
class AssetRecord:
    id: str
    name: str
    created_at: datetime
    events: int
    last_event_at: datetime | None


@dataclass(frozen=True)
class AssetEventRecord:
    """An update of ``asset``: the run, attempt and artifact that made it, and the runs it
    triggered."""

    id: int
    asset: str
    run_id: str | None
    task_run_id: str | None
    artifact_id: str | None
    created_at: datetime
    triggered: tuple[str, ...] = ()


class AssetStore:
    """Assets and their update events in one namespace (``store.assets``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _asset_ids(self, conn: sa.Connection, names: Sequence[str]) -> dict[str, str]:
        a = t.assets.c
        found = dict(
            conn.execute(
                sa.select(a.name, a.id).where(a.namespace == self.db.namespace, a.name.in_(names))
            ).all()
        )
        for name in names:
            if name not in found:
                aid = new_id()
                try:
                    with conn.begin_nested():
                        conn.execute(
                            t.assets.insert().values(
                                id=aid, namespace=self.db.namespace, name=name, created_at=now()
                            )
                        )
                    found[name] = aid
                except sa.exc.IntegrityError:  # created meanwhile by another process
                    found[name] = conn.execute(
                        sa.select(a.id).where(a.namespace == self.db.namespace, a.name == name)
                    ).scalar_one()
        return found

    def register_assets(self, names: Sequence[str]) -> None:
        """Make sure the assets exist (a deploy names them before anything updates them)."""
        if names:
            with self.db.begin() as conn:
                self._asset_ids(conn, names)

    def record_asset_events(
        self, run_id: str, task_run_id: str, updates: Sequence[tuple[str, str]]
    ) -> list[int]:
        """Record that ``task_run_id`` updated assets: (asset name, artifact id) pairs."""
        if not updates:
            return []
        ids: list[int] = []
        with self.db.begin() as conn:
            assets = self._asset_ids(conn, [name for name, _ in updates])
            for name, artifact_id in updates:
                ids.append(
                    conn.execute(
                        t.asset_events.insert()
                        .values(
                            namespace=self.db.namespace,
                            asset_id=assets[name],
                            run_id=run_id,
                            task_run_id=task_run_id,
                            artifact_id=artifact_id,
                            created_at=now(),
                        )
                        .returning(t.asset_events.c.id)
                    ).scalar_one()
                )
        return ids

    def list_assets(
        self, *, prefix: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[AssetRecord]:
        a, e = t.assets.c, t.asset_events.c
        stats = (
            sa.select(
                e.asset_id,
                sa.func.count().label("events"),
                sa.func.max(e.created_at).label("last"),
            )
            .group_by(e.asset_id)
            .subquery()
        )
        q = (
            sa.select(a.id, a.name, a.created_at, stats.c.events, stats.c.last)
            .outerjoin(stats, stats.c.asset_id == a.id)
            .where(a.namespace == self.db.namespace)
            .order_by(a.name)
            .limit(limit)
            .offset(offset)
        )
        if prefix:
            q = q.where(a.name.startswith(prefix, autoescape=True))
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
        return [
            AssetRecord(
                x.id,
                x.name,
                x.created_at,
                int(x.events or 0),
                aware(x.last) if x.last is not None else None,
            )
            for x in rows
        ]

    def asset_events(
        self,
        *,
        asset: str | None = None,
        run_id: str | None = None,
        after: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AssetEventRecord]:
        """Events, newest first (oldest first with ``after``), with the runs they triggered."""
        a, e = t.assets.c, t.asset_events.c
        q = (
            sa.select(e.id, a.name, e.run_id, e.task_run_id, e.artifact_id, e.created_at)
            .join(t.assets, a.id == e.asset_id)
            .where(e.namespace == self.db.namespace)
        )
        if asset is not None:
            q = q.where(a.name == asset)
        if run_id is not None:
            q = q.where(e.run_id == run_id)
        q = q.where(e.id > after).order_by(e.id) if after is not None else q.order_by(e.id.desc())
        q = q.limit(limit).offset(offset)
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
            triggered: dict[int, list[str]] = {}
            if rows:
                for event_id, rid in conn.execute(
                    sa.select(t.asset_triggers.c.event_id, t.asset_triggers.c.run_id).where(
                        t.asset_triggers.c.event_id.in_([x.id for x in rows])
                    )
                ):
                    triggered.setdefault(event_id, []).append(rid)
        return [
            AssetEventRecord(
                x.id,
                x.name,
                x.run_id,
                x.task_run_id,
                x.artifact_id,
                x.created_at,
                tuple(sorted(triggered.get(x.id, []))),
            )
            for x in rows
        ]

    def get_asset(self, name: str) -> AssetRecord:
        for found in self.list_assets(prefix=name, limit=1000):
            if found.name == name:
                return found
        raise NotFound(f"no asset '{name}'", hint="list assets with 'headwater assets list'")

    def pending_asset_events(
        self, names: Sequence[str], after: int | None
    ) -> dict[str, list[tuple[int, datetime]]]:
        """Per asset in ``names``: the events newer than event id ``after``, oldest first."""
        a, e = t.assets.c, t.asset_events.c
        q = (
            sa.select(a.name, e.id, e.created_at)
            .join(t.assets, a.id == e.asset_id)
            .where(a.namespace == self.db.namespace, a.name.in_(names))
            .order_by(e.id)
        )
        if after is not None:
            q = q.where(e.id > after)
        found: dict[str, list[tuple[int, datetime]]] = {name: [] for name in names}
        with self.db.connect() as conn:
            for name, eid, created in conn.execute(q):
                found[name].append((eid, created))
        return found

    def latest_asset_event(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.asset_events.c.id))).scalar() or 0)

    def create_asset_run(
        self,
        pipeline_id: str,
        version_id: str,
        cursor: int | None,
        new_cursor: int,
        event_ids: Sequence[int],
        parameters: dict[str, Any],
        interval: tuple[datetime, datetime],
        run_id: str,
        *,
        experiment: str,
    ) -> bool:
        """The run that asset events triggered, linked to them, with the schedule's cursor
        moved past them, in one transaction; False when another scheduler did it first."""
        s = t.schedules.c
        try:
            with self.db.begin() as conn:
                moved = conn.execute(
                    t.schedules.update()
                    .where(
                        s.pipeline_id == pipeline_id,
                        s.asset_cursor.is_(None) if cursor is None else s.asset_cursor == cursor,
                    )
                    .values(asset_cursor=new_cursor, updated_at=now())
                ).rowcount
                if moved != 1:
                    raise _Lost
                moves.insert_run(
                    conn,
                    self.db.namespace,
                    run_id,
                    pipeline_id,
                    version_id,
                    parameters,
                    "asset",
                    experiment=experiment,
                    interval=interval,
                )
                conn.execute(
                    t.asset_triggers.insert(),
                    [
                        {"event_id": eid, "run_id": run_id, "namespace": self.db.namespace}
                        for eid in event_ids
                    ],
                )
        except _Lost:
            return False
        except sa.exc.IntegrityError:
            if self.db.in_batch:
                raise  # the batch's transaction is spoilt: its caller starts again
            return False
        return True

    def set_asset_cursor(self, pipeline_id: str, cursor: int) -> None:
        with self.db.begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(t.schedules.c.pipeline_id == pipeline_id)
                .values(asset_cursor=cursor)
            )


class _Lost(Exception):
    pass
