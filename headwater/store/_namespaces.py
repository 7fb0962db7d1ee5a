"""Namespaces and who may work in them (``store.namespaces``): server-wide, whatever
namespace the store handle is scoped to.

A namespace holds its own pipelines, runs, artifacts, schedules, pools, models and the
rest: every store query is scoped to one. A user is server-wide; in each namespace they
work in they hold one role: ``viewer``, ``editor`` or ``admin``. A server ``owner``
(the user's own role) may do everything everywhere and needs no membership.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from headwater._config import NAMESPACE_RE
from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, now

DEFAULT_NAMESPACE = "default"
# The roles a user holds in one namespace, least to most.
NAMESPACE_ROLES = ("viewer", "editor", "admin")


def check_namespace(name: str) -> str:
    """``name`` if it can name a namespace: lower-case letters, digits and dashes,
    starting with a letter, at most 63 characters (it becomes a folder name)."""
    if not isinstance(name, str) or not NAMESPACE_RE.match(name):
        raise InvalidValue(
            f"namespace {str(name)[:80]!r} is not a valid name",
            hint="use lower-case letters, digits and dashes, starting with a letter "
            "(at most 63), as in 'ml-research'",
        )
    return name


def check_role(role: str) -> str:
    if role not in NAMESPACE_ROLES:
        raise InvalidValue(
            f"role {str(role)[:40]!r} is not a namespace role",
            hint=f"use one of: {', '.join(NAMESPACE_ROLES)} (a server owner needs none)",
        )
    return role


@dataclass(frozen=True)
class NamespaceRecord:
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class MemberRecord:
    namespace: str
    user_id: str
    user: str
    role: str
    created_at: datetime


# Tables whose rows make a namespace "in use": it cannot be deleted while it holds any.
# What goes with a namespace when it is deleted (besides memberships, pools, roots).
_SETTINGS = ("secrets", "connections", "variables")
_CONTENTS = ("pipelines", "runs", "artifacts", "registered_models", "deployments", "studies")


def _namespace(m: Any) -> NamespaceRecord:
    return NamespaceRecord(m["namespace"], m["description"], m["created_at"])


class NamespaceStore:
    """Namespaces and memberships (``store.namespaces``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ namespaces

    def create(self, name: str, description: str = "") -> NamespaceRecord:
        check_namespace(name)
        if name == DEFAULT_NAMESPACE:
            raise Conflict(
                "namespace 'default' already exists", hint="it always does: work in it as it is"
            )
        if len(description) > 1024:
            raise InvalidValue(
                f"the description of namespace '{name}' is {len(description)} characters",
                hint="keep it to 1024 characters",
            )
        stamp = now()
        row = {"namespace": name, "description": description, "created_at": stamp}
        try:
            with self.db.begin() as conn:
                conn.execute(t.namespaces.insert(), row)
        except sa.exc.IntegrityError:
            raise Conflict(
                f"namespace '{name}' already exists",
                hint="list namespaces with 'headwater namespaces list'",
            ) from None
        return NamespaceRecord(name, description, stamp)

    def get(self, name: str) -> NamespaceRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.namespaces).where(t.namespaces.c.namespace == name)
            ).first()
        if row is None:
            if name == DEFAULT_NAMESPACE:  # always there, row or not
                return NamespaceRecord(DEFAULT_NAMESPACE, "", datetime.fromtimestamp(0, UTC))
            raise NotFound(
                f"no namespace '{str(name)[:80]}'",
                hint="list namespaces with 'headwater namespaces list'",
            )
        return _namespace(row._mapping)

    def exists(self, name: str) -> bool:
        if name == DEFAULT_NAMESPACE:
            return True
        with self.db.connect() as conn:
            return (
                conn.execute(
                    sa.select(t.namespaces.c.namespace).where(t.namespaces.c.namespace == name)
                ).first()
                is not None
            )

    def list(self) -> builtins.list[NamespaceRecord]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t.namespaces).order_by(t.namespaces.c.namespace)).all()
        found = [_namespace(r._mapping) for r in rows]
        if DEFAULT_NAMESPACE not in {n.name for n in found}:
            found = sorted([*found, self.get(DEFAULT_NAMESPACE)], key=lambda n: n.name)
        return found

    def names(self) -> builtins.list[str]:
        """Every namespace's name, ``default`` included."""
        with self.db.connect() as conn:
            names = set(conn.execute(sa.select(t.namespaces.c.namespace)).scalars())
        return sorted(names | {DEFAULT_NAMESPACE})

    def delete(self, name: str) -> NamespaceRecord:
        """Remove an empty namespace with its memberships, pools, URI roots, secrets,
        connections and variables. ``default`` stays; a namespace
        that still holds pipelines, runs, artifacts, models, deployments or studies is
        refused with what it holds."""
        found = self.get(name)
        if name == DEFAULT_NAMESPACE:
            raise Conflict(
                "namespace 'default' cannot be deleted",
                hint="it holds the server's users and tokens",
            )
        with self.db.begin() as conn:
            held = []
            for table in _CONTENTS:
                tbl = t.metadata.tables[table]
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(tbl).where(tbl.c.namespace == name)
                ).scalar_one()
                if count:
                    held.append(f"{count} {table.replace('_', ' ')}")
            if held:
                raise Conflict(
                    f"namespace '{name}' is not empty: it holds {', '.join(held)}",
                    hint="delete what it holds first; a namespace is deleted only when empty",
                )
            for table in ("memberships", "pools", "uri_roots", "schedules", *_SETTINGS):
                tbl = t.metadata.tables[table]
                conn.execute(tbl.delete().where(tbl.c.namespace == name))
            conn.execute(t.namespaces.delete().where(t.namespaces.c.namespace == name))
        return found

    # ------------------------------------------------------------------ memberships

    def set_member(self, namespace: str, user: str, role: str) -> MemberRecord:
        """Give ``user`` ``role`` in ``namespace`` (replacing the role they had)."""
        check_role(role)
        self.get(namespace)
        found = self._user(user)
        stamp = now()
        c = t.memberships.c
        with self.db.begin() as conn:
            done = conn.execute(
                t.memberships.update()
                .where(c.namespace == namespace, c.user_id == found[0])
                .values(role=role)
            )
            if done.rowcount == 0:
                conn.execute(
                    t.memberships.insert(),
                    {
                        "namespace": namespace,
                        "user_id": found[0],
                        "role": role,
                        "created_at": stamp,
                    },
                )
        return self.member(namespace, user)

    def remove_member(self, namespace: str, user: str) -> MemberRecord:
        gone = self.member(namespace, user)
        c = t.memberships.c
        with self.db.begin() as conn:
            conn.execute(
                t.memberships.delete().where(c.namespace == namespace, c.user_id == gone.user_id)
            )
        return gone

    def member(self, namespace: str, user: str) -> MemberRecord:
        for found in self.members(namespace):
            if found.user == user:
                return found
        raise NotFound(
            f"user '{str(user)[:80]}' is no member of namespace '{namespace}'",
            hint=f"list them with 'headwater members list --namespace {namespace}'",
        )

    def members(self, namespace: str) -> builtins.list[MemberRecord]:
        c = t.memberships.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(c.namespace, c.user_id, t.users.c.name, c.role, c.created_at)
                .join(t.users, t.users.c.id == c.user_id)
                .where(c.namespace == namespace)
                .order_by(t.users.c.name)
            ).all()
        return [MemberRecord(*row) for row in rows]

    def roles_of(self, user_id: str) -> dict[str, str]:
        """The namespaces ``user_id`` is a member of, with their role in each."""
        c = t.memberships.c
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(c.namespace, c.role).where(c.user_id == user_id)).all()
        return {ns: role for ns, role in rows}

    def _user(self, name: str) -> tuple[str, str]:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.users.c.id, t.users.c.role).where(
                    t.users.c.name == name, t.users.c.namespace == DEFAULT_NAMESPACE
                )
            ).first()
        if row is None:
            raise NotFound(
                f"no user '{str(name)[:80]}'", hint="create it with 'headwater users create NAME'"
            )
        return row[0], row[1]
