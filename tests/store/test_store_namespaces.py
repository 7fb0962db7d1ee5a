"""Namespaces and memberships in the store, on SQLite and PostgreSQL: what is refused,
with what message, and that a refusal changes nothing."""

from __future__ import annotations

import pytest

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.store import MetadataStore


def test_namespaces_are_created_listed_and_deleted_when_empty(store: MetadataStore) -> None:
    store.namespaces.create("ml", "model training")
    assert store.namespaces.names() == ["default", "ml"]
    assert store.namespaces.get("ml").description == "model training"
    ann = store.auth.create_user("ann")
    store.namespaces.set_member("ml", "ann", "viewer")
    assert store.namespaces.set_member("ml", "ann", "editor").role == "editor"  # changed
    assert store.namespaces.roles_of(ann.id) == {"ml": "editor"}
    scoped = store.scoped("ml")
    scoped.pools.set_pool("gpu", 2, None)
    store.namespaces.delete("ml")  # pools and memberships go with it
    assert store.namespaces.names() == ["default"]
    assert store.namespaces.roles_of(ann.id) == {}
    assert [p.name for p in scoped.pools.list() if p.name == "gpu"] == []


def test_a_namespace_holding_pipelines_is_not_deleted(store: MetadataStore) -> None:
    store.namespaces.create("ml")
    store.scoped("ml").pipelines.register_version("train", None, "sha256:v", {"tasks": {}}, None)
    with pytest.raises(Conflict, match="namespace 'ml' is not empty: it holds 1 pipelines"):
        store.namespaces.delete("ml")
    assert store.namespaces.exists("ml")


BAD = [
    (lambda s: s.namespaces.create("ML"), InvalidValue, "namespace 'ML' is not a valid name"),
    (lambda s: s.namespaces.create("a" * 64), InvalidValue, "is not a valid name"),
    (lambda s: s.namespaces.create("../x"), InvalidValue, "is not a valid name"),
    (lambda s: s.namespaces.create("default"), Conflict, "namespace 'default' already exists"),
    (lambda s: s.namespaces.create("ok", "d" * 2000), InvalidValue, "2000 characters"),
    (lambda s: s.namespaces.delete("default"), Conflict, "'default' cannot be deleted"),
    (lambda s: s.namespaces.delete("ghost"), NotFound, "no namespace 'ghost'"),
    (lambda s: s.namespaces.set_member("ghost", "ann", "viewer"), NotFound, "no namespace"),
    (lambda s: s.namespaces.set_member("default", "nobody", "viewer"), NotFound, "no user"),
    (
        lambda s: s.namespaces.set_member("default", "ann", "owner"),
        InvalidValue,
        "not a namespace role",
    ),
    (lambda s: s.namespaces.remove_member("default", "ann"), NotFound, "no member"),
    (lambda s: s.auth.create_user("x", "admin"), Conflict, "unknown server role 'admin'"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_is_a_clear_error_that_changes_nothing(
    store: MetadataStore, call: object, error: type[Exception], message: str
) -> None:
    store.auth.create_user("ann")
    before = (store.namespaces.list(), store.namespaces.members("default"))
    with pytest.raises(error, match=message):
        call(store)  # type: ignore[operator]
    assert (store.namespaces.list(), store.namespaces.members("default")) == before
