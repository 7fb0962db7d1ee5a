"""The secrets, connections and variables a task declares: checked when a run is created,
read from the store when an attempt starts, and handed to the task process as
environment variables (names in :mod:`headwater.sdk._secrets`'s docstring).

Only the names are in the spec; values go from the store straight into the
:class:`~headwater.executors.TaskRequest`'s environment, never into the spec, the task
input file, the cache key or the run record. ``HEADWATER_REDACT`` tells the task process
which values to hide in its log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from headwater.errors import NotFound
from headwater.sdk import (
    REDACT_ENV,
    Connection,
    connection_env,
    secret_env,
    variable_env,
)
from headwater.spec import PipelineSpec, TaskOptions
from headwater.store import MetadataStore

_KINDS = ("secrets", "connections", "variables")
_SET = {
    "secrets": "headwater secrets set {name} --value-stdin",
    "connections": "headwater connections add {name} --uri-stdin",
    "variables": "headwater variables set {name} JSON",
}


def _options(node: Any) -> Iterator[TaskOptions]:
    if isinstance(node, TaskOptions):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _options(getattr(node, name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from _options(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _options(value)


def references(spec: PipelineSpec) -> dict[str, set[str]]:
    """Every secret, connection and variable name any layer of options in ``spec`` names."""
    found: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    for options in _options(spec):
        for kind in _KINDS:
            found[kind].update(getattr(options, kind) or ())
    return found


def check_references(store: MetadataStore, spec: PipelineSpec) -> None:
    """Raise :class:`NotFound` naming the first secret, connection or variable the
    pipeline's tasks need that the store does not have (before a run is created)."""
    needed = references(spec)
    have = {
        "secrets": store.secrets.names,
        "connections": store.connections.names,
        "variables": store.variables.names,
    }
    for kind in _KINDS:
        if not needed[kind]:
            continue
        missing = sorted(needed[kind] - have[kind]())
        if missing:
            what = kind[:-1]
            raise NotFound(
                f"pipeline '{spec.name}' needs {what} '{missing[0]}', which namespace "
                f"'{store.namespace}' does not have"
                + (f" (nor {', '.join(repr(m) for m in missing[1:])})" if missing[1:] else ""),
                hint=f"set it with '{_SET[kind].format(name=missing[0])}'",
            )


def _connection_env(conn: Connection) -> dict[str, str]:
    env = {connection_env(conn.name): conn.uri}
    parts: dict[str, Any] = {
        "type": conn.type,
        "host": conn.host,
        "port": conn.port,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
    }
    for part, value in parts.items():
        if value is not None:
            env[connection_env(conn.name, part)] = str(value)
    env[connection_env(conn.name, "extras")] = json.dumps(conn.extras)
    return env


def task_environment(store: MetadataStore, options: TaskOptions) -> dict[str, str]:
    """The environment variables that carry what ``options`` declares, read now.

    Raises :class:`NotFound` (with the command to set it) for a name the store does not
    have, and :class:`~headwater.errors.ConfigurationError` for a value the key in use
    cannot decrypt.
    """
    env: dict[str, str] = {}
    hidden: list[str] = []
    for name in options.secrets or ():
        try:
            value = store.secrets.get(name)
        except NotFound as exc:
            raise NotFound(
                f"the task needs secret '{name}', which namespace '{store.namespace}' does "
                "not have",
                hint=f"set it with '{_SET['secrets'].format(name=name)}'",
            ) from exc
        env[secret_env(name)] = value
        hidden.append(value)
    for name in options.connections or ():
        conn = store.connections.get(name)
        env.update(_connection_env(conn))
        if conn.password:
            hidden.append(conn.password)
    for name in options.variables or ():
        env[variable_env(name)] = json.dumps(store.variables.get(name).value)
    if hidden:
        env[REDACT_ENV] = json.dumps(hidden)
    return env
