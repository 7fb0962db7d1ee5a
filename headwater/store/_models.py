"""The model registry's tables: named models, their numbered versions, aliases and the
history of every alias move (``store.models``; docs/adr/0018).

A version's number comes from its model's ``last_version`` counter, incremented by the
first statement that touches the model's row in the registering transaction: on
PostgreSQL that ``UPDATE`` locks the row until the transaction ends, on SQLite it takes
the database's write lock, so concurrent registrations wait for each other and never
share a number. Moving an alias takes the same lock first, so the move and its history
row are one step, and two moves of one alias are ordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, new_id, now
from headwater.store._experiments import ExperimentStore
from headwater.store._lineage import LineageStore
from headwater.store._records import (
    LATEST,
    MODEL_TYPES,
    AliasChange,
    ArtifactRecord,
    ModelRecord,
    ModelVersionRecord,
    NewModelVersion,
    check_alias,
    check_model_name,
    check_tags,
)

_MODEL_HINT = "list the registered models with 'headwater models list'"


class ModelStore:
    """Registered models of one namespace, their versions and aliases (``store.models``)."""

    def __init__(self, db: Database, lineage: LineageStore, experiments: ExperimentStore) -> None:
        self.db = db
        self.lineage = lineage
        self.experiments = experiments

    # ------------------------------------------------------------------ reading

    def list_models(self, limit: int = 1000) -> list[ModelRecord]:
        """Registered models, by name."""
        m = t.registered_models.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.registered_models)
                .where(m.namespace == self.db.namespace)
                .order_by(m.name)
                .limit(limit)
            ).all()
            aliases = self._aliases(conn, [r.id for r in rows])
        return [self._model(r, aliases.get(r.id, {})) for r in rows]

    def get_model(self, name: str) -> ModelRecord:
        """A registered model by name, or :class:`NotFound`."""
        with self.db.connect() as conn:
            row = self._model_row(conn, name)
            return self._model(row, self._aliases(conn, [row.id]).get(row.id, {}))

    def versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of model ``name``, newest first."""
        v = t.model_versions.c
        with self.db.connect() as conn:
            model = self._model_row(conn, name)
            rows = conn.execute(
                sa.select(t.model_versions)
                .where(v.model_id == model.id, v.namespace == self.db.namespace)
                .order_by(v.version.desc())
            ).all()
            named = self._aliases_by_version(conn, model.id)
        return [self._version(r, model.name, named.get(r.id, ())) for r in rows]

    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        """Version number ``version`` of model ``name``, or :class:`NotFound`."""
        v = t.model_versions.c
        with self.db.connect() as conn:
            model = self._model_row(conn, name)
            row = conn.execute(
                sa.select(t.model_versions).where(
                    v.model_id == model.id,
                    v.version == version,
                    v.namespace == self.db.namespace,
                )
            ).first()
            if row is None:
                raise NotFound(
                    f"model '{model.name}' has no version {version!r} "
                    f"({_versions_held(model.last_version)})",
                    hint=f"list its versions with 'headwater models versions {model.name}'",
                )
            named = self._aliases_by_version(conn, model.id)
        return self._version(row, model.name, named.get(row.id, ()))

    def by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        """The version that ``alias`` of model ``name`` points at (``latest``: the newest
        version), or :class:`NotFound`."""
        model = self.get_model(name)
        if alias == LATEST:
            if model.last_version == 0:
                raise NotFound(f"model '{name}' has no versions")
            return self.versions(name)[0]
        if alias not in model.aliases:
            known = ", ".join(sorted(model.aliases)) or "none"
            raise NotFound(
                f"model '{name}' has no alias '{alias}' (its aliases: {known})",
                hint=f"set it with 'headwater models alias set {name} {alias} VERSION'",
            )
        return self.get_version(name, model.aliases[alias])

    def versions_of_artifact(self, artifact_id: str) -> list[ModelVersionRecord]:
        """The model versions that artifact ``artifact_id`` was registered as."""
        v, m = t.model_versions.c, t.registered_models.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.model_versions, m.name.label("model_name"))
                .join(t.registered_models, m.id == v.model_id)
                .where(v.artifact_id == artifact_id, v.namespace == self.db.namespace)
                .order_by(m.name, v.version)
            ).all()
        return [self._version(r, r._mapping["model_name"], ()) for r in rows]

    def alias_history(self, name: str, limit: int = 1000) -> list[AliasChange]:
        """Every move of the aliases of model ``name``, newest first."""
        h = t.model_alias_history.c
        with self.db.connect() as conn:
            model = self._model_row(conn, name)
            rows = conn.execute(
                sa.select(t.model_alias_history)
                .where(h.model_id == model.id, h.namespace == self.db.namespace)
                .order_by(h.id.desc())
                .limit(limit)
            ).all()
        return [
            AliasChange(r.alias, r.from_version, r.to_version, r.actor, r.created_at) for r in rows
        ]

    # ------------------------------------------------------------------ writing

    def register(
        self,
        name: str,
        new: NewModelVersion,
        *,
        aliases: Sequence[str] = (),
        model_description: str | None = None,
        any_type: bool = False,
    ) -> ModelVersionRecord:
        """Register artifact ``new.artifact_id`` as the next version of model ``name``
        (created on first use), and point ``aliases`` at it, all in one transaction.

        The artifact must be one of this namespace's, of a model type (``any_type``: its
        task process checked that already, by class). Run and task attempt default to
        those that made the artifact; the version keeps the run's metrics as they are
        now."""
        check_model_name(name)
        wanted = list(dict.fromkeys(check_alias(a) for a in aliases))
        tags = check_tags(new.tags)
        if new.description is not None and not isinstance(new.description, str):
            raise InvalidValue("a model version's description must be text")
        artifact = self._artifact(new.artifact_id)
        if not any_type and artifact.type not in MODEL_TYPES:
            raise InvalidValue(
                f"artifact '{artifact.id}' ({artifact.name}) is a {artifact.type}, not a model",
                hint="register an artifact that a task wrote as Output[Model]",
            )
        run_id = new.run_id or artifact.run_id
        task_run_id = new.task_run_id or artifact.task_run_id
        metrics: dict[str, dict[str, float]] = {}
        if run_id is not None:
            found = self.experiments.results(run_ids=[run_id])
            metrics = found[0].metrics if found else {}
        ts = now()
        m = t.registered_models.c
        with self.db.begin() as conn:
            conn.execute(
                self.db.insert_new(t.registered_models).values(
                    id=new_id(),
                    namespace=self.db.namespace,
                    name=name,
                    description=model_description,
                    tags={},
                    last_version=0,
                    created_at=ts,
                    updated_at=ts,
                )
            )
            changes: dict[str, Any] = {"last_version": m.last_version + 1, "updated_at": ts}
            if model_description is not None:
                changes["description"] = model_description
            model_id, number = conn.execute(
                sa.update(t.registered_models)
                .where(m.namespace == self.db.namespace, m.name == name)
                .values(**changes)
                .returning(m.id, m.last_version)
            ).one()
            version_id = new_id()
            conn.execute(
                t.model_versions.insert().values(
                    id=version_id,
                    namespace=self.db.namespace,
                    model_id=model_id,
                    version=number,
                    artifact_id=artifact.id,
                    run_id=run_id,
                    task_run_id=task_run_id,
                    flavor=new.flavor,
                    signature=new.signature,
                    tags=tags,
                    description=new.description,
                    metrics=metrics,
                    created_by=new.created_by,
                    created_at=ts,
                )
            )
            for alias in wanted:
                self._move(conn, model_id, alias, (version_id, number), new.created_by, ts)
        return self.get_version(name, number)

    def set_alias(
        self, name: str, alias: str, version: int, actor: str | None = None
    ) -> AliasChange:
        """Point ``alias`` of model ``name`` at version number ``version`` (it moves there
        if it pointed elsewhere), recording the move."""
        check_alias(alias)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidValue(
                f"a model version is a whole number from 1, not {version!r}",
                hint=f"list the versions with 'headwater models versions {name}'",
            )
        v = t.model_versions.c
        ts = now()
        with self.db.begin() as conn:
            model_id, last = self._lock(conn, name, ts)
            row = conn.execute(
                sa.select(v.id).where(
                    v.model_id == model_id, v.version == version, v.namespace == self.db.namespace
                )
            ).first()
            if row is None:
                raise NotFound(
                    f"model '{name}' has no version {version} ({_versions_held(last)}); "
                    f"alias '{alias}' was not set",
                    hint=f"list its versions with 'headwater models versions {name}'",
                )
            return self._move(conn, model_id, alias, (row.id, version), actor, ts)

    def delete_alias(self, name: str, alias: str, actor: str | None = None) -> AliasChange:
        """Remove ``alias`` of model ``name`` (its version stays), recording it."""
        a = t.model_aliases.c
        ts = now()
        with self.db.begin() as conn:
            model_id, _ = self._lock(conn, name, ts)
            before = self._current(conn, model_id, alias)
            if before is None:
                raise NotFound(
                    f"model '{name}' has no alias '{alias}'",
                    hint=f"see its aliases with 'headwater models show {name}'",
                )
            self._refuse_if_followed(conn, name, alias)
            conn.execute(t.model_aliases.delete().where(a.model_id == model_id, a.alias == alias))
            return self._history(conn, model_id, alias, before, None, actor, ts)

    # ------------------------------------------------------------------ helpers

    def _artifact(self, artifact_id: str) -> ArtifactRecord:
        found = self.lineage.artifacts_by_id([artifact_id])
        if artifact_id not in found:
            raise NotFound(
                f"no artifact '{artifact_id}'",
                hint="list a run's artifacts with 'headwater artifacts list RUN'",
            )
        return found[artifact_id]

    def _refuse_if_followed(self, conn: sa.Connection, name: str, alias: str) -> None:
        """A deployment that follows ``NAME@ALIAS`` would lose its model: refuse."""
        d = t.deployments.c
        ref = f"{name}@{alias}"
        rows = conn.execute(
            sa.select(d.name, d.model, d.canary, d.shadow)
            .where(
                d.namespace == self.db.namespace,
                sa.or_(d.model == ref, d.canary == ref, d.shadow == ref),
            )
            .order_by(d.name)
        ).all()
        if not rows:
            return
        uses = []
        for r in rows:
            roles = [role for role in ("model", "canary", "shadow") if r._mapping[role] == ref]
            uses.append(f"{r.name} (as {' and '.join(roles)})")
        raise Conflict(
            f"alias '{alias}' of model '{name}' is followed by deployment "
            f"{', '.join(uses)}; it was not deleted",
            hint=f"point {'it' if len(rows) == 1 else 'them'} elsewhere first "
            f"('headwater deployments update {rows[0].name} --model {name}:VERSION') "
            "or delete the deployment",
        )

    def _lock(self, conn: sa.Connection, name: str, ts: Any) -> tuple[str, int]:
        """Take model ``name``'s row for this transaction (id, last version number)."""
        m = t.registered_models.c
        row = conn.execute(
            sa.update(t.registered_models)
            .where(m.namespace == self.db.namespace, m.name == name)
            .values(updated_at=ts)
            .returning(m.id, m.last_version)
        ).first()
        if row is None:
            raise NotFound(f"no registered model '{name}'", hint=_MODEL_HINT)
        return row[0], row[1]

    def _current(self, conn: sa.Connection, model_id: str, alias: str) -> int | None:
        a, v = t.model_aliases.c, t.model_versions.c
        return conn.execute(
            sa.select(v.version)
            .join(t.model_aliases, a.version_id == v.id)
            .where(a.model_id == model_id, a.alias == alias)
        ).scalar()

    def _move(
        self,
        conn: sa.Connection,
        model_id: str,
        alias: str,
        target: tuple[str, int],
        actor: str | None,
        ts: Any,
    ) -> AliasChange:
        a = t.model_aliases.c
        before = self._current(conn, model_id, alias)
        if before is None:
            conn.execute(
                t.model_aliases.insert().values(
                    model_id=model_id,
                    alias=alias,
                    namespace=self.db.namespace,
                    version_id=target[0],
                    updated_at=ts,
                )
            )
        else:
            conn.execute(
                t.model_aliases.update()
                .where(a.model_id == model_id, a.alias == alias)
                .values(version_id=target[0], updated_at=ts)
            )
        return self._history(conn, model_id, alias, before, target[1], actor, ts)

    def _history(
        self,
        conn: sa.Connection,
        model_id: str,
        alias: str,
        before: int | None,
        after: int | None,
        actor: str | None,
        ts: Any,
    ) -> AliasChange:
        conn.execute(
            t.model_alias_history.insert().values(
                namespace=self.db.namespace,
                model_id=model_id,
                alias=alias,
                from_version=before,
                to_version=after,
                actor=actor,
                created_at=ts,
            )
        )
        return AliasChange(alias, before, after, actor, ts)

    def _model_row(self, conn: sa.Connection, name: str) -> Any:
        m = t.registered_models.c
        row = conn.execute(
            sa.select(t.registered_models).where(m.namespace == self.db.namespace, m.name == name)
        ).first()
        if row is None:
            raise NotFound(f"no registered model '{name}'", hint=_MODEL_HINT)
        return row

    def _aliases(self, conn: sa.Connection, model_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """alias -> version number, per model."""
        ids = list(model_ids)
        if not ids:
            return {}
        a, v = t.model_aliases.c, t.model_versions.c
        rows = conn.execute(
            sa.select(a.model_id, a.alias, v.version)
            .join(t.model_versions, v.id == a.version_id)
            .where(a.model_id.in_(ids), a.namespace == self.db.namespace)
            .order_by(a.alias)
        )
        found: dict[str, dict[str, int]] = {}
        for model_id, alias, version in rows:
            found.setdefault(model_id, {})[alias] = version
        return found

    def _aliases_by_version(self, conn: sa.Connection, model_id: str) -> dict[str, tuple[str, ...]]:
        a = t.model_aliases.c
        found: dict[str, list[str]] = {}
        for version_id, alias in conn.execute(
            sa.select(a.version_id, a.alias)
            .where(a.model_id == model_id, a.namespace == self.db.namespace)
            .order_by(a.alias)
        ):
            found.setdefault(version_id, []).append(alias)
        return {k: tuple(v) for k, v in found.items()}

    @staticmethod
    def _model(row: Any, aliases: dict[str, int]) -> ModelRecord:
        return ModelRecord(
            row.id,
            row.name,
            row.description,
            dict(row.tags or {}),
            int(row.last_version),
            row.created_at,
            row.updated_at,
            aliases,
        )

    @staticmethod
    def _version(row: Any, model: str, aliases: tuple[str, ...]) -> ModelVersionRecord:
        m = row._mapping
        return ModelVersionRecord(
            id=m["id"],
            model_id=m["model_id"],
            model=model,
            version=int(m["version"]),
            artifact_id=m["artifact_id"],
            run_id=m["run_id"],
            task_run_id=m["task_run_id"],
            flavor=m["flavor"],
            signature=m["signature"],
            tags=dict(m["tags"] or {}),
            description=m["description"],
            metrics=dict(m["metrics"] or {}),
            created_by=m["created_by"],
            created_at=m["created_at"],
            aliases=aliases,
        )


def _versions_held(last: int) -> str:
    if last == 0:
        return "it has no versions"
    return "its only version is 1" if last == 1 else f"its versions are 1 to {last}"
