"""Secrets, connections and variables as a task sees them: names, environment variables,
and the ``headwater.secret()`` / ``connection()`` / ``variable()`` helpers.

A component declares the names it needs (``@component(secrets=[...], connections=[...],
variables=[...])``); only the names go in the spec. When an attempt starts, the engine
reads the values from the store and hands them to the task process as environment
variables, never through the spec, the task input file, the cache key or the run record:

- ``HEADWATER_SECRET_<NAME>``: the secret's value;
- ``HEADWATER_CONN_<NAME>``: the connection as a URI (``type://login:password@host:port/
  schema?extras``), and its parts as ``HEADWATER_CONN_<NAME>__TYPE``, ``__HOST``,
  ``__PORT``, ``__LOGIN``, ``__PASSWORD``, ``__SCHEMA``, ``__EXTRAS`` (JSON);
- ``HEADWATER_VAR_<NAME>``: the variable's value as JSON.

``<NAME>`` is the name in upper case. Names are 1 to 64 letters, digits and single
``_`` between them, starting with a letter, so that ``__`` can separate a connection's
parts unambiguously. ``HEADWATER_REDACT`` lists (as JSON) the values the task's log hides.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from headwater.errors import ConfigurationError, NotFound

# headwater/spec/_validate/_common.py keeps a copy (the SDK must not import the spec at
# `import headwater` time); tests/secrets/test_secrets_spec.py pins them equal.
REF_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")
REF_NAME_MAX = 64
REF_NAME_HINT = (
    "use 1 to 64 letters, digits and single '_' between them, starting with a letter, "
    "e.g. 'warehouse_password'"
)

SECRET_PREFIX = "HEADWATER_SECRET_"
CONN_PREFIX = "HEADWATER_CONN_"
VAR_PREFIX = "HEADWATER_VAR_"
REDACT_ENV = "HEADWATER_REDACT"
CONN_PARTS = ("type", "host", "port", "login", "password", "schema", "extras")


def ref_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a secret, connection or variable (None: it can)."""
    if not isinstance(name, str):
        return f"a name must be a str, got {type(name).__name__}"
    if len(name) > REF_NAME_MAX:
        return f"name {name[:20]!r}... is {len(name)} characters long, over {REF_NAME_MAX}"
    if not REF_NAME_RE.match(name):
        return f"name {name!r} is not valid"
    return None


def secret_env(name: str) -> str:
    return SECRET_PREFIX + name.upper()


def connection_env(name: str, part: str | None = None) -> str:
    return CONN_PREFIX + name.upper() + (f"__{part.upper()}" if part else "")


def variable_env(name: str) -> str:
    return VAR_PREFIX + name.upper()


@dataclass(frozen=True)
class Connection:
    """A connection to an outside system, as a task gets it from ``headwater.connection()``.

    ``uri`` puts it together (``postgres://user:pass@host:5432/db?sslmode=require``);
    ``password`` is a secret: print neither (a task's log hides both anyway).
    """

    name: str
    type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return connection_uri(
            self.type, self.host, self.port, self.login, self.password, self.schema, self.extras
        )


_URI_SCHEMES = {"postgres": "postgresql"}


def connection_uri(
    type: str,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None,
    extras: dict[str, Any] | None,
) -> str:
    """A connection's parts as one URI (login and password percent-encoded)."""
    auth = ""
    if login is not None or password is not None:
        auth = quote(login or "", safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        auth += "@"
    where = (host or "") + (f":{port}" if port is not None else "")
    path = f"/{quote(schema, safe='')}" if schema else ""
    query = ""
    if extras:
        query = "?" + urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in extras.items()}
        )
    return f"{_URI_SCHEMES.get(type, type)}://{auth}{where}{path}{query}"


def _read(env_name: str, what: str, kwarg: str, name: str) -> str:
    problem = ref_name_problem(name)
    if problem:
        raise ConfigurationError(problem, hint=REF_NAME_HINT)
    value = os.environ.get(env_name)
    if value is None:
        raise NotFound(
            f"{what} '{name}' was not given to this task",
            hint=f"declare it on the component: @component({kwarg}=['{name}'])",
        )
    return value


def secret(name: str) -> str:
    """The value of secret ``name`` inside a task whose component declares it
    (``@component(secrets=["name"])``)."""
    return _read(secret_env(name), "secret", "secrets", name)


def variable(name: str) -> Any:
    """The (JSON) value of variable ``name`` inside a task whose component declares it."""
    return json.loads(_read(variable_env(name), "variable", "variables", name))


def connection(name: str) -> Connection:
    """Connection ``name`` inside a task whose component declares it
    (``@component(connections=["name"])``)."""
    _read(connection_env(name), "connection", "connections", name)
    parts = {p: os.environ.get(connection_env(name, p)) for p in CONN_PARTS}
    port = parts["port"]
    return Connection(
        name=name,
        type=parts["type"] or "generic",
        host=parts["host"],
        port=int(port) if port else None,
        login=parts["login"],
        password=parts["password"],
        schema=parts["schema"],
        extras=json.loads(parts["extras"] or "{}"),
    )
