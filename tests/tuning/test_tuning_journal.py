"""Optuna's journal in the store: entries in order, two writers never lose one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from headwater.engine import Workspace
from headwater.errors import Conflict, NotFound
from headwater.store import MetadataStore
from headwater.tuning import DatabaseJournal


@pytest.fixture
def store(database: str, home: Path) -> Iterator[MetadataStore]:
    ws = Workspace.open()
    yield ws.store
    ws.close()


def _study(store: MetadataStore, name: str = "s") -> str:
    return store.studies.create_study(
        name,
        pipeline="p",
        objective="train.accuracy",
        direction="maximize",
        sampler="tpe",
        pruner="none",
        space={"x": {"type": "float", "low": 0, "high": 1}},
        settings={"trials": 3},
    ).id


def test_two_writers_of_one_journal_keep_every_entry_in_order(store: MetadataStore) -> None:
    study_id = _study(store)
    first = DatabaseJournal(store, study_id, max_age=0)
    # A second writer with a store handle of its own, as another process would have.
    other_store = MetadataStore(store.engine, store.namespace)
    second = DatabaseJournal(other_store, study_id, max_age=0)

    first.append_logs([{"n": 0}, {"n": 1}])
    second.append_logs([{"n": 2}])  # it had read nothing: it reads the first's, then writes
    first.append_logs([{"n": 3}])  # the same, the other way round
    expected = [{"n": i} for i in range(4)]
    assert list(first.read_logs(0)) == expected
    assert list(second.read_logs(0)) == expected
    assert list(first.read_logs(2)) == expected[2:]
    assert store.studies.read_journal(study_id) == expected
    assert DatabaseJournal(store, study_id).read_logs(0) == expected  # a newcomer reads all
    # Within max_age, what another writer added is not read yet; after it, it is.
    lazy = DatabaseJournal(store, study_id, max_age=3600)
    second.append_logs([{"n": 4}])
    assert len(list(lazy.read_logs(0))) == 4
    lazy.max_age = 0
    assert list(lazy.read_logs(4)) == [{"n": 4}]


def test_optuna_studies_in_two_storages_over_one_journal_agree(store: MetadataStore) -> None:
    study_id = _study(store)
    one = optuna.storages.JournalStorage(DatabaseJournal(store, study_id, max_age=0))
    two = optuna.storages.JournalStorage(
        DatabaseJournal(MetadataStore(store.engine, store.namespace), study_id, max_age=0)
    )
    a = optuna.create_study(storage=one, study_name="s", direction="maximize")
    b = optuna.load_study(storage=two, study_name="s")
    for study, value in ((a, 1.0), (b, 3.0), (a, 2.0)):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, value)
    assert [t.number for t in a.trials] == [0, 1, 2]
    assert [t.value for t in b.trials] == [1.0, 3.0, 2.0]
    assert a.best_value == b.best_value == 3.0


def test_studies_are_named_once_and_found_by_name(store: MetadataStore) -> None:
    _study(store, "once")
    with pytest.raises(Conflict, match="a study named 'once' already exists"):
        _study(store, "once")
    with pytest.raises(NotFound, match="no study named 'other'"):
        store.studies.get_study("other")
    assert [s.name for s in store.studies.list_studies()] == ["once"]
