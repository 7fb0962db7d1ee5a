"""The URI roots of a namespace, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from headwater.store import InvalidValue, MetadataStore, NotFound, VersionRecord


def test_roots_are_added_normalized_listed_and_removed(store: MetadataStore) -> None:
    store.add_uri_root("/data/shared/", "team data")
    store.add_uri_root("s3://bucket/prefix/")
    again = store.add_uri_root("/data/shared")  # adding it again keeps one row
    assert again.description == "team data"
    assert [(r.root, r.description) for r in store.uri_roots()] == [
        ("/data/shared", "team data"),
        ("s3://bucket/prefix", None),
    ]
    store.remove_uri_root("/data/shared/")
    assert [r.root for r in store.uri_roots()] == ["s3://bucket/prefix"]
    with pytest.raises(NotFound, match="has no root '/data/shared'"):
        store.remove_uri_root("/data/shared")


@pytest.mark.parametrize(
    "root", ["data/relative", "", "s3://bucket/../x", "a::b", "file://host/x", "s3:///x"]
)
def test_roots_that_cannot_be_checked_are_refused(store: MetadataStore, root: str) -> None:
    with pytest.raises(InvalidValue, match="cannot be allowed"):
        store.add_uri_root(root)
    assert store.uri_roots() == []


def test_roots_belong_to_their_namespace(
    store: MetadataStore, other_namespace: MetadataStore
) -> None:
    store.add_uri_root("/data/default-only")
    other_namespace.add_uri_root("/data/team-b")
    assert [r.root for r in store.uri_roots()] == ["/data/default-only"]
    assert [r.root for r in other_namespace.uri_roots()] == ["/data/team-b"]


def test_runs_are_confined_unless_created_otherwise(
    store: MetadataStore, version: VersionRecord
) -> None:
    assert store.create_run(version, {}).confined
    assert not store.create_run(version, {}, confined=False).confined
