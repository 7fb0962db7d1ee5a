"""Who drives a run, and requests from outside its engine: cancel, clear, pools and slots.

A run is driven by one engine at a time, named by ``runs.engine_id``. An engine claims
a run, keeps its heartbeat fresh, and loses it only when the heartbeat goes stale, when
another scheduler may adopt it. On PostgreSQL the claim reads with ``FOR UPDATE SKIP
LOCKED`` so that schedulers racing for queued runs do not wait on each other; on both
databases the claim itself is a conditional update, so only one of them wins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.states import TASK_DONE, TASK_SUCCESS, RunStatus, TaskStatus, check_run
from headwater.store import _schema as t
from headwater.store._base import StoreBase, now

DEFAULT_POOL = "default_pool"
_LIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)
# Runs driven by the CLI process that created them; schedulers leave those alone.
CLI_TRIGGER = "manual"


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


class ControlStore(StoreBase):
    # ------------------------------------------------------------------ run ownership

    def claim_run(self, run_id: str, owner: str, stale_before: datetime | None = None) -> bool:
        """Make ``owner`` the engine of ``run_id``: it must be unowned, already ``owner``'s,
        or (given ``stale_before``) have a heartbeat older than that."""
        r = t.runs.c
        free = sa.or_(r.engine_id.is_(None), r.engine_id == owner)
        if stale_before is not None:
            free = sa.or_(free, r.heartbeat_at < stale_before)
        with self._begin() as conn:
            done = conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.namespace == self.namespace, free)
                .values(
                    engine_id=owner,
                    engine_host=os.uname().nodename,
                    engine_pid=os.getpid(),
                    heartbeat_at=now(),
                )
            ).rowcount
        return bool(done)

    def heartbeat(self, run_id: str, owner: str) -> tuple[bool, bool]:
        """Refresh ``owner``'s heartbeat on ``run_id``: (still owned, cancel requested)."""
        r = t.runs.c
        with self._begin() as conn:
            done = conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.engine_id == owner)
                .values(heartbeat_at=now())
            ).rowcount
            cancel = conn.execute(sa.select(r.cancel_requested_at).where(r.id == run_id)).scalar()
        return bool(done), cancel is not None

    def claim_runs(self, owner: str, stale_before: datetime, limit: int) -> list[str]:
        """Claim up to ``limit`` runs for a scheduler: queued runs nobody drives, and runs
        whose engine's heartbeat is older than ``stale_before`` (their engine died)."""
        r = t.runs.c
        active = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
        claimable = sa.and_(
            r.namespace == self.namespace,
            r.trigger != CLI_TRIGGER,
            r.status.in_(active),
            sa.or_(
                r.engine_id.is_(None),  # queued, or given back by an engine that failed
                r.heartbeat_at < stale_before,
            ),
        )
        q = sa.select(r.id).where(claimable).order_by(r.created_at).limit(limit)
        if self.postgres:
            q = q.with_for_update(skip_locked=True)
        with self._begin() as conn:
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(
                t.runs.update()
                .where(r.id.in_(ids), claimable)
                .values(
                    engine_id=owner,
                    engine_host=os.uname().nodename,
                    engine_pid=os.getpid(),
                    heartbeat_at=now(),
                )
            )
            return list(
                conn.execute(sa.select(r.id).where(r.id.in_(ids), r.engine_id == owner)).scalars()
            )

    def release_run(self, run_id: str, owner: str) -> None:
        """Give a run back (its engine stopped without finishing it)."""
        r = t.runs.c
        with self._begin() as conn:
            conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.engine_id == owner)
                .values(engine_id=None, heartbeat_at=None)
            )

    def fail_run(self, run_id: str, owner: str, error: str) -> bool:
        """End a run this owner drives as failed (its engine could not go on)."""
        r = t.runs.c
        with self._begin() as conn:
            return bool(
                conn.execute(
                    t.runs.update()
                    .where(
                        r.id == run_id,
                        r.engine_id == owner,
                        r.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)),
                    )
                    .values(status=RunStatus.FAILED.value, finished_at=now(), error=error)
                ).rowcount
            )

    def owned_runs_to_cancel(self, owner: str) -> list[str]:
        r = t.runs.c
        with self._connect() as conn:
            return list(
                conn.execute(
                    sa.select(r.id).where(
                        r.engine_id == owner,
                        r.cancel_requested_at.is_not(None),
                        r.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)),
                    )
                ).scalars()
            )

    # ------------------------------------------------------------------ requests

    def _run_state(self, conn: sa.Connection, run_id: str) -> tuple[RunStatus, str | None]:
        """A run's status and engine, read inside the caller's transaction."""
        r = t.runs.c
        row = conn.execute(
            sa.select(r.status, r.engine_id).where(r.id == run_id, r.namespace == self.namespace)
        ).first()
        if row is None:
            raise NotFound(f"no run '{run_id}'")
        return RunStatus(row.status), row.engine_id

    def request_cancel(self, run_id: str) -> RunStatus:
        """Cancel a queued run nobody drives at once; ask the engine of any other live run
        to cancel it. Returns the run's status after the call."""
        r = t.runs.c
        with self._begin() as conn:
            status, engine_id = self._run_state(conn, run_id)
            if status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                raise Conflict(
                    f"run {run_id} already ended ({status}); there is nothing to cancel",
                    hint="retry its failed tasks or trigger a new run instead",
                )
            stamp = now()
            if status is RunStatus.QUEUED and engine_id is None:
                check_run(status, RunStatus.CANCELLED)
                done = conn.execute(
                    t.runs.update()
                    .where(r.id == run_id, r.status == status.value, r.engine_id.is_(None))
                    .values(
                        status=RunStatus.CANCELLED.value,
                        finished_at=stamp,
                        cancel_requested_at=stamp,
                        error="cancelled by the user",
                    )
                ).rowcount
                if done:
                    return RunStatus.CANCELLED
            conn.execute(t.runs.update().where(r.id == run_id).values(cancel_requested_at=stamp))
        return status

    def clear_tasks(self, run_id: str, paths: Sequence[str], *, confine: bool = False) -> list[str]:
        """Mark the latest attempts of ``paths`` (and their loop iterations and inner tasks)
        cleared and queue the ended run again, in one transaction; the run's next engine
        runs them afresh. Returns the cleared paths. With ``confine`` (a requeue through a
        server) the run reads only its namespace's URI roots from then on."""
        r, tr = t.runs.c, t.task_runs.c
        with self._begin() as conn:
            status, _ = self._run_state(conn, run_id)
            if status in (RunStatus.QUEUED, RunStatus.RUNNING):
                raise Conflict(
                    f"run {run_id} is still {status}; tasks can be cleared once it has ended",
                    hint="wait for it to finish, or cancel it first",
                )
            rows = conn.execute(
                sa.select(tr.id, tr.path, tr.attempt, tr.status).where(
                    tr.run_id == run_id, tr.cleared_at.is_(None)
                )
            ).all()
            wanted = set(paths)
            hit = [
                x
                for x in rows
                if x.path in wanted or any(x.path.startswith((p + ".", p + "[")) for p in wanted)
            ]
            if not hit:
                raise NotFound(
                    f"run {run_id} has no task {', '.join(sorted(wanted)) or '(none given)'}",
                    hint="list its tasks with 'headwater runs show RUN'",
                )
            stamp = now()
            conn.execute(
                t.task_runs.update().where(tr.id.in_([x.id for x in hit])).values(cleared_at=stamp)
            )
            check_run(status, RunStatus.QUEUED)
            conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.status == status.value)
                .values(
                    status=RunStatus.QUEUED.value,
                    finished_at=None,
                    error=None,
                    engine_id=None,
                    heartbeat_at=None,
                    cancel_requested_at=None,
                    **({"confined": True} if confine else {}),
                )
            )
        return sorted({x.path for x in hit})

    def unfinished_paths(self, run_id: str) -> list[str]:
        """Paths whose latest live attempt did not succeed (what 'retry failed' clears)."""
        tr = t.task_runs.c
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(tr.path, tr.attempt, tr.status)
                .where(tr.run_id == run_id, tr.cleared_at.is_(None))
                .order_by(tr.path, tr.attempt)
            ).all()
        latest: dict[str, str] = {}
        for x in rows:
            latest[x.path] = x.status
        ok = {s.value for s in TASK_SUCCESS} | {TaskStatus.SKIPPED.value}
        done = {s.value for s in TASK_DONE}
        return sorted(p for p, s in latest.items() if s in done and s not in ok)

    # ------------------------------------------------------------------ pools

    def _slots_in_use(self, conn: sa.Connection) -> dict[str, int]:
        """Slots held per pool: by queued and running attempts that were granted them."""
        tr = t.task_runs.c
        rows = conn.execute(
            sa.select(tr.pool, sa.func.sum(sa.func.coalesce(tr.pool_slots, 1)))
            .where(tr.namespace == self.namespace, tr.pool.is_not(None))
            .where(tr.status.in_(_LIVE))
            .group_by(tr.pool)
        ).all()
        return {pool: int(n or 0) for pool, n in rows}

    def pools(self) -> list[PoolRecord]:
        tr, p = t.task_runs.c, t.pools.c
        with self._connect() as conn:
            use = self._slots_in_use(conn)
            waiting: dict[str, int] = dict(
                conn.execute(
                    sa.select(tr.pool, sa.func.count())
                    .where(tr.namespace == self.namespace, tr.pool.is_not(None))
                    .where(tr.status == TaskStatus.WAITING.value)
                    .group_by(tr.pool)
                ).all()
            )
            rows = conn.execute(
                sa.select(t.pools).where(p.namespace == self.namespace).order_by(p.name)
            ).all()
        return [
            PoolRecord(
                x.name, x.slots, x.description, int(use.get(x.name) or 0), waiting.get(x.name, 0)
            )
            for x in rows
        ]

    def get_pool(self, name: str) -> PoolRecord:
        for pool in self.pools():
            if pool.name == name:
                return pool
        raise NotFound(
            f"no pool '{name}'", hint=f"create it with 'headwater pools set {name} --slots N'"
        )

    def set_pool(self, name: str, slots: int | None, description: str | None = None) -> PoolRecord:
        """Create a pool or change its slots (``None``: unlimited)."""
        from headwater.spec._validate._common import POOL_RE

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
        with self._begin() as conn:
            # Create it if new (another process may create it at the same moment), then set.
            conn.execute(
                self._insert_new(t.pools).values(
                    namespace=self.namespace,
                    name=name,
                    slots=slots,
                    description=description,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
            conn.execute(
                t.pools.update()
                .where(p.namespace == self.namespace, p.name == name)
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
        with self._begin() as conn:
            conn.execute(
                t.pools.delete().where(
                    t.pools.c.namespace == self.namespace, t.pools.c.name == name
                )
            )

    def limited_pools(self) -> dict[str, int | None]:
        """Every pool's slots (None for unlimited)."""
        with self._connect() as conn:
            return dict(
                conn.execute(
                    sa.select(t.pools.c.name, t.pools.c.slots).where(
                        t.pools.c.namespace == self.namespace
                    )
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
        the granted ids, and the ids that can never run (their pool does not exist) with
        the reason.
        """
        if not requests:
            return [], {}
        tr, p, r = t.task_runs.c, t.pools.c, t.runs.c
        with self._begin() as conn:
            self._lock_slots(conn)
            slots = dict(
                conn.execute(sa.select(p.name, p.slots).where(p.namespace == self.namespace)).all()
            )
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
                    .where(tr.namespace == self.namespace, tr.id.not_in(ids))
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
            if granted:
                conn.execute(
                    t.task_runs.update()
                    .where(tr.id.in_(granted), tr.status == TaskStatus.WAITING.value)
                    .values(status=TaskStatus.QUEUED.value)
                )
        return granted, refused

    def _lock_slots(self, conn: sa.Connection) -> None:
        """One slot granter at a time, across processes."""
        if self.postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(724310001)"))
        else:  # any write takes SQLite's database lock until the transaction ends
            conn.execute(
                t.pools.update()
                .where(t.pools.c.namespace == self.namespace, t.pools.c.name == DEFAULT_POOL)
                .values(slots=t.pools.c.slots)
            )
