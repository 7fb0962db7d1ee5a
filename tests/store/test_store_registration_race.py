"""Registering a pipeline and its versions from many processes at once (insert-or-get), on
SQLite and PostgreSQL: every caller gets the one row, none fails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from headwater.store import MetadataStore, VersionRecord

CountRows = Callable[[str], int]
SPEC: dict[str, Any] = {"schema_version": "1", "name": "fresh", "tasks": {"fit": {}}}
RACERS = 12


def _race(db_url: str, call: Callable[[MetadataStore, int], Any]) -> list[Any]:
    """``call(store, i)`` from RACERS threads released together, each with its own store
    (its own connections); returns what each got (or the exception it raised)."""
    stores = [MetadataStore.open(db_url) for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(stores[i], i)
        except Exception as exc:  # the test reports every failure, not just the first
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for s in stores:
            s.close()
    return results


def test_racing_first_registrations_of_a_pipeline_all_get_the_same_version(
    db_url: str, store: MetadataStore, count_rows: CountRows
) -> None:
    for round_ in range(3):  # a race is not certain in one round; three make it near-certain
        name = f"fresh-{round_}"
        results = _race(
            db_url,
            lambda s, i, name=name: s.pipelines.register_version(
                name, None, "sha256:one", SPEC, "/src"
            ),
        )

        failures = [r for r in results if not isinstance(r, VersionRecord)]
        assert failures == [], failures
        assert len({r.id for r in results}) == 1
        assert len({r.pipeline_id for r in results}) == 1
        assert sum(1 for r in results if r.new) == 1  # exactly one caller created it
        assert store.pipelines.list_versions(name)[0].id == results[0].id
    assert count_rows("pipelines") == 3
    assert count_rows("pipeline_versions") == 3


def test_racing_new_versions_of_one_new_pipeline_share_the_pipeline(
    db_url: str, store: MetadataStore, count_rows: CountRows
) -> None:
    results = _race(
        db_url,
        lambda s, i: s.pipelines.register_version("fresh", None, f"sha256:{i % 3}", SPEC, None),
    )

    failures = [r for r in results if not isinstance(r, VersionRecord)]
    assert failures == [], failures
    assert len({r.pipeline_id for r in results}) == 1
    by_digest: dict[str, set[str]] = {}
    for r in results:
        by_digest.setdefault(r.digest, set()).add(r.id)
    assert all(len(ids) == 1 for ids in by_digest.values()), by_digest
    assert count_rows("pipelines") == 1
    assert count_rows("pipeline_versions") == 3


def test_racing_deploys_of_the_same_sources_store_each_file_once(
    db_url: str, store: MetadataStore, count_rows: CountRows
) -> None:
    sources = {"flow.py": b"print('hi')\n", "lib/util.py": b"X = 1\n"}
    results = _race(
        db_url,
        lambda s, i: s.pipelines.register_version(
            f"deployed-{i}", None, "sha256:d", SPEC, None, sources=sources
        ),
    )

    failures = [r for r in results if not isinstance(r, VersionRecord)]
    assert failures == [], failures
    assert count_rows("source_files") == 2
    assert all(store.pipelines.read_sources(r) == sources for r in results)


def test_racing_creations_of_a_new_pool_all_succeed(db_url: str, store: MetadataStore) -> None:
    results = _race(db_url, lambda s, i: s.pools.set_pool("gpu", 4))

    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == [], failures
    assert [p.slots for p in store.pools.list() if p.name == "gpu"] == [4]
