"""The URI roots of a namespace, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from headwater.store import InvalidValue, MetadataStore, NotFound, VersionRecord


def test_roots_are_added_normalized_listed_and_removed(store: MetadataStore) -> None:
    store.roots.add("/data/shared/", "team data")
    store.roots.add("s3://bucket/prefix/")
    again = store.roots.add("/data/shared")  # adding it again keeps one row
    assert again.description == "team data"
    assert [(r.root, r.description) for r in store.roots.list()] == [
        ("/data/shared", "team data"),
        ("s3://bucket/prefix", None),
    ]
    store.roots.remove("/data/shared/")
    assert [r.root for r in store.roots.list()] == ["s3://bucket/prefix"]
    with pytest.raises(NotFound, match="has no root '/data/shared'"):
        store.roots.remove("/data/shared")


@pytest.mark.parametrize(
    "root", ["data/relative", "", "s3://bucket/../x", "a::b", "file://host/x", "s3:///x"]
)
def test_roots_that_cannot_be_checked_are_refused(store: MetadataStore, root: str) -> None:
    with pytest.raises(InvalidValue, match="cannot be allowed"):
        store.roots.add(root)
    assert store.roots.list() == []


def test_roots_belong_to_their_namespace(
    store: MetadataStore, other_namespace: MetadataStore
) -> None:
    store.roots.add("/data/default-only")
    other_namespace.roots.add("/data/team-b")
    assert [r.root for r in store.roots.list()] == ["/data/default-only"]
    assert [r.root for r in other_namespace.roots.list()] == ["/data/team-b"]


def test_runs_are_confined_unless_created_otherwise(
    store: MetadataStore, version: VersionRecord
) -> None:
    assert store.runs.create_run(version, {}).confined
    assert not store.runs.create_run(version, {}, confined=False).confined
