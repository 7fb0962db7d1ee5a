"""Secrets, connections and variables of one namespace (``store.secrets``,
``store.connections``, ``store.variables``).

Secret values and connection passwords are stored encrypted (:mod:`._crypto`); names,
descriptions and the other parts of a connection are plain. Nothing here ever logs or
returns a value except :meth:`SecretBackend.get` and :meth:`ConnectionStore.get` with
``reveal=True``, which the engine calls when a task that declares them starts.

:class:`SecretBackend` is the interface the engine reads secrets through; the built-in
one keeps them in this database. Another (HashiCorp Vault, a cloud secret manager) is a
class with the same four methods over its own client: see docs/teams-and-security.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import sqlalchemy as sa

from headwater.errors import ConfigurationError, InvalidValue, LimitError, NotFound
from headwater.sdk import REF_NAME_HINT, Connection, ref_name_problem
from headwater.store import _schema as t
from headwater.store._base import Database, now
from headwater.store._crypto import KeyRing, missing_key, write_key_file

SECRET_MAX_BYTES = 64 * 1024
VARIABLE_MAX_BYTES = 64 * 1024
EXTRAS_MAX_BYTES = 16 * 1024
DESCRIPTION_MAX = 1024
FIELD_MAX = 255

CONNECTION_TYPES = (
    "postgres",
    "mysql",
    "s3",
    "gcs",
    "http",
    "https",
    "smtp",
    "slack",
    "sftp",
    "redis",
    "generic",
)
# URI schemes that name a type by another spelling.
_SCHEME_TYPES = {
    "postgresql": "postgres",
    "postgresql+psycopg": "postgres",
    "mysql+pymysql": "mysql",
}


def check_name(kind: str, name: Any) -> str:
    problem = ref_name_problem(name)
    if problem:
        raise InvalidValue(f"{kind} {problem}", hint=REF_NAME_HINT)
    return str(name)


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise LimitError(
            f"the description is {len(description)} characters long, over {DESCRIPTION_MAX}",
            hint="shorten it",
        )


@dataclass(frozen=True)
class SecretInfo:
    """A secret's name and metadata: never its value."""

    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class SecretBackend(Protocol):
    """Where secret values live. The engine reads a task's secrets through ``get``."""

    def get(self, name: str) -> str:
        """The value of ``name``; :class:`NotFound` if there is none."""
        ...

    def set(
        self, name: str, value: str, *, description: str | None = None, actor: str | None = None
    ) -> SecretInfo: ...

    def delete(self, name: str) -> None: ...

    def list(self) -> list[SecretInfo]: ...


def _keyring(create: bool) -> KeyRing | None:
    return KeyRing.load(create=create)


def _decrypt(token: str, what: str) -> str:
    ring = _keyring(False)
    if ring is None:
        raise missing_key(what)
    return ring.decrypt(token, what)


def _encrypt(value: str) -> str:
    ring = _keyring(True)
    assert ring is not None
    return ring.encrypt(value)


def _upsert(
    db: Database, table: sa.Table, name: str, values: dict[str, Any], actor: str | None
) -> None:
    """Create row ``name`` of ``table`` or change it, in one transaction."""
    c = table.c
    stamp = now()
    with db.begin() as conn:
        conn.execute(
            db.insert_new(table).values(
                namespace=db.namespace,
                name=name,
                created_at=stamp,
                updated_at=stamp,
                created_by=actor,
                updated_by=actor,
                **values,
            )
        )
        conn.execute(
            table.update()
            .where(c.namespace == db.namespace, c.name == name)
            .values(updated_at=stamp, updated_by=actor, **values)
        )


def _delete(db: Database, table: sa.Table, kind: str, name: str, hint: str) -> None:
    c = table.c
    with db.begin() as conn:
        gone = conn.execute(
            table.delete().where(c.namespace == db.namespace, c.name == name)
        ).rowcount
    if not gone:
        raise NotFound(f"no {kind} '{name}' in namespace '{db.namespace}'", hint=hint)


def _info(row: Any) -> SecretInfo:
    return SecretInfo(
        row.name, row.description, row.created_at, row.updated_at, row.created_by, row.updated_by
    )


