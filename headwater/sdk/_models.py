"""``register_model``: inside a task, ask for an artifact to be registered as a model
version. The task process never opens the database: the call is written to the task
output, and the engine registers the version when it records the task's success, in
the same transaction (docs/adr/0018)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# The same rules as headwater/store/_records.py (the SDK stays free of SQLAlchemy);
# tests/registry/test_registry_store.py pins them equal.
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")

_pending: list[tuple[Any, dict[str, Any]]] = []


def register_model(
    model: Any,
    name: str,
    aliases: Iterable[str] = (),
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> None:
    """Register ``model`` (an ``Output[Model]`` this task writes, or an ``Input[Model]``
    it read) as the next version of model ``name`` once the task succeeds, and point
    ``aliases`` at that version::

        @component
        def train(data: Input[Dataset], model: Output[Model]) -> None:
            ...
            register_model(model, "churn", aliases=["challenger"], tags={"team": "growth"})

    Nothing is registered if the task fails. Bad arguments raise here, in the task.
    """
    from headwater.sdk._artifacts import Model

    if not isinstance(model, Model):
        raise TypeError(
            f"register_model registers a Model artifact (Output[Model] or Input[Model]), not "
            f"{type(model).__name__}; declare the parameter as Output[Model]"
        )
    if not isinstance(name, str) or not MODEL_NAME_RE.match(name):
        raise ValueError(
            f"model name {name!r} is not valid: use 1 to 128 letters, digits, '_', '.' or '-', "
            "starting with a letter, a digit or '_'"
        )
    if isinstance(aliases, str):
        raise TypeError(f"aliases must be a list of names, e.g. aliases=[{aliases!r}]")
    names = list(aliases)
    for alias in names:
        if not isinstance(alias, str) or not ALIAS_RE.match(alias) or alias == "latest":
            raise ValueError(
                f"alias {alias!r} is not valid: use 1 to 64 letters, digits, '_' or '-', "
                "starting with a letter or '_' ('latest' is reserved)"
            )
    clean: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not 0 < len(key) <= 128:
            raise ValueError(f"tag name {key!r} is not valid: use text of 1 to 128 characters")
        if not isinstance(value, str) or len(value) > 1024:
            raise ValueError(f"tag '{key}' must be text of at most 1024 characters")
        clean[key] = value
    if description is not None and not isinstance(description, str):
        raise TypeError("description must be text")
    _pending.append(
        (model, {"name": name, "aliases": names, "tags": clean, "description": description})
    )


def take_registrations(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``register_model`` calls made since the last take, for the task output: each
    names an output of this task (``outputs``: its output artifacts by name) or the URI
    of an input."""
    found = []
    for model, request in _pending:
        output = next((n for n, art in outputs.items() if art is model), None)
        found.append({**request, "output": output, "uri": None if output else model.uri})
    _pending.clear()
    return found


def clear_registrations() -> None:
    _pending.clear()
