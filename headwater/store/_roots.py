"""The URI roots an operator allows the confined runs of a namespace to read.

The artifact root is always allowed and is not stored here; see docs/adr/0009.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from headwater.errors import InvalidValue, NotFound, UriNotAllowed
from headwater.runtime import normalize_root
from headwater.store import _schema as t
from headwater.store._base import Database, fields_of, now

MAX_ROOT_LENGTH = 1024


@dataclass(frozen=True)
class UriRootRecord:
    root: str
    description: str | None
    created_at: datetime


class RootStore:
    """The roots, over the shared database handle."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, root: str, description: str | None = None) -> UriRootRecord:
        """Allow ``root`` (an absolute path or scheme://host/prefix) to this namespace's
        confined runs; adding it again changes only its description."""
        try:
            value = normalize_root(root)
        except UriNotAllowed as exc:
            raise InvalidValue(
                f"root {root!r} cannot be allowed: {exc.message}",
                hint="give an absolute path such as /data/shared, or a URL such as "
                "s3://bucket/prefix",
            ) from None
        if len(value) > MAX_ROOT_LENGTH:
            raise InvalidValue(
                f"root {value[:60]!r}... is longer than {MAX_ROOT_LENGTH} characters",
                hint="allow a shorter folder that holds it",
            )
        stamp = now()
        with self.db.begin() as conn:
            conn.execute(
                self.db.insert_new(t.uri_roots).values(
                    namespace=self.db.namespace,
                    root=value,
                    description=description,
                    created_at=stamp,
                )
            )
            if description is not None:
                conn.execute(
                    t.uri_roots.update()
                    .where(
                        t.uri_roots.c.namespace == self.db.namespace, t.uri_roots.c.root == value
                    )
                    .values(description=description)
                )
        return next(r for r in self.list() if r.root == value)

    def remove(self, root: str) -> None:
        r = t.uri_roots.c
        try:
            value = normalize_root(root)
        except UriNotAllowed:
            value = root
        with self.db.begin() as conn:
            gone = conn.execute(
                t.uri_roots.delete().where(r.namespace == self.db.namespace, r.root == value)
            ).rowcount
        if not gone:
            raise NotFound(
                f"namespace '{self.db.namespace}' has no root {root!r}",
                hint="list them with 'headwater roots list'",
            )

    # Last: a method named ``list`` would hide the builtin in the annotations after it.
    def list(self) -> list[UriRootRecord]:
        """This namespace's allowed roots, in order."""
        r = t.uri_roots.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.uri_roots).where(r.namespace == self.db.namespace).order_by(r.root)
            ).all()
        return [UriRootRecord(**fields_of(UriRootRecord, row._mapping)) for row in rows]
