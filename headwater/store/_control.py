"""Who drives a run, and requests from outside its engine: cancel, clear.

A run is driven by one engine at a time, named by ``runs.engine_id``. An engine claims
a run, keeps its heartbeat fresh, and loses it only when the heartbeat goes stale, when
another scheduler may adopt it. On PostgreSQL the claim reads with ``FOR UPDATE SKIP
LOCKED`` so that schedulers racing for queued runs do not wait on each other; on both
databases the claim itself is a conditional update, so only one of them wins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, NotFound
from headwater.states import RUN_ACTIVE, TASK_DONE, TASK_OK, RunStatus
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, now

# Runs driven by the CLI process that created them; schedulers leave those alone.
CLI_TRIGGER = "manual"
_ACTIVE = [s.value for s in RUN_ACTIVE]


class ControlStore:
    """Run ownership, heartbeats, cancel requests and clearing tasks (``store.control``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ run ownership

    def claim_run(self, run_id: str, owner: str, stale_before: datetime | None = None) -> bool:
        """Make ``owner`` the engine of ``run_id``: it must be unowned, already ``owner``'s,
        or (given ``stale_before``) have a heartbeat older than that."""
        r = t.runs.c
        free = sa.or_(r.engine_id.is_(None), r.engine_id == owner)
        if stale_before is not None:
            free = sa.or_(free, r.heartbeat_at < stale_before)
        with self.db.begin() as conn:
            done = conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.namespace == self.db.namespace, free)
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
        with self.db.begin() as conn:
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
        claimable = sa.and_(
            r.namespace == self.db.namespace,
            r.trigger != CLI_TRIGGER,
            r.status.in_(_ACTIVE),
            sa.or_(
                r.engine_id.is_(None),  # queued, or given back by an engine that failed
                r.heartbeat_at < stale_before,
            ),
        )
        q = sa.select(r.id).where(claimable).order_by(r.created_at).limit(limit)
        if self.db.postgres:
            q = q.with_for_update(skip_locked=True)
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
            conn.execute(
                t.runs.update()
                .where(r.id == run_id, r.engine_id == owner)
                .values(engine_id=None, heartbeat_at=None)
            )

    def fail_run(self, run_id: str, owner: str, error: str) -> bool:
        """End a run this owner drives as failed (its engine could not go on); False when
        the run is not ``owner``'s or has already ended."""
        r = t.runs.c
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(r.status).where(
                    r.id == run_id, r.namespace == self.db.namespace, r.engine_id == owner
                )
            ).first()
            if row is None or RunStatus(row.status) not in RUN_ACTIVE:
                return False
            status = RunStatus(row.status)
            return moves.move_run(
                conn,
                self.db.namespace,
                run_id,
                status,
                RunStatus.FAILED,
                where=[r.engine_id == owner],
                error=error,
            )

    def owned_runs_to_cancel(self, owner: str) -> list[str]:
        r = t.runs.c
        with self.db.connect() as conn:
            return list(
                conn.execute(
                    sa.select(r.id).where(
                        r.engine_id == owner,
                        r.cancel_requested_at.is_not(None),
                        r.status.in_(_ACTIVE),
                    )
                ).scalars()
            )

    # ------------------------------------------------------------------ requests

    def _run_state(self, conn: sa.Connection, run_id: str) -> tuple[RunStatus, str | None]:
        """A run's status and engine, read inside the caller's transaction."""
        r = t.runs.c
        row = conn.execute(
            sa.select(r.status, r.engine_id).where(r.id == run_id, r.namespace == self.db.namespace)
        ).first()
        if row is None:
            raise NotFound(f"no run '{run_id}'")
        return RunStatus(row.status), row.engine_id

    def request_cancel(self, run_id: str) -> RunStatus:
        """Cancel a queued run nobody drives at once; ask the engine of any other live run
        to cancel it. Returns the run's status after the call."""
        r = t.runs.c
        with self.db.begin() as conn:
            status, engine_id = self._run_state(conn, run_id)
            if status not in RUN_ACTIVE:
                raise Conflict(
                    f"run {run_id} already ended ({status}); there is nothing to cancel",
                    hint="retry its failed tasks or trigger a new run instead",
                )
            stamp = now()
            if (
                status is RunStatus.QUEUED
                and engine_id is None
                and moves.move_run(
                    conn,
                    self.db.namespace,
                    run_id,
                    status,
                    RunStatus.CANCELLED,
                    where=[r.engine_id.is_(None)],
                    finished_at=stamp,
                    cancel_requested_at=stamp,
                    error="cancelled by the user",
                )
            ):
                return RunStatus.CANCELLED
            conn.execute(t.runs.update().where(r.id == run_id).values(cancel_requested_at=stamp))
        return status

    def clear_tasks(self, run_id: str, paths: Sequence[str], *, confine: bool = False) -> list[str]:
        """Mark the latest attempts of ``paths`` (and their loop iterations and inner tasks)
        cleared and queue the ended run again, in one transaction; the run's next engine
        runs them afresh. Returns the cleared paths. With ``confine`` (a requeue through a
        server) the run reads only its namespace's URI roots from then on."""
        tr = t.task_runs.c
        with self.db.begin() as conn:
            status, _ = self._run_state(conn, run_id)
            if status in RUN_ACTIVE:
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
            conn.execute(
                t.task_runs.update().where(tr.id.in_([x.id for x in hit])).values(cleared_at=now())
            )
            confined: dict[str, Any] = {"confined": True} if confine else {}
            if not moves.move_run(
                conn, self.db.namespace, run_id, status, RunStatus.QUEUED, **confined
            ):
                raise Conflict(
                    f"run {run_id} changed while its tasks were being cleared",
                    hint="look at it again and retry",
                )
        return sorted({x.path for x in hit})

    def unfinished_paths(self, run_id: str) -> list[str]:
        """Paths whose latest live attempt did not succeed (what 'retry failed' clears)."""
        tr = t.task_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(tr.path, tr.attempt, tr.status)
                .where(tr.run_id == run_id, tr.cleared_at.is_(None))
                .order_by(tr.path, tr.attempt)
            ).all()
        latest: dict[str, str] = {}
        for x in rows:
            latest[x.path] = x.status
        ok = {s.value for s in TASK_OK}
        done = {s.value for s in TASK_DONE}
        return sorted(p for p, s in latest.items() if s in done and s not in ok)
