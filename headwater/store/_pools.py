"""Pools of slots, and granting them to waiting attempts (best priority first, under the
pool's, the pipeline's and the installation's limits)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.states import TASK_LIVE, TaskStatus
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, now

DEFAULT_POOL = "default_pool"
_LIVE = [s.value for s in TASK_LIVE]


@dataclass(frozen=True)
class PoolRecord:
    name: str
    slots: int | None
    description: str | None
    occupied: int
    waiting: int


@dataclass(frozen=True)
class SlotRequest:
    """A waiting attempt asking for ``slots`` of ``pool`` (or only a place under limits)."""

    task_run_id: str
    pool: str
    slots: int
    priority: int


class PoolStore:
    """Pools of one namespace and their slots (``store.pools``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _slots_in_use(self, conn: sa.Connection) -> dict[str, int]:
        """Slots held per pool: by queued and running attempts that were granted them."""
        tr = t.task_runs.c
        rows = conn.execute(
            sa.select(tr.pool, sa.func.sum(sa.func.coalesce(tr.pool_slots, 1)))
            .where(tr.namespace == self.db.namespace, tr.pool.is_not(None))
            .where(tr.status.in_(_LIVE))
            .group_by(tr.pool)
        ).all()
        return {pool: int(n or 0) for pool, n in rows}

    def get_pool(self, name: str) -> PoolRecord:
        for pool in self.list():
            if pool.name == name:
                return pool
        raise NotFound(
            f"no pool '{name}'", hint=f"create it with 'headwater pools set {name} --slots N'"
        )

    def set_pool(self, name: str, slots: int | None, description: str | None = None) -> PoolRecord:
        """Create a pool or change its slots (``None``: unlimited)."""
        from headwater.spec import POOL_RE

        if not POOL_RE.match(name):  # the rule a task's pool= is checked against
            raise InvalidValue(
                f"pool name {name!r} is not valid", hint="use 1-64 letters, digits, '_', '.', '-'"
            )
        if slots is not None and slots < 0:
            raise InvalidValue(f"pool '{name}' cannot have {slots} slots", hint="give 0 or more")
        p = t.pools.c
        stamp = now()
        values: dict[str, Any] = {"slots": slots, "updated_at": stamp}
        if description is not None:
            values["description"] = description
        with self.db.begin() as conn:
            # Create it if new (another process may create it at the same moment), then set.
            conn.execute(
                self.db.insert_new(t.pools).values(
                    namespace=self.db.namespace,
                    name=name,
                    slots=slots,
                    description=description,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            conn.execute(
                t.pools.update()
                .where(p.namespace == self.db.namespace, p.name == name)
                .values(**values)
            )
        return self.get_pool(name)

    def delete_pool(self, name: str) -> None:
        if name == DEFAULT_POOL:
            raise Conflict(
                "the default pool cannot be deleted",
                hint=f"set its slots instead: 'headwater pools set {DEFAULT_POOL} --slots N'",
            )
        pool = self.get_pool(name)
        if pool.occupied or pool.waiting:
            raise Conflict(
                f"pool '{name}' is in use by {pool.occupied + pool.waiting} task(s)",
                hint="wait for them to finish",
            )
        with self.db.begin() as conn:
            conn.execute(
                t.pools.delete().where(
                    t.pools.c.namespace == self.db.namespace, t.pools.c.name == name
                )
            )

    def limited_pools(self) -> dict[str, int | None]:
        """Every pool's slots (None for unlimited)."""
        p = t.pools.c
        with self.db.connect() as conn:
            return dict(
                conn.execute(
                    sa.select(p.name, p.slots).where(p.namespace == self.db.namespace)
                ).all()
            )

    def grant_slots(
        self,
        requests: Sequence[SlotRequest],
        *,
        pipeline_id: str,
        pipeline_limit: int | None,
        global_limit: int | None,
    ) -> tuple[list[str], dict[str, str]]:
        """Move the waiting attempts that fit to queued, best priority first.

        Capacity counts queued and running attempts of every run: per pool, per pipeline
        (``pipeline_limit``) and overall (``global_limit``). A request gives way to a
        waiting attempt of another run with a higher priority for the same pool. Returns
        the granted ids (those that were still waiting), and the ids that can never run
        (their pool does not exist) with the reason.
        """
        if not requests:
            return [], {}
        tr, p, r = t.task_runs.c, t.pools.c, t.runs.c
        ns = self.db.namespace
        with self.db.begin() as conn:
            self._lock_slots(conn)
            slots = dict(conn.execute(sa.select(p.name, p.slots).where(p.namespace == ns)).all())
            used = self._slots_in_use(conn)
            total = (
                conn.execute(
                    sa.select(sa.func.count()).where(tr.status.in_(_LIVE), tr.pool.is_not(None))
                ).scalar()
                or 0
                if global_limit is not None
                else 0
            )
            mine = (
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.task_runs.join(t.runs, r.id == tr.run_id))
                    .where(r.pipeline_id == pipeline_id, tr.status.in_(_LIVE), tr.pool.is_not(None))
                ).scalar()
                or 0
                if pipeline_limit is not None
                else 0
            )
            ids = [q.task_run_id for q in requests]
            rivals = dict(
                conn.execute(
                    sa.select(tr.pool, sa.func.max(sa.func.coalesce(tr.priority, 0)))
                    .where(tr.namespace == ns, tr.id.not_in(ids))
                    .where(tr.status == TaskStatus.WAITING.value)
                    .group_by(tr.pool)
                ).all()
            )
            granted: list[str] = []
            refused: dict[str, str] = {}
            for q in sorted(requests, key=lambda q: -q.priority):
                if q.pool not in slots:
                    refused[q.task_run_id] = (
                        f"pool '{q.pool}' does not exist; create it with "
                        f"'headwater pools set {q.pool} --slots N'"
                    )
                    continue
                if global_limit is not None and total >= global_limit:
                    break
                if pipeline_limit is not None and mine >= pipeline_limit:
                    break
                cap = slots[q.pool]
                if cap is not None and q.slots > cap:
                    refused[q.task_run_id] = (
                        f"the task needs {q.slots} slots but pool '{q.pool}' has {cap}; "
                        f"raise it with 'headwater pools set {q.pool} --slots {q.slots}'"
                    )
                    continue
                if cap is not None and int(used.get(q.pool) or 0) + q.slots > cap:
                    continue
                if q.pool in rivals and (rivals[q.pool] or 0) > q.priority:
                    continue
                granted.append(q.task_run_id)
                used[q.pool] = int(used.get(q.pool) or 0) + q.slots
                total += 1
                mine += 1
            # Each row moves only if it is still waiting (another process may have
            # cancelled it meanwhile); only the rows that moved are granted.
            granted = moves.move_attempts(conn, ns, granted, TaskStatus.WAITING, TaskStatus.QUEUED)
        return granted, refused

    def _lock_slots(self, conn: sa.Connection) -> None:
        """One slot granter at a time, across processes."""
        if self.db.postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(724310001)"))
        else:  # any write takes SQLite's database lock until the transaction ends
            conn.execute(
                t.pools.update()
                .where(t.pools.c.namespace == self.db.namespace, t.pools.c.name == DEFAULT_POOL)
                .values(slots=t.pools.c.slots)
            )

    # Last: a method named ``list`` would hide the builtin in the annotations after it.
    def list(self) -> list[PoolRecord]:
        """Every pool of the namespace, with the slots in use and the attempts waiting."""
        tr, p = t.task_runs.c, t.pools.c
        ns = self.db.namespace
        with self.db.connect() as conn:
            use = self._slots_in_use(conn)
            waiting: dict[str, int] = dict(
                conn.execute(
                    sa.select(tr.pool, sa.func.count())
                    .where(tr.namespace == ns, tr.pool.is_not(None))
                    .where(tr.status == TaskStatus.WAITING.value)
                    .group_by(tr.pool)
                ).all()
            )
            rows = conn.execute(sa.select(t.pools).where(p.namespace == ns).order_by(p.name)).all()
        return [
            PoolRecord(
                x.name, x.slots, x.description, int(use.get(x.name) or 0), waiting.get(x.name, 0)
            )
            for x in rows
        ]
