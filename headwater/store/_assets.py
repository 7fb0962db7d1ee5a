"""Assets: named data (URI-like names) that tasks update and pipelines are scheduled on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater._values import encoded_size, json_problem, shown, text_problem
from headwater.errors import InvalidValue, LimitError, NotFound
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


# The most an external event's metadata may be, as compact UTF-8 JSON: enough for a few
# paths, counts and checksums, not for the data itself.
MAX_EVENT_METADATA_BYTES = 64 << 10
# How deep its lists and objects may nest.
MAX_EVENT_METADATA_DEPTH = 32
MAX_SOURCE_LENGTH = 256


@dataclass(frozen=True)
class AssetEventRecord:
    """An update of ``asset``: the run, attempt and artifact that made it, or, for an
    external event (no run), the ``source`` that reported it and its ``metadata``; and
    the runs it triggered."""

    id: int
    asset: str
    run_id: str | None
    task_run_id: str | None
    artifact_id: str | None
    created_at: datetime
    triggered: tuple[str, ...] = ()
    source: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """``task`` (a task's output updated it) or ``external`` (reported from outside)."""
        return "task" if self.task_run_id is not None else "external"

    def context(self) -> dict[str, Any]:
        """The event as plain JSON data, as a run it triggered sees it."""
        return {
            "id": self.id,
            "asset": self.asset,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "metadata": self.metadata,
            "run_id": self.run_id,
            "task_run_id": self.task_run_id,
            "artifact_id": self.artifact_id,
        }


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

    def record_external_event(
        self, name: str, *, source: str, metadata: dict[str, Any] | None = None
    ) -> AssetEventRecord:
        """Record that ``name`` was updated outside any run (an API call, the CLI, a
        sensor that saw the data land), reported by ``source`` (who or what: a user and
        token, a sensor's name), with ``metadata`` (JSON data, at most 64 KiB). The
        pipelines scheduled on the asset run on the scheduler's next pass, as for an
        update by a task.

        The asset must be known (named by a deployed pipeline, or updated before): a
        misspelt name raises :class:`NotFound` instead of creating an asset nothing
        reads. A name, source or metadata that cannot be stored raises
        :class:`InvalidValue` (too large: :class:`LimitError`); nothing is written then.
        """
        _check_event(name, source, metadata)
        a, e = t.assets.c, t.asset_events.c
        with self.db.begin() as conn:
            asset_id = conn.execute(
                sa.select(a.id).where(a.namespace == self.db.namespace, a.name == name)
            ).scalar()
            if asset_id is None:
                raise NotFound(
                    f"no asset '{name}' in namespace '{self.db.namespace}'",
                    hint="an asset is known once a deployed pipeline is scheduled on it or "
                    "updates it; check the name with 'headwater assets list'",
                )
            created = now()
            event_id = conn.execute(
                t.asset_events.insert()
                .values(
                    namespace=self.db.namespace,
                    asset_id=asset_id,
                    created_at=created,
                    source=source,
                    extra=metadata,
                )
                .returning(e.id)
            ).scalar_one()
        return AssetEventRecord(event_id, name, None, None, None, created, (), source, metadata)

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
            sa.select(*_EVENT_COLUMNS)
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
            return _events(conn, conn.execute(q).all())

    def events_by_id(self, ids: Sequence[int]) -> list[AssetEventRecord]:
        """The events ``ids`` of this namespace, oldest first (those that trigger a run)."""
        if not ids:
            return []
        a, e = t.assets.c, t.asset_events.c
        q = (
            sa.select(*_EVENT_COLUMNS)
            .join(t.assets, a.id == e.asset_id)
            .where(e.namespace == self.db.namespace, e.id.in_(list(ids)))
            .order_by(e.id)
        )
        with self.db.connect() as conn:
            return _events(conn, conn.execute(q).all())

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


_EVENT_COLUMNS = (
    t.asset_events.c.id,
    t.assets.c.name,
    t.asset_events.c.run_id,
    t.asset_events.c.task_run_id,
    t.asset_events.c.artifact_id,
    t.asset_events.c.created_at,
    t.asset_events.c.source,
    t.asset_events.c.extra,
)


def _events(conn: sa.Connection, rows: Sequence[Any]) -> list[AssetEventRecord]:
    """Event records of ``rows`` (of :data:`_EVENT_COLUMNS`), with the runs they triggered."""
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
            x.source,
            x.extra,
        )
        for x in rows
    ]


def _check_event(name: str, source: str, metadata: dict[str, Any] | None) -> None:
    """Refuse an external event that cannot be stored, saying what to change."""
    problem = text_problem(name) if isinstance(name, str) else "is not text"
    if problem is not None:
        raise InvalidValue(
            f"asset name {shown(str(name))} {problem}",
            hint="give the name as UTF-8 text, as the pipelines name the asset",
        )
    # Imported here: a command that reads the store never loads the spec's models for it.
    from headwater.spec import asset_error

    problem = asset_error(name)
    if problem is not None:
        raise InvalidValue(
            problem,
            hint="name the asset as the pipelines do: a URI-like name such as "
            "'s3://bucket/churn/features' (see 'headwater assets list')",
        )
    why = text_problem(source) if isinstance(source, str) else "is not text"
    if why is None and not source.strip():
        why = "is empty"
    if why is None and len(source) > MAX_SOURCE_LENGTH:
        why = f"is {len(source)} characters long (at most {MAX_SOURCE_LENGTH})"
    if why is not None:
        raise InvalidValue(
            f"the source of an event on '{name}' {why}",
            hint="say who or what reports the update in a few words, e.g. 'sensor landing'",
        )
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise InvalidValue(
            f"the metadata of an event on '{name}' is a {type(metadata).__name__}, not an object",
            hint='give an object of names and values, e.g. {"rows": 1200, "path": "..."}',
        )
    found = json_problem(metadata, "metadata", max_depth=MAX_EVENT_METADATA_DEPTH)
    if found is not None:
        at, why = found
        raise InvalidValue(
            f"{at} of an event on '{name}' {why}",
            hint="give text as UTF-8, numbers as finite JSON numbers, and nest at most "
            f"{MAX_EVENT_METADATA_DEPTH} levels",
        )
    size = encoded_size(metadata)
    if size > MAX_EVENT_METADATA_BYTES:
        raise LimitError(
            f"the metadata of an event on '{name}' is {size:,} bytes as JSON, more than the "
            f"{MAX_EVENT_METADATA_BYTES:,} an event's metadata may be",
            hint="put a reference to the data (a path, a URI, a count) in the metadata, "
            "not the data itself",
        )
