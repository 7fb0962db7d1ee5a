"""Optuna's journal storage over Headwater's own database.

Optuna keeps a study as a journal of operations (create trial, set a parameter, report a
value, finish), replayed to rebuild its state. :class:`DatabaseJournal` stores one
study's journal as rows of ``study_journal``, numbered from 0 in the order written, so a
study lives beside its runs (on SQLite or PostgreSQL alike) and a killed tuner resumes
from it. Optuna's own RDB storage is not used: its ``alembic_version`` table would clash
with the store's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from optuna.storages.journal import BaseJournalBackend

from headwater.store import MetadataStore


class DatabaseJournal(BaseJournalBackend):
    """The journal of study ``study_id`` in ``store``.

    Optuna reads the journal before every operation, so entries are kept in memory once
    read: the database is asked only for entries written since, and at most once every
    ``max_age`` seconds (what another process wrote is seen that late at worst; a tuner
    alone on its study loses nothing by it). Two writers cannot take one entry number: the
    database refuses the second, which reads what it missed and writes after it.
    """

    def __init__(self, store: MetadataStore, study_id: str, max_age: float = 1.0) -> None:
        self.store = store
        self.study_id = study_id
        self.max_age = max_age
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._refresh()

    def _refresh(self) -> None:
        self._entries.extend(self.store.studies.read_journal(self.study_id, len(self._entries)))
        self._read_at = time.monotonic()

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.max_age:
                self._refresh()
            return self._entries[log_number_from:]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        with self._lock:
            while not self.store.studies.append_journal(self.study_id, len(self._entries), logs):
                self._refresh()  # another process wrote first: read what it wrote
            self._entries.extend(logs)
