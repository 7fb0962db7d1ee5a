"""Users and API tokens. A token's secret is shown once; the store keeps its sha256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, fields_of, new_id, now

# A user's server-wide role: an owner may do everything in every namespace; a member
# what their role in each namespace allows (store.namespaces).
ROLES = ("owner", "member")
# Users and tokens are server-wide: they live in the default namespace, whichever
# namespace the store handle is scoped to.
_HOME = "default"
TOKEN_PREFIX = "hw_"
# Writing last_used_at on every request would cost a write per read; once a minute is enough.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """A token's public facts; ``prefix`` is how people recognise it in lists."""

    id: str
    user_id: str
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now())


@dataclass(frozen=True)
class Authenticated:
    user: UserRecord
    token: TokenRecord


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(m: Any) -> UserRecord:
    return UserRecord(**fields_of(UserRecord, m))


def _token(m: Any) -> TokenRecord:
    return TokenRecord(**fields_of(TokenRecord, m))


_TOKEN_COLUMNS = [*t.api_tokens.c, t.users.c.name.label("user")]


class AuthStore:
    """The server's users and API tokens (``store.auth``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_user(self, name: str, role: str = "member") -> UserRecord:
        if role not in ROLES:
            raise Conflict(
                f"unknown server role '{role}'",
                hint=f"use one of: {', '.join(ROLES)}; a member's role in a namespace "
                "(viewer, editor, admin) is set with 'headwater members add'",
            )
        if not name.strip():
            raise Conflict("a user needs a name", hint="give a name such as 'alice'")
        row = {
            "id": new_id(),
            "namespace": _HOME,
            "name": name,
            "role": role,
            "created_at": now(),
        }
        try:
            with self.db.begin() as conn:
                conn.execute(t.users.insert(), row)
        except sa.exc.IntegrityError:
            raise Conflict(
                f"user '{name}' already exists",
                hint="create a token for it with 'headwater tokens create --user NAME'",
            ) from None
        return _user(row)

    def get_user(self, name: str) -> UserRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.users).where(t.users.c.name == name, t.users.c.namespace == _HOME)
            ).first()
        if row is None:
            raise NotFound(f"no user '{name}'", hint="create it with 'headwater users create NAME'")
        return _user(row._mapping)

    def list_users(self) -> list[UserRecord]:
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.users).where(t.users.c.namespace == _HOME).order_by(t.users.c.name)
            ).all()
        return [_user(r._mapping) for r in rows]

    def has_users(self) -> bool:
        with self.db.connect() as conn:
            return (
                conn.execute(
                    sa.select(t.users.c.id).where(t.users.c.namespace == _HOME).limit(1)
                ).first()
                is not None
            )

    def create_token(
        self, user: str, name: str = "default", *, expires_at: datetime | None = None
    ) -> tuple[TokenRecord, str]:
        """A new token for ``user``: its record and its secret (shown once, never stored)."""
        owner = self.get_user(user)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": new_id(),
            "namespace": _HOME,
            "user_id": owner.id,
            "name": name,
            "token_hash": hash_token(secret),
            "prefix": secret[: len(TOKEN_PREFIX) + 6],
            "created_at": now(),
            "expires_at": expires_at,
        }
        with self.db.begin() as conn:
            conn.execute(t.api_tokens.insert(), row)
        return _token({**row, "user": owner.name}), secret

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        q = (
            sa.select(*_TOKEN_COLUMNS)
            .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
            .where(t.api_tokens.c.namespace == _HOME)
            .order_by(t.api_tokens.c.created_at)
        )
        if user is not None:
            q = q.where(t.users.c.name == user)
        with self.db.connect() as conn:
            return [_token(r._mapping) for r in conn.execute(q)]

    def revoke_token(self, token: str) -> TokenRecord:
        """Revoke a token given its id, its prefix or the secret itself."""
        c = t.api_tokens.c
        match = sa.or_(c.id == token, c.prefix == token, c.token_hash == hash_token(token))
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(*_TOKEN_COLUMNS)
                .join(t.users, t.users.c.id == c.user_id)
                .where(match, c.namespace == _HOME)
            ).all()
            if not rows:
                raise NotFound(
                    f"no token '{token}'", hint="list tokens with 'headwater tokens list'"
                )
            if len(rows) > 1:
                raise Conflict(f"'{token}' matches several tokens", hint="give the token's id")
            found = _token(rows[0]._mapping)
            if found.revoked_at is None:
                conn.execute(t.api_tokens.update().where(c.id == found.id).values(revoked_at=now()))
        return self.list_tokens_by_id(found.id)

    def list_tokens_by_id(self, token_id: str) -> TokenRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(*_TOKEN_COLUMNS)
                .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
                .where(t.api_tokens.c.id == token_id)
            ).first()
        if row is None:
            raise NotFound(f"no token '{token_id}'")
        return _token(row._mapping)

    def authenticate(self, secret: str) -> Authenticated | str:
        """The user and token behind ``secret``, or why it is not accepted."""
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(*_TOKEN_COLUMNS, t.users.c.role, t.users.c.created_at.label("uc"))
                .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
                .where(
                    t.api_tokens.c.token_hash == hash_token(secret),
                    t.api_tokens.c.namespace == _HOME,
                )
            ).first()
        if row is None:
            return "the token is not known"
        token = _token(row._mapping)
        if token.revoked_at is not None:
            return f"the token '{token.prefix}...' was revoked"
        stamp = now()
        if token.expires_at is not None and token.expires_at <= stamp:
            return f"the token '{token.prefix}...' expired"
        if token.last_used_at is None or stamp - token.last_used_at > _TOUCH_EVERY:
            with self.db.begin() as conn:
                conn.execute(
                    t.api_tokens.update()
                    .where(t.api_tokens.c.id == token.id)
                    .values(last_used_at=stamp)
                )
        m = row._mapping
        user = UserRecord(token.user_id, token.user, m["role"], m["uc"])
        return Authenticated(user, token)
