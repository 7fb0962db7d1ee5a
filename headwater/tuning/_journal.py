"""Optuna's journal storage over Headwater's own database.

Optuna keeps a study as a journal of operations (create trial, set a parameter, report a
value, finish), replayed to rebuild its state. :class:`DatabaseJournal` stores one
study's journal as rows of ``study_journal``, numbered from 0 in the order written, so a
study lives beside its runs (on SQLite or PostgreSQL alike) and a killed tuner resumes
from it. Optuna's own RDB storage is not used: its ``alembic_version`` table would clash
with the store's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from optuna.storages.journal import BaseJournalBackend

from headwater.store import MetadataStore


class DatabaseJournal(BaseJournalBackend):
    """The journal of study ``study_id`` in ``store``; safe across threads and processes
    (two writers cannot take one entry number: the database refuses the second, which
    writes after the first)."""

    def __init__(self, store: MetadataStore, study_id: str) -> None:
        self.store = store
        self.study_id = study_id

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return self.store.studies.read_journal(self.study_id, log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        self.store.studies.append_journal(self.study_id, logs)