class SecretStore:
    """The built-in :class:`SecretBackend`: values encrypted in the metadata database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set(
        self, name: str, value: str, *, description: str | None = None, actor: str | None = None
    ) -> SecretInfo:
        check_name("secret", name)
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"secret '{name}' has an empty value", hint="give a value")
        size = len(value.encode("utf-8"))
        if size > SECRET_MAX_BYTES:
            raise LimitError(
                f"secret '{name}' is {size} bytes, over the limit of {SECRET_MAX_BYTES}",
                hint="store a large credential file in the artifact store and a key to it here",
            )
        _check_description(description)
        values: dict[str, Any] = {"value": _encrypt(value)}
        if description is not None:
            values["description"] = description
        _upsert(self.db, t.secrets, name, values, actor)
        return self.info(name)

    def info(self, name: str) -> SecretInfo:
        c = t.secrets.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.secrets).where(c.namespace == self.db.namespace, c.name == name)
            ).first()
        if row is None:
            raise NotFound(
                f"no secret '{name}' in namespace '{self.db.namespace}'",
                hint=f"set it with 'headwater secrets set {name} --value-stdin'",
            )
        return _info(row)

    def get(self, name: str) -> str:
        c = t.secrets.c
        with self.db.connect() as conn:
            token = conn.execute(
                sa.select(c.value).where(c.namespace == self.db.namespace, c.name == name)
            ).scalar()
        if token is None:
            raise NotFound(
                f"no secret '{name}' in namespace '{self.db.namespace}'",
                hint=f"set it with 'headwater secrets set {name} --value-stdin'",
            )
        return _decrypt(token, f"secret '{name}'")

    def delete(self, name: str) -> None:
        _delete(self.db, t.secrets, "secret", name, "list them with 'headwater secrets list'")

    def names(self) -> frozenset[str]:
        c = t.secrets.c
        with self.db.connect() as conn:
            return frozenset(
                conn.execute(sa.select(c.name).where(c.namespace == self.db.namespace)).scalars()
            )

    def rotate_key(self) -> int:
        """Encrypt every stored value (secrets and connection passwords, of every
        namespace: the key is the installation's) with a new key; the number re-encrypted.

        With a key file: the new key is written first, in front of the old one (so every
        value stays readable whatever happens), each value is re-encrypted in its own
        transaction, and the old key is dropped last. Run again after a crash, it finishes
        the interrupted rotation. With ``HEADWATER_SECRET_KEY=NEW,OLD`` it re-encrypts with
        NEW; then set ``HEADWATER_SECRET_KEY=NEW``.
        """
        from cryptography.fernet import Fernet

        ring = _keyring(False)
        if ring is None:
            raise ConfigurationError(
                "there is no secret key to rotate yet",
                hint="a key is made when the first secret is stored",
            )
        if ring.path is not None and len(ring.keys) == 1:
            ring.keys = [Fernet.generate_key(), *ring.keys]
            write_key_file(ring.path, ring.keys)
        count = 0
        for table, column, kind in (
            (t.secrets, "value", "secret"),
            (t.connections, "password", "password of connection"),
        ):
            c = table.c
            with self.db.connect() as conn:
                rows = conn.execute(
                    sa.select(c.namespace, c.name, c[column]).where(c[column].is_not(None))
                ).all()
            for namespace, name, token in rows:
                fresh = ring.reencrypt(token, f"{kind} '{name}' (namespace '{namespace}')")
                with self.db.begin() as conn:  # unchanged meanwhile: else it has a new value
                    conn.execute(
                        table.update()
                        .where(c.namespace == namespace, c.name == name, c[column] == token)
                        .values({column: fresh})
                    )
                count += 1
        if ring.path is not None and len(ring.keys) > 1:
            write_key_file(ring.path, ring.keys[:1])
        return count

    # Last: a method named ``list`` would hide the builtin in the annotations after it.
    def list(self) -> list[SecretInfo]:
        c = t.secrets.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.secrets).where(c.namespace == self.db.namespace).order_by(c.name)
            ).all()
        return [_info(r) for r in rows]


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection without its password (``has_password`` says whether it has one)."""

    name: str
    type: str
    host: str | None
    port: int | None
    login: str | None
    schema: str | None
    extras: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    has_password: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None


def parse_connection_uri(uri: str) -> dict[str, Any]:
    """The parts of ``postgresql://user:pass@host:5432/db?sslmode=require``."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise InvalidValue(
            f"the connection URI is not valid ({exc})",
            hint="write it like postgresql://user:password@host:5432/database?sslmode=require",
        ) from None
    if not parts.scheme or "://" not in uri:
        raise InvalidValue(
            "the connection URI has no scheme",
            hint="write it like postgresql://user:password@host:5432/database",
        )
    scheme = parts.scheme.lower()
    extras: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    return {
        "type": _SCHEME_TYPES.get(scheme, scheme),
        "host": parts.hostname,
        "port": port,
        "login": unquote(parts.username) if parts.username is not None else None,
        "password": unquote(parts.password) if parts.password is not None else None,
        "schema": unquote(parts.path.lstrip("/")) or None,
        "extras": extras,
    }


class ConnectionStore:
    """Connections to outside systems; the password is stored encrypted."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set(
        self,
        name: str,
        *,
        type: str,
        host: str | None = None,
        port: int | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        extras: dict[str, Any] | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> ConnectionInfo:
        """Create connection ``name`` or replace it whole."""
        check_name("connection", name)
        if type not in CONNECTION_TYPES:
            raise InvalidValue(
                f"connection '{name}' has unknown type {type!r}",
                hint="use one of: " + ", ".join(CONNECTION_TYPES),
            )
        for what, text in (("host", host), ("login", login), ("schema", schema)):
            if text is not None and len(text) > FIELD_MAX:
                raise LimitError(
                    f"connection '{name}': {what} is {len(text)} characters, over {FIELD_MAX}",
                    hint="shorten it",
                )
        if port is not None and not 0 < port < 65536:
            raise InvalidValue(f"connection '{name}': port {port} is not 1-65535", hint="fix it")
        if password is not None and len(password.encode("utf-8")) > SECRET_MAX_BYTES:
            raise LimitError(
                f"connection '{name}': the password is over {SECRET_MAX_BYTES} bytes",
                hint="shorten it",
            )
        extras = dict(extras or {})
        size = len(json.dumps(extras))
        if size > EXTRAS_MAX_BYTES:
            raise LimitError(
                f"connection '{name}': extras are {size} bytes of JSON, over {EXTRAS_MAX_BYTES}",
                hint="keep only connection options in extras",
            )
        _check_description(description)
        _upsert(
            self.db,
            t.connections,
            name,
            {
                "conn_type": type,
                "host": host,
                "port": port,
                "login": login,
                "password": _encrypt(password) if password is not None else None,
                "schema_name": schema,
                "extras": extras,
                "description": description,
            },
            actor,
        )
        return self.info(name)

    def _row(self, name: str) -> Any:
        c = t.connections.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.connections).where(c.namespace == self.db.namespace, c.name == name)
            ).first()
        if row is None:
            raise NotFound(
                f"no connection '{name}' in namespace '{self.db.namespace}'",
                hint=f"add it with 'headwater connections add {name} --uri-stdin'",
            )
        return row

    @staticmethod
    def _to_info(row: Any) -> ConnectionInfo:
        return ConnectionInfo(
            row.name,
            row.conn_type,
            row.host,
            row.port,
            row.login,
            row.schema_name,
            dict(row.extras or {}),
            row.description,
            row.password is not None,
            row.created_at,
            row.updated_at,
            row.created_by,
            row.updated_by,
        )

    def info(self, name: str) -> ConnectionInfo:
        return self._to_info(self._row(name))

    def get(self, name: str) -> Connection:
        """The whole connection, password decrypted: for a task that declares it."""
        row = self._row(name)
        password = (
            _decrypt(row.password, f"the password of connection '{name}'")
            if row.password is not None
            else None
        )
        return Connection(
            name=row.name,
            type=row.conn_type,
            host=row.host,
            port=row.port,
            login=row.login,
            password=password,
            schema=row.schema_name,
            extras=dict(row.extras or {}),
        )

    def delete(self, name: str) -> None:
        _delete(
            self.db,
            t.connections,
            "connection",
            name,
            "list them with 'headwater connections list'",
        )

    def names(self) -> frozenset[str]:
        c = t.connections.c
        with self.db.connect() as conn:
            return frozenset(
                conn.execute(sa.select(c.name).where(c.namespace == self.db.namespace)).scalars()
            )

    def list(self) -> list[ConnectionInfo]:
        c = t.connections.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.connections).where(c.namespace == self.db.namespace).order_by(c.name)
            ).all()
        return [self._to_info(r) for r in rows]


