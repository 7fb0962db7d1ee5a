"""Deployments (``store.deployments``; docs/adr/0022): the names ``headwater serve
--deployment`` answers, each following a model version by reference (``NAME@ALIAS``,
``NAME:VERSION``, ``NAME``) with an optional canary share and an optional shadow; every
change of one as a numbered revision; and what each server actually served, in which
role, since when (the serving hop of lineage).

A reference is stored as written, not as the version it names now: a deployment that
follows ``churn@champion`` follows the alias when it moves. ``revision`` grows with each
change, so a server polling a deployment sees a change with one cheap read.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, new_id, now
from headwater.store._models import ModelStore
from headwater.store._records import LATEST, ModelVersionRecord, check_model_name

#: The roles a served version plays in a deployment.
ROLES = ("main", "canary", "shadow")
#: The canary share when a canary is named without one.
DEFAULT_CANARY_PERCENT = 10.0
_REF = re.compile(r"^(?P<name>[^@:/\s]+)(?:@(?P<alias>[^@:/\s]+)|[:/](?P<version>[^@:/\s]+))?$")
_REF_HINT = "write NAME@ALIAS, NAME:VERSION or NAME (its newest), e.g. churn@champion or churn:3"
_HINT = "list the deployments with 'headwater deployments list'"
_UNSET: Any = object()


@dataclass(frozen=True)
class DeploymentRecord:
    """A deployment as stored: what it follows, not what that resolves to now."""

    id: str
    name: str
    model: str
    canary: str | None
    canary_percent: float
    shadow: str | None
    revision: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeploymentRevision:
    """One configuration a deployment had, and the action that gave it."""

    revision: int
    action: str
    model: str
    canary: str | None
    canary_percent: float
    shadow: str | None
    actor: str | None
    created_at: datetime


@dataclass(frozen=True)
class ServingRecord:
    """A model version a server served for a deployment, in a role, from ``since`` until
    ``until`` (None: still serving)."""

    deployment: str
    role: str
    model: str
    version: int
    version_id: str
    artifact_id: str
    server: str
    since: datetime
    until: datetime | None


def normalize_ref(text: Any, what: str = "model") -> str:
    """``text`` as ``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME``, or a clear error."""
    found = _REF.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise InvalidValue(f"{what} {repr(text)[:80]} is not a model reference", hint=_REF_HINT)
    name, alias, version = found["name"], found["alias"], found["version"]
    check_model_name(name)
    if version is not None:
        if not version.isdigit() or int(version) < 1:
            raise InvalidValue(
                f"{what} {text!r}: version {version!r} is not a whole number from 1",
                hint=_REF_HINT,
            )
        return f"{name}:{int(version)}"
    return f"{name}@{alias}" if alias else name


class DeploymentStore:
    """Deployments of one namespace, their revisions and serving history."""

    def __init__(self, db: Database, models: ModelStore) -> None:
        self.db = db
        self.models = models

    # ------------------------------------------------------------------ reading

    def list_deployments(self, limit: int = 1000) -> list[DeploymentRecord]:
        """Deployments, by name."""
        d = t.deployments.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.deployments)
                .where(d.namespace == self.db.namespace)
                .order_by(d.name)
                .limit(limit)
            ).all()
        return [_record(r) for r in rows]

    def get(self, name: str) -> DeploymentRecord:
        """A deployment by name, or :class:`NotFound`."""
        with self.db.connect() as conn:
            return _record(self._row(conn, name))

    def resolve(self, ref: str) -> ModelVersionRecord:
        """The model version ``ref`` names now."""
        ref = normalize_ref(ref)
        name, _, version = ref.partition(":")
        if version:
            return self.models.get_version(name, int(version))
        name, _, alias = ref.partition("@")
        return self.models.by_alias(name, alias or LATEST)

    def revisions(self, name: str, limit: int = 1000) -> list[DeploymentRevision]:
        """Every configuration of deployment ``name``, newest first."""
        r = t.deployment_revisions.c
        with self.db.connect() as conn:
            row = self._row(conn, name)
            rows = conn.execute(
                sa.select(t.deployment_revisions)
                .where(r.deployment_id == row.id, r.namespace == self.db.namespace)
                .order_by(r.id.desc())
                .limit(limit)
            ).all()
        return [
            DeploymentRevision(
                x.revision,
                x.action,
                x.model,
                x.canary,
                x.canary_percent,
                x.shadow,
                x.actor,
                x.created_at,
            )
            for x in rows
        ]

    def serving(
        self,
        name: str | None = None,
        *,
        version_id: str | None = None,
        artifact_ids: list[str] | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[ServingRecord]:
        """What was served, newest first: of deployment ``name``, of the model version
        ``version_id`` (which deployments serve it, since when), of the versions
        registered from ``artifact_ids`` (lineage's last hop), or all."""
        s, d = t.deployment_serving.c, t.deployments.c
        v, m = t.model_versions.c, t.registered_models.c
        query = (
            sa.select(
                t.deployment_serving,
                d.name.label("deployment"),
                m.name.label("model"),
                v.version.label("number"),
                v.artifact_id,
            )
            .join(t.deployments, d.id == s.deployment_id)
            .join(t.model_versions, v.id == s.version_id)
            .join(t.registered_models, m.id == v.model_id)
            .where(s.namespace == self.db.namespace)
            .order_by(s.id.desc())
            .limit(limit)
        )
        with self.db.connect() as conn:
            if name is not None:
                query = query.where(s.deployment_id == self._row(conn, name).id)
            if version_id is not None:
                query = query.where(s.version_id == version_id)
            if artifact_ids is not None:
                query = query.where(v.artifact_id.in_(artifact_ids))
            if open_only:
                query = query.where(s.until.is_(None))
            rows = conn.execute(query).all()
        return [
            ServingRecord(
                r.deployment,
                r.role,
                r.model,
                r.number,
                r.version_id,
                r.artifact_id,
                r.server,
                r.since,
                r.until,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ writing

    def create(
        self,
        name: str,
        model: str,
        *,
        canary: str | None = None,
        canary_percent: float | None = None,
        shadow: str | None = None,
        actor: str | None = None,
    ) -> DeploymentRecord:
        """A new deployment; every reference must name an existing model version now."""
        check_model_name(name)
        config = self._check(model, canary, canary_percent, shadow)
        ts = now()
        with self.db.begin() as conn:
            created = conn.execute(
                self.db.insert_new(t.deployments)
                .values(
                    id=new_id(),
                    namespace=self.db.namespace,
                    name=name,
                    revision=1,
                    created_by=actor,
                    created_at=ts,
                    updated_at=ts,
                    **config,
                )
                .returning(t.deployments.c.id)
            ).first()
            if created is None:
                raise Conflict(
                    f"deployment '{name}' exists already",
                    hint=f"change it with 'headwater deployments update {name} ...'",
                )
            self._revision(conn, created[0], 1, "create", config, actor, ts)
        return self.get(name)

    def update(
        self,
        name: str,
        *,
        model: str | None = None,
        canary: str | None = _UNSET,
        canary_percent: float | None = None,
        shadow: str | None = _UNSET,
        actor: str | None = None,
    ) -> DeploymentRecord:
        """Change what a deployment follows; ``canary=None`` / ``shadow=None`` remove
        them, arguments left out keep their values."""
        current = self.get(name)
        new_canary = current.canary if canary is _UNSET else canary
        percent = canary_percent
        if percent is None and new_canary is not None:
            percent = current.canary_percent if canary is _UNSET or current.canary else None
        config = self._check(
            model or current.model,
            new_canary,
            percent,
            current.shadow if shadow is _UNSET else shadow,
        )
        return self._apply(name, "update", config, actor)

    def promote(self, name: str, actor: str | None = None) -> DeploymentRecord:
        """The canary becomes the main version; the deployment has no canary after."""
        current = self.get(name)
        if current.canary is None:
            raise InvalidValue(
                f"deployment '{name}' has no canary to promote",
                hint=f"give it one with 'headwater deployments update {name} --canary MODEL'",
            )
        config = self._check(current.canary, None, None, current.shadow, same_ok=True)
        return self._apply(name, "promote", config, actor)

    def rollback(self, name: str, actor: str | None = None) -> DeploymentRecord:
        """Back to what the deployment served before: its main version before the current
        one (pinned by number, so that an alias moved on does not bring it back), without a
        canary; or, when it was never served, its previous revision."""
        current = self.get(name)
        served = [s for s in self.serving(name) if s.role == "main"]
        target: dict[str, Any] | None = None
        if served:
            now_serving = served[0].version_id
            before = next((s for s in served if s.version_id != now_serving), None)
            if before is not None:
                target = self._check(f"{before.model}:{before.version}", None, None, current.shadow)
        else:
            revisions = self.revisions(name, limit=2)
            if len(revisions) == 2:
                old = revisions[1]
                target = self._check(old.model, old.canary, old.canary_percent, old.shadow)
        if target is None:
            raise InvalidValue(
                f"deployment '{name}' has nothing to roll back to: it has served one version",
                hint=f"see what it served with 'headwater deployments show {name}'",
            )
        return self._apply(name, "rollback", target, actor)

    def delete(self, name: str, force: bool = False) -> DeploymentRecord:
        """Remove a deployment with its history. Refused while a server reports serving
        it (``force``: a server on another machine that died without saying so; one on
        this machine is known dead by its pid)."""
        from headwater._process import pid_alive

        current = self.get(name)
        self.stop_dead_servers(socket.gethostname(), pid_alive)
        serving = self.serving(name, open_only=True)
        if serving and not force:
            servers = ", ".join(sorted({s.server for s in serving}))
            raise Conflict(
                f"deployment '{name}' is being served (by {servers}); it was not deleted",
                hint="stop the server first, or pass --force if it is gone",
            )
        with self.db.begin() as conn:
            for table in (t.deployment_serving, t.deployment_revisions):
                conn.execute(table.delete().where(table.c.deployment_id == current.id))
            conn.execute(t.deployments.delete().where(t.deployments.c.id == current.id))
        return current

    def record_serving(
        self, name: str, role: str, version: ModelVersionRecord | None, server: str
    ) -> None:
        """Server ``server`` now serves ``version`` as deployment ``name``'s ``role``
        (None: nothing in that role): the open row it had for the role is closed."""
        if role not in ROLES:
            raise InvalidValue(f"role {role!r} is not one of {', '.join(ROLES)}")
        s = t.deployment_serving.c
        ts = now()
        with self.db.begin() as conn:
            deployment_id = self._row(conn, name).id
            mine = (
                s.deployment_id == deployment_id,
                s.role == role,
                s.server == server,
                s.until.is_(None),
            )
            current = conn.execute(sa.select(s.version_id).where(*mine)).scalars().all()
            if version is not None and current == [version.id]:
                return
            conn.execute(t.deployment_serving.update().where(*mine).values(until=ts))
            if version is not None:
                conn.execute(
                    t.deployment_serving.insert().values(
                        namespace=self.db.namespace,
                        deployment_id=deployment_id,
                        role=role,
                        version_id=version.id,
                        server=server,
                        since=ts,
                    )
                )

    def stop_serving(self, server: str) -> None:
        """Server ``server`` stopped: close every row it has open."""
        s = t.deployment_serving.c
        with self.db.begin() as conn:
            conn.execute(
                t.deployment_serving.update()
                .where(s.namespace == self.db.namespace, s.server == server, s.until.is_(None))
                .values(until=now())
            )

    def stop_dead_servers(self, host: str, alive: Callable[[int], bool]) -> list[str]:
        """Close the open rows of servers on ``host`` whose process is gone (``alive``
        tells, by pid): a server killed with SIGKILL never said it stopped. Returns the
        servers whose rows were closed."""
        s = t.deployment_serving.c
        with self.db.connect() as conn:
            servers = conn.execute(
                sa.select(s.server)
                .where(
                    s.namespace == self.db.namespace,
                    s.until.is_(None),
                    s.server.startswith(f"{host}:", autoescape=True),
                )
                .distinct()
            ).scalars()
            dead = [
                server
                for server in servers
                if (pid := server.rpartition(":")[2]).isdigit() and not alive(int(pid))
            ]
        for server in dead:
            self.stop_serving(server)
        return dead

    # ------------------------------------------------------------------ helpers

    def _check(
        self,
        model: str,
        canary: str | None,
        canary_percent: float | None,
        shadow: str | None,
        same_ok: bool = False,
    ) -> dict[str, Any]:
        model = normalize_ref(model)
        main = self.resolve(model)
        if canary is None and canary_percent not in (None, 0):
            raise InvalidValue(
                "a canary percentage needs a canary", hint="name one with --canary MODEL"
            )
        percent = 0.0
        if canary is not None:
            canary = normalize_ref(canary, "canary")
            percent = DEFAULT_CANARY_PERCENT if canary_percent is None else canary_percent
            if (
                isinstance(percent, bool)
                or not isinstance(percent, int | float)
                or not math.isfinite(percent)
                or not 0 <= percent <= 100
            ):
                raise InvalidValue(
                    f"canary percentage {percent!r} is not between 0 and 100",
                    hint="e.g. --canary-percent 10",
                )
            if self.resolve(canary).id == main.id:
                raise InvalidValue(
                    f"the canary {canary} is the main version ({main.model} version "
                    f"{main.version}, as {model}): a canary must be another version",
                    hint="name the version to try, e.g. churn@challenger",
                )
        if shadow is not None:
            shadow = normalize_ref(shadow, "shadow")
            if self.resolve(shadow).id == main.id and not same_ok:
                raise InvalidValue(
                    f"the shadow {shadow} is the main version ({main.model} version "
                    f"{main.version}): a shadow must be another version",
                    hint="name the version to try, e.g. churn@candidate",
                )
        return {
            "model": model,
            "canary": canary,
            "canary_percent": float(percent),
            "shadow": shadow,
        }

    def _apply(
        self, name: str, action: str, config: dict[str, Any], actor: str | None
    ) -> DeploymentRecord:
        d = t.deployments.c
        ts = now()
        with self.db.begin() as conn:
            found = conn.execute(
                sa.update(t.deployments)
                .where(d.namespace == self.db.namespace, d.name == name)
                .values(revision=d.revision + 1, updated_at=ts, **config)
                .returning(d.id, d.revision)
            ).first()
            if found is None:
                raise NotFound(f"no deployment '{name}'", hint=_HINT)
            self._revision(conn, found[0], found[1], action, config, actor, ts)
        return self.get(name)

    def _revision(
        self,
        conn: sa.Connection,
        deployment_id: str,
        revision: int,
        action: str,
        config: dict[str, Any],
        actor: str | None,
        ts: Any,
    ) -> None:
        conn.execute(
            t.deployment_revisions.insert().values(
                namespace=self.db.namespace,
                deployment_id=deployment_id,
                revision=revision,
                action=action,
                actor=actor,
                created_at=ts,
                **config,
            )
        )

    def _row(self, conn: sa.Connection, name: str) -> Any:
        d = t.deployments.c
        row = conn.execute(
            sa.select(t.deployments).where(d.namespace == self.db.namespace, d.name == name)
        ).first()
        if row is None:
            raise NotFound(f"no deployment '{name}'", hint=_HINT)
        return row


def _record(row: Any) -> DeploymentRecord:
    return DeploymentRecord(
        row.id,
        row.name,
        row.model,
        row.canary,
        float(row.canary_percent),
        row.shadow,
        int(row.revision),
        row.created_by,
        row.created_at,
        row.updated_at,
    )
