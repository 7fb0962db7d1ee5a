"""Pipelines, their immutable versions, and the source snapshots of deployed versions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, aware, new_id, now
from headwater.store._records import VersionRecord, version_record


class PipelineStore:
    """Pipelines and versions of one namespace (``store.pipelines``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register_version(
        self,
        name: str,
        description: str | None,
        digest: str,
        spec: dict[str, Any],
        source_root: str | None,
        *,
        spec_digest: str | None = None,
        sources: dict[str, bytes] | None = None,
    ) -> VersionRecord:
        """The version of pipeline ``name`` with ``digest``, created if new (idempotent).

        ``sources`` (relative path -> bytes) is stored as the version's snapshot; each
        distinct file content is stored once.
        """
        ns = self.db.namespace
        manifest = None
        if sources is not None:
            manifest = {
                path: "sha256:" + hashlib.sha256(data).hexdigest()
                for path, data in sorted(sources.items())
            }
        pv = t.pipeline_versions
        with self.db.begin() as conn:
            # Insert-or-get: processes registering the same new pipeline or version at
            # once all end up with the one row, and exactly one of them created it.
            pid = self._pipeline_id(conn, name)
            if pid is None:
                conn.execute(
                    self.db.insert_new(t.pipelines).values(
                        id=new_id(),
                        namespace=ns,
                        name=name,
                        description=description,
                        created_at=now(),
                    )
                )
                pid = self._pipeline_id(conn, name)
                assert pid is not None
            wanted = sa.select(pv).where(pv.c.pipeline_id == pid, pv.c.digest == digest)
            row = conn.execute(wanted).first()
            if row is not None:
                return version_record(row, name)
            vid = new_id()
            created = now()
            if sources is not None and manifest is not None:
                self._store_sources(conn, sources, manifest, created)
            made = conn.execute(
                self.db.insert_new(pv)
                .values(
                    id=vid,
                    namespace=ns,
                    pipeline_id=pid,
                    digest=digest,
                    spec=spec,
                    source_root=source_root,
                    created_at=created,
                    spec_digest=spec_digest,
                    source_manifest=manifest,
                )
                .returning(pv.c.id)
            ).first()
            if made is not None:
                return VersionRecord(
                    vid, pid, name, digest, spec, source_root, created, spec_digest, manifest, True
                )
            return version_record(conn.execute(wanted).one(), name)

    def _pipeline_id(self, conn: sa.Connection, name: str) -> str | None:
        p = t.pipelines.c
        found = conn.execute(
            sa.select(p.id).where(p.namespace == self.db.namespace, p.name == name)
        ).scalar()
        return None if found is None else str(found)

    def _store_sources(
        self,
        conn: sa.Connection,
        sources: dict[str, bytes],
        manifest: dict[str, str],
        ts: datetime,
    ) -> None:
        ns = self.db.namespace
        wanted = {manifest[p]: data for p, data in sources.items()}
        have = set(
            conn.execute(
                sa.select(t.source_files.c.digest).where(
                    t.source_files.c.namespace == ns,
                    t.source_files.c.digest.in_(list(wanted)),
                )
            ).scalars()
        )
        rows = [
            {"namespace": ns, "digest": d, "size": len(data), "content": data, "created_at": ts}
            for d, data in wanted.items()
            if d not in have
        ]
        if rows:
            # another deploy may store the same file meanwhile: it is the same bytes
            conn.execute(self.db.insert_new(t.source_files), rows)

    def read_sources(self, version: VersionRecord) -> dict[str, bytes]:
        """The snapshot of a deployed version: relative path -> bytes."""
        manifest = version.source_manifest or {}
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.source_files.c.digest, t.source_files.c.content).where(
                    t.source_files.c.namespace == self.db.namespace,
                    t.source_files.c.digest.in_(list(set(manifest.values()))),
                )
            ).all()
        blobs = {r.digest: bytes(r.content) for r in rows}
        missing = sorted(p for p, d in manifest.items() if d not in blobs)
        if missing:
            raise NotFound(f"the snapshot of version {version.id} lacks {', '.join(missing)}")
        return {path: blobs[d] for path, d in manifest.items()}

    def list_versions(self, pipeline: str) -> list[VersionRecord]:
        """Every version of ``pipeline``, newest first."""
        pv = t.pipeline_versions
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(pv)
                .join(t.pipelines, t.pipelines.c.id == pv.c.pipeline_id)
                .where(t.pipelines.c.namespace == self.db.namespace, t.pipelines.c.name == pipeline)
                .order_by(pv.c.created_at.desc(), pv.c.id.desc())
            ).all()
        return [version_record(r, pipeline) for r in rows]

    def list_pipelines(self) -> list[tuple[str, int, datetime]]:
        """(name, number of versions, newest version's time) for every pipeline."""
        pv = t.pipeline_versions
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.pipelines.c.name, sa.func.count(pv.c.id), sa.func.max(pv.c.created_at))
                .join(pv, pv.c.pipeline_id == t.pipelines.c.id)
                .where(t.pipelines.c.namespace == self.db.namespace)
                .group_by(t.pipelines.c.name)
                .order_by(t.pipelines.c.name)
            ).all()
        return [(r[0], int(r[1]), aware(r[2])) for r in rows]

    def versions_by_id(self, ids: Iterable[str]) -> dict[str, VersionRecord]:
        """Several versions in one query (missing ids are left out)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.pipeline_versions, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.pipeline_versions.c.pipeline_id)
                .where(t.pipeline_versions.c.id.in_(wanted))
            ).all()
        return {r.id: version_record(r, r._mapping["pipeline"]) for r in rows}

    def get_version(self, version_id: str) -> VersionRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.pipeline_versions, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.pipeline_versions.c.pipeline_id)
                .where(
                    t.pipeline_versions.c.id == version_id,
                    t.pipelines.c.namespace == self.db.namespace,
                )
            ).first()
        if row is None:
            raise NotFound(f"no pipeline version '{version_id}'")
        return version_record(row, row._mapping["pipeline"])
