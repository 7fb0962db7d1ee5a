"""The registry's store on SQLite and PostgreSQL: versions number themselves, also under
concurrent registration; aliases move and keep their history; every bad input is a clear
error that writes nothing; another namespace's artifacts and models are out of reach."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.engine import Workspace
from headwater.errors import InvalidValue, NotFound
from headwater.registry import register_artifact
from headwater.sdk import _models as sdk_rules
from headwater.store import (
    ALIAS_RE,
    MODEL_NAME_RE,
    MetadataStore,
    ModelVersionRecord,
    NewArtifact,
    NewModelVersion,
)
from headwater.store import _schema as t

REGISTRY_TABLES = ("registered_models", "model_versions", "model_aliases", "model_alias_history")


def _model_artifact(store: MetadataStore, name: str = "model", type_: str = "headwater.Model"):  # type: ignore[no-untyped-def]
    return store.lineage.add_artifact(NewArtifact(name, type_, f"/nowhere/{name}", None, None))


def _counts(store: MetadataStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            name: int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(t.metadata.tables[name])
                ).scalar_one()
            )
            for name in REGISTRY_TABLES
        }


def test_the_sdk_and_the_store_share_the_naming_rules() -> None:
    assert sdk_rules.MODEL_NAME_RE.pattern == MODEL_NAME_RE.pattern
    assert sdk_rules.ALIAS_RE.pattern == ALIAS_RE.pattern
    # The engine spells the scheme itself, so that runs without it never import the registry.
    from headwater.engine import _attempts
    from headwater.registry import MODELS_SCHEME

    assert _attempts.MODELS_SCHEME == MODELS_SCHEME


def test_versions_number_themselves_and_aliases_move(backend: str, ws: Workspace) -> None:
    store = ws.store
    a, b = _model_artifact(store, "a"), _model_artifact(store, "b")
    one = store.models.register(
        "churn", NewModelVersion(a.id, tags={"k": "v"}), aliases=["champion"]
    )
    two = store.models.register("churn", NewModelVersion(b.id))
    assert (one.version, two.version) == (1, 2)
    assert one.aliases == ("champion",) and one.tags == {"k": "v"}
    other = store.models.register("fraud", NewModelVersion(a.id))
    assert other.version == 1
    model = store.models.get_model("churn")
    assert model.last_version == 2 and model.aliases == {"champion": 1}
    change = store.models.set_alias("churn", "champion", 2, actor="ann")
    assert (change.from_version, change.to_version, change.actor) == (1, 2, "ann")
    assert store.models.by_alias("churn", "champion").id == two.id
    assert store.models.by_alias("churn", "latest").id == two.id
    assert [m.name for m in store.models.list_models()] == ["churn", "fraud"]
    assert [v.model for v in store.models.versions_of_artifact(a.id)] == ["churn", "fraud"]
    gone = store.models.delete_alias("churn", "champion", actor="bob")
    assert (gone.from_version, gone.to_version) == (2, None)
    assert store.models.get_model("churn").aliases == {}
    assert [(c.from_version, c.to_version) for c in store.models.alias_history("churn")] == [
        (2, None),
        (1, 2),
        (None, 1),
    ]


def test_concurrent_registrations_get_distinct_version_numbers(backend: str, ws: Workspace) -> None:
    racers = 10
    artifact = _model_artifact(ws.store)
    stores = [MetadataStore.open(ws.settings.database_url) for _ in range(racers)]
    barrier = threading.Barrier(racers)
    results: list[Any] = [None] * racers

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stores[i].models.register(
                "raced", NewModelVersion(artifact.id), aliases=["champion"]
            )
        except Exception as exc:  # every failure is reported, not just the first
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(racers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for s in stores:
            s.close()
    failures = [r for r in results if not isinstance(r, ModelVersionRecord)]
    assert failures == []
    assert sorted(r.version for r in results) == list(range(1, racers + 1))
    model = ws.store.models.get_model("raced")
    assert model.last_version == racers
    # Every move of the alias is in the history, each from the version before it.
    history = ws.store.models.alias_history("raced")
    assert len(history) == racers
    assert [c.from_version for c in reversed(history)][1:] == [
        c.to_version for c in reversed(history)
    ][:-1]
    assert model.aliases == {"champion": history[0].to_version}


def test_every_bad_input_is_a_clear_error_that_writes_nothing(backend: str, ws: Workspace) -> None:
    store = ws.store
    model = _model_artifact(store)
    data = _model_artifact(store, "data", "headwater.Dataset")
    store.models.register("churn", NewModelVersion(model.id), aliases=["champion"])
    before = _counts(store)
    cases = [
        (
            lambda: store.models.register("no spaces", NewModelVersion(model.id)),
            InvalidValue,
            "model name 'no spaces' is not valid",
        ),
        (
            lambda: store.models.register("churn", NewModelVersion(model.id), aliases=["latest"]),
            InvalidValue,
            "reserved",
        ),
        (
            lambda: store.models.register("churn", NewModelVersion(model.id), aliases=["9lives"]),
            InvalidValue,
            "alias '9lives' is not valid",
        ),
        (
            lambda: store.models.register("churn", NewModelVersion(model.id, tags={"k": 1})),
            InvalidValue,
            "tag 'k' must be text",
        ),  # type: ignore[dict-item]
        (
            lambda: store.models.register("churn", NewModelVersion(data.id)),
            InvalidValue,
            "is a headwater.Dataset, not a model",
        ),
        (
            lambda: store.models.register("fresh", NewModelVersion(data.id)),
            InvalidValue,
            "not a model",
        ),
        (
            lambda: store.models.register("churn", NewModelVersion("nosuchartifact")),
            NotFound,
            "no artifact 'nosuchartifact'",
        ),
        (
            lambda: store.models.set_alias("churn", "champion", 7),
            NotFound,
            "model 'churn' has no version 7 (its only version is 1)",
        ),
        (
            lambda: store.models.set_alias("churn", "champion", 0),
            InvalidValue,
            "whole number from 1",
        ),
        (
            lambda: store.models.set_alias("nope", "champion", 1),
            NotFound,
            "no registered model 'nope'",
        ),
        (
            lambda: store.models.set_alias("churn", "bad alias", 1),
            InvalidValue,
            "alias 'bad alias' is not valid",
        ),
        (
            lambda: store.models.delete_alias("churn", "challenger"),
            NotFound,
            "has no alias 'challenger'",
        ),
        (lambda: store.models.by_alias("churn", "challenger"), NotFound, "its aliases: champion"),
        (lambda: store.models.get_version("churn", 3), NotFound, "has no version 3"),
        (lambda: register_artifact(store, "churn", data.id), InvalidValue, "not a model"),
        (
            lambda: register_artifact(store, "churn", model.id, tags={"": "x"}),
            InvalidValue,
            "tag name '' is not valid",
        ),
    ]
    for call, kind, text in cases:
        with pytest.raises(kind) as caught:
            call()
        assert text in caught.value.message, caught.value.message
        assert caught.value.hint, text
        assert _counts(store) == before, text
    assert store.models.get_model("churn").aliases == {"champion": 1}


def test_another_namespaces_artifacts_and_models_are_out_of_reach(
    backend: str, ws: Workspace
) -> None:
    mine = _model_artifact(ws.store)
    other = MetadataStore(ws.store.engine, namespace="team-b")
    theirs = _model_artifact(other, "theirs")
    ws.store.models.register("churn", NewModelVersion(mine.id))
    before = _counts(ws.store)
    with pytest.raises(NotFound):
        ws.store.models.register("churn", NewModelVersion(theirs.id))
    with pytest.raises(NotFound):
        register_artifact(ws.store, "churn", theirs.id)
    with pytest.raises(NotFound):
        other.models.register("churn", NewModelVersion(mine.id))
    assert _counts(ws.store) == before
    with pytest.raises(NotFound):
        other.models.get_model("churn")
    assert other.models.list_models() == []
    # The same name in another namespace is another model, with its own numbers.
    assert other.models.register("churn", NewModelVersion(theirs.id)).version == 1
    with ws.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.model_versions.c.namespace, t.model_versions.c.version)
        ).all()
    assert sorted(rows) == [("default", 1), ("team-b", 1)]
