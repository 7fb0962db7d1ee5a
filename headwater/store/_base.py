"""What every part of the metadata store shares: ids, the clock, and the database handle."""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Two digits at a time: a scheduler pass makes thousands of ids.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def new_id() -> str:
    """A 26-character id that sorts by creation time (ULID layout, Crockford base32): the
    128-bit value as 26 base-32 digits, most significant first."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


_OWNER: tuple[int, str] | None = None


def process_owner() -> str:
    """This process's engine id: runs it creates and drives itself carry it."""
    global _OWNER
    if _OWNER is None or _OWNER[0] != os.getpid():
        _OWNER = (os.getpid(), new_id())
    return _OWNER[1]


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: Any) -> datetime:
    """A datetime from an aggregate (which bypasses the column type) as aware UTC."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def fields_of(cls: type, m: Any) -> dict[str, Any]:
    """The values of ``cls``'s fields from a row mapping (missing columns are None)."""
    values = m if isinstance(m, dict) else dict(m)  # a plain dict answers get() faster
    return {name: values.get(name) for name in _field_names(cls)}


class Database:
    """The handle every area of the store shares: an engine, a namespace, and transactions
    that a :meth:`batch` can widen.

    Each area store (runs, tasks, pools, ...) holds the same handle, so one batch covers
    the writes of all of them.
    """

    def __init__(self, engine: sa.Engine, namespace: str = "default") -> None:
        self.engine = engine
        self.namespace = namespace
        # A batch belongs to the thread that opened it: another thread using the same
        # handle meanwhile (the triggerer's checks, a study's driver) gets transactions
        # of its own, never a share of the batch's connection.
        self._local = threading.local()

    @property
    def _batch(self) -> sa.Connection | None:
        return getattr(self._local, "batch", None)

    @_batch.setter
    def _batch(self, conn: sa.Connection | None) -> None:
        self._local.batch = conn

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every call inside one transaction, committed at the end (or rolled back).

        The engine handles a burst of task events in one batch, so a fan-out of many
        tasks costs one commit, not one per task.
        """
        if self._batch is not None:
            yield
            return
        with self.engine.begin() as conn:
            self._batch = conn
            try:
                yield
            finally:
                self._batch = None

    @property
    def in_batch(self) -> bool:
        return self._batch is not None

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A transaction: the current batch's, or a new one committed on leaving."""
        if self._batch is not None:
            yield self._batch
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reading: the current batch's (to see its writes), or a new one."""
        if self._batch is not None:
            yield self._batch
            return
        with self.engine.connect() as conn:
            yield conn

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def insert_new(self, table: sa.Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` on this database: a row that another
        process created first is left alone (with ``RETURNING``, no row comes back), so that
        insert-or-get needs no retry, on SQLite and PostgreSQL alike."""
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def close(self) -> None:
        self.engine.dispose()