@dataclass(frozen=True)
class VariableRecord:
    name: str
    value: Any
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class VariableStore:
    """Named JSON values that tasks read (not secret: shown by list and get)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set(
        self, name: str, value: Any, *, description: str | None = None, actor: str | None = None
    ) -> VariableRecord:
        check_name("variable", name)
        try:
            text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidValue(
                f"variable '{name}' is not a JSON value ({exc})", hint="give a JSON value"
            ) from None
        if len(text.encode("utf-8")) > VARIABLE_MAX_BYTES:
            raise LimitError(
                f"variable '{name}' is {len(text)} bytes of JSON, over {VARIABLE_MAX_BYTES}",
                hint="keep large data in the artifact store and its URI in a variable",
            )
        _check_description(description)
        values: dict[str, Any] = {"value": text}
        if description is not None:
            values["description"] = description
        _upsert(self.db, t.variables, name, values, actor)
        return self.get(name)

    def get(self, name: str) -> VariableRecord:
        c = t.variables.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.variables).where(c.namespace == self.db.namespace, c.name == name)
            ).first()
        if row is None:
            raise NotFound(
                f"no variable '{name}' in namespace '{self.db.namespace}'",
                hint=f"set it with 'headwater variables set {name} JSON'",
            )
        return self._record(row)

    @staticmethod
    def _record(row: Any) -> VariableRecord:
        return VariableRecord(
            row.name,
            json.loads(row.value),
            row.description,
            row.created_at,
            row.updated_at,
            row.created_by,
            row.updated_by,
        )

    def delete(self, name: str) -> None:
        _delete(self.db, t.variables, "variable", name, "list them with 'headwater variables list'")

    def names(self) -> frozenset[str]:
        c = t.variables.c
        with self.db.connect() as conn:
            return frozenset(
                conn.execute(sa.select(c.name).where(c.namespace == self.db.namespace)).scalars()
            )

    def list(self) -> list[VariableRecord]:
        c = t.variables.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.variables).where(c.namespace == self.db.namespace).order_by(c.name)
            ).all()
        return [self._record(r) for r in rows]
