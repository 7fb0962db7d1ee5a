"""Pipelines, versions and runs in the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.errors import IllegalTransition, NotFound
from headwater.states import RUN_TRANSITIONS, RunStatus
from headwater.store import MetadataStore, RunRecord, VersionRecord
from headwater.store import _schema as t

R = RunStatus
CountRows = Callable[[str], int]
SPEC: dict[str, Any] = {"schema_version": "1", "name": "train", "tasks": {"fit": {}}}


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None, f"{value!r} is naive"
    assert value.utcoffset() == timedelta(0), f"{value!r} is not UTC"


# ---------------------------------------------------------------------- versions


def test_register_version_is_idempotent_per_digest(
    store: MetadataStore, count_rows: CountRows
) -> None:
    first = store.pipelines.register_version("train", "trains", "sha256:aaa", SPEC, "/src")
    again = store.pipelines.register_version("train", "trains", "sha256:aaa", SPEC, "/src")

    assert first.new and not again.new
    assert again == dataclasses.replace(first, new=False)
    assert count_rows("pipelines") == 1
    assert count_rows("pipeline_versions") == 1


def test_register_version_makes_a_new_version_for_a_new_digest(
    store: MetadataStore, count_rows: CountRows
) -> None:
    first = store.pipelines.register_version("train", None, "sha256:aaa", SPEC, None)
    second = store.pipelines.register_version("train", None, "sha256:bbb", {**SPEC, "x": 1}, None)

    assert second.id != first.id
    assert second.pipeline_id == first.pipeline_id
    assert (second.digest, second.spec) == ("sha256:bbb", {**SPEC, "x": 1})
    assert count_rows("pipelines") == 1
    assert count_rows("pipeline_versions") == 2
    # Registering an old digest again finds the old version, not the newest one.
    assert store.pipelines.register_version("train", None, "sha256:aaa", SPEC, None).id == first.id


def test_same_digest_under_another_pipeline_name_is_another_version(
    store: MetadataStore,
) -> None:
    a = store.pipelines.register_version("train", None, "sha256:aaa", SPEC, None)
    b = store.pipelines.register_version("evaluate", None, "sha256:aaa", SPEC, None)

    assert b.pipeline_id != a.pipeline_id
    assert b.id != a.id
    assert b.pipeline == "evaluate"


def test_get_version_round_trips_the_spec(store: MetadataStore, version: VersionRecord) -> None:
    got = store.pipelines.get_version(version.id)

    assert got == dataclasses.replace(version, new=False)
    assert got.spec["params"] == {"lr": 0.01, "layers": [64, 32], "note": "ünïcode"}
    assert got.source_root == "/src/train"
    assert_utc(got.created_at)


def test_get_version_of_an_unknown_id_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFound, match="no pipeline version 'nope'"):
        store.pipelines.get_version("nope")


# ---------------------------------------------------------------------- create / get


def test_create_run_starts_queued_and_reads_back(
    store: MetadataStore, version: VersionRecord
) -> None:
    params = {"lr": 0.5, "layers": [1, 2], "name": "ünï", "nested": {"a": None}}
    run = store.runs.create_run(version, params, trigger="schedule", cache_enabled=False)

    assert run.status is R.QUEUED
    assert run.parameters == params
    assert (run.trigger, run.cache_enabled) == ("schedule", False)
    assert (run.pipeline, run.pipeline_id, run.version_id) == (
        "train",
        version.pipeline_id,
        version.id,
    )
    assert run.started_at is None and run.finished_at is None and run.error is None
    assert_utc(run.created_at)
    assert store.runs.get_run(run.id) == run


def test_create_run_defaults(store: MetadataStore, version: VersionRecord) -> None:
    run = store.runs.create_run(version, {})

    assert (run.trigger, run.cache_enabled, run.parameters) == ("manual", True, {})


def test_get_run_by_unique_prefix(store: MetadataStore, version: VersionRecord) -> None:
    runs = [store.runs.create_run(version, {"i": i}) for i in range(3)]

    for run in runs:
        # The first 10 characters are the time; the random part tells runs apart.
        assert store.runs.get_run(run.id[:20]) == run
        assert store.runs.get_run(run.id[:-1]) == run


def test_get_run_by_ambiguous_prefix_says_it_is_ambiguous(
    store: MetadataStore, version: VersionRecord
) -> None:
    a = store.runs.create_run(version, {})
    b = store.runs.create_run(version, {})
    shared = "".join(
        x for x, _ in itertools.takewhile(lambda p: p[0] == p[1], zip(a.id, b.id, strict=True))
    )
    assert len(shared) >= 4  # made within the same few seconds

    with pytest.raises(NotFound, match=f"'{shared}' is the start of several run ids") as info:
        store.runs.get_run(shared)
    assert "more characters" in (info.value.hint or "")


def test_get_run_needs_at_least_four_characters_of_prefix(
    store: MetadataStore, run: RunRecord
) -> None:
    assert store.runs.get_run(run.id[:4]) == run  # the only run: 4 characters are enough
    with pytest.raises(NotFound):
        store.runs.get_run(run.id[:3])


def test_get_run_prefix_wildcards_are_literal(store: MetadataStore, run: RunRecord) -> None:
    # LIKE wildcards in what the user typed must not match arbitrary ids.
    for prefix in ("%%%%", "____", run.id[:4] + "%", run.id[:3] + "_"):
        try:
            got = store.runs.get_run(prefix)
        except NotFound:
            continue
        pytest.fail(f"get_run({prefix!r}) matched run {got.id}: LIKE wildcards were not escaped")


def test_get_run_unknown_id_says_which_and_how_to_find_one(store: MetadataStore) -> None:
    with pytest.raises(NotFound) as info:
        store.runs.get_run("01hzzzzzzzzzzzzzzzzzzzzzzz")

    assert "no run '01hzzzzzzzzzzzzzzzzzzzzzzz'" in str(info.value)
    assert info.value.hint and "headwater runs list" in info.value.hint


# ---------------------------------------------------------------------- list


@pytest.fixture
def many_runs(store: MetadataStore) -> list[RunRecord]:
    """Seven runs of two pipelines, oldest first, some moved on."""
    train = store.pipelines.register_version("train", None, "sha256:t", SPEC, None)
    evaluate = store.pipelines.register_version("evaluate", None, "sha256:e", SPEC, None)
    runs = []
    for i in range(7):
        run = store.runs.create_run(train if i % 2 == 0 else evaluate, {"i": i})
        if i in (1, 2, 5):
            store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
        if i == 2:
            store.runs.set_run_status(run.id, R.RUNNING, R.SUCCEEDED)
        runs.append(store.runs.get_run(run.id))
    return runs


def test_list_runs_newest_first(store: MetadataStore, many_runs: list[RunRecord]) -> None:
    listed = store.runs.list_runs()

    assert [r.id for r in listed] == [r.id for r in reversed(many_runs)]
    assert listed == list(reversed(many_runs))


def test_list_runs_pages_in_order_without_overlap(
    store: MetadataStore, many_runs: list[RunRecord]
) -> None:
    pages = [store.runs.list_runs(limit=3, offset=offset) for offset in (0, 3, 6, 9)]

    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [r.id for r in itertools.chain(*pages)] == [r.id for r in reversed(many_runs)]


def test_list_runs_filters(store: MetadataStore, many_runs: list[RunRecord]) -> None:
    newest_first = list(reversed(many_runs))

    by_pipeline = store.runs.list_runs(pipeline="evaluate")
    assert [r.id for r in by_pipeline] == [r.id for r in newest_first if r.pipeline == "evaluate"]
    assert {r.parameters["i"] for r in by_pipeline} == {1, 3, 5}

    running = store.runs.list_runs(status=R.RUNNING)
    assert [r.parameters["i"] for r in running] == [5, 1]

    both = store.runs.list_runs(pipeline="train", status=R.QUEUED, limit=2)
    assert [r.parameters["i"] for r in both] == [6, 4]

    assert store.runs.list_runs(pipeline="no-such-pipeline") == []
    assert store.runs.list_runs(status=R.CANCELLED) == []


# ---------------------------------------------------------------------- status changes


def _walk_to(store: MetadataStore, run_id: str, status: RunStatus) -> None:
    """Take a queued run to ``status`` along allowed transitions."""
    path = {
        R.QUEUED: [],
        R.RUNNING: [R.RUNNING],
        R.SUCCEEDED: [R.RUNNING, R.SUCCEEDED],
        R.FAILED: [R.RUNNING, R.FAILED],
        R.CANCELLED: [R.CANCELLED],
    }[status]
    current = R.QUEUED
    for target in path:
        store.runs.set_run_status(run_id, current, target)
        current = target
    assert store.runs.get_run(run_id).status is status


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product(RunStatus, RunStatus)),
    ids=lambda s: str(s),
)
def test_set_run_status_follows_the_state_machine(
    store: MetadataStore, version: VersionRecord, current: RunStatus, target: RunStatus
) -> None:
    run = store.runs.create_run(version, {})
    _walk_to(store, run.id, current)
    before = store.runs.get_run(run.id)

    if target in RUN_TRANSITIONS[current]:
        store.runs.set_run_status(run.id, current, target)
        assert store.runs.get_run(run.id).status is target
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
            store.runs.set_run_status(run.id, current, target)
        assert store.runs.get_run(run.id) == before


def test_set_run_status_records_times_engine_and_error(
    store: MetadataStore, run: RunRecord
) -> None:
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
    running = store.runs.get_run(run.id)
    assert running.engine_pid == os.getpid()
    assert running.engine_host == os.uname().nodename
    assert_utc(running.started_at)
    assert_utc(running.heartbeat_at)
    assert running.finished_at is None
    assert running.started_at >= run.created_at  # type: ignore[operator]

    store.runs.set_run_status(run.id, R.RUNNING, R.FAILED, error="task fit failed")
    failed = store.runs.get_run(run.id)
    assert failed.status is R.FAILED
    assert failed.error == "task fit failed"
    assert failed.started_at == running.started_at
    assert_utc(failed.finished_at)
    assert failed.finished_at >= failed.started_at  # type: ignore[operator]


def test_a_succeeded_run_keeps_its_outputs_until_it_is_queued_again(
    store: MetadataStore, run: RunRecord
) -> None:
    outputs = {"parameters": {"accuracy": 0.9}, "artifacts": {"model": "01ART"}}
    assert run.outputs is None
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
    store.runs.set_run_status(run.id, R.RUNNING, R.SUCCEEDED, outputs=outputs)
    assert store.runs.get_run(run.id).outputs == outputs
    # Tasks cleared: the run goes again, and what it returned no longer holds.
    store.runs.set_run_status(run.id, R.SUCCEEDED, R.QUEUED)
    assert store.runs.get_run(run.id).outputs is None


def test_set_run_status_with_a_stale_current_status_is_refused(
    store: MetadataStore, run: RunRecord
) -> None:
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)

    # Another engine, still believing the run queued, tries to cancel it.
    with pytest.raises(NotFound, match=f"run '{run.id}' is not queued any more"):
        store.runs.set_run_status(run.id, R.QUEUED, R.CANCELLED)
    assert store.runs.get_run(run.id).status is R.RUNNING
    assert store.runs.get_run(run.id).finished_at is None


def test_set_run_status_of_an_unknown_run_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.runs.set_run_status("nope", R.QUEUED, R.RUNNING)


def test_only_one_of_many_racing_engines_starts_a_run(store: MetadataStore, run: RunRecord) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
            outcomes.append("won")
        except NotFound:
            outcomes.append("lost")

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    assert store.runs.get_run(run.id).status is R.RUNNING


def test_claim_run_records_this_process_and_a_fresh_heartbeat(
    store: MetadataStore, run: RunRecord
) -> None:
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
    with store.engine.begin() as conn:
        conn.execute(
            t.runs.update()
            .where(t.runs.c.id == run.id)
            .values(
                engine_host="gone-host",
                engine_pid=1,
                engine_id="gone",
                heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )

    assert not store.control.claim_run(run.id, "me")  # another engine's, with a fresh-enough beat
    assert store.control.claim_run(run.id, "me", stale_before=datetime(2021, 1, 1, tzinfo=UTC))

    claimed = store.runs.get_run(run.id)
    assert claimed.engine_id == "me"
    assert (claimed.engine_host, claimed.engine_pid) == (os.uname().nodename, os.getpid())
    assert_utc(claimed.heartbeat_at)
    assert claimed.heartbeat_at > datetime.now(UTC) - timedelta(minutes=1)  # type: ignore[operator]
    assert claimed.status is R.RUNNING


# ---------------------------------------------------------------------- namespaces


def test_another_namespace_does_not_see_the_first_ones_runs(
    store: MetadataStore, other_namespace: MetadataStore, version: VersionRecord, run: RunRecord
) -> None:
    assert other_namespace.runs.list_runs() == []
    assert other_namespace.runs.list_runs(pipeline="train") == []
    with pytest.raises(NotFound):
        other_namespace.runs.get_run(run.id)
    with pytest.raises(NotFound):
        other_namespace.runs.get_run(run.id[:12])

    theirs_version = other_namespace.pipelines.register_version(
        "train", None, version.digest, SPEC, None
    )
    theirs = other_namespace.runs.create_run(theirs_version, {})

    assert theirs_version.pipeline_id != version.pipeline_id
    assert [r.id for r in other_namespace.runs.list_runs()] == [theirs.id]
    assert [r.id for r in store.runs.list_runs()] == [run.id]
    with pytest.raises(NotFound):
        store.runs.get_run(theirs.id)


def test_rows_inserted_without_a_namespace_get_default(
    store: MetadataStore, count_rows: CountRows
) -> None:
    """The database itself (not only the store's code) defaults ``namespace`` on every table."""
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(t.pipelines.insert().values(id="p", name="p", created_at=now))
        conn.execute(
            t.pipeline_versions.insert().values(
                id="v", pipeline_id="p", digest="d", spec={}, created_at=now
            )
        )
        conn.execute(
            t.runs.insert().values(
                id="r",
                pipeline_id="p",
                version_id="v",
                status="queued",
                parameters={},
                created_at=now,
                experiment="p",
            )
        )
        conn.execute(
            t.task_runs.insert().values(
                id="tr",
                run_id="r",
                path="a",
                task="a",
                component="a",
                attempt=1,
                status="pending",
                created_at=now,
            )
        )
        conn.execute(
            t.artifacts.insert().values(
                id="a",
                run_id="r",
                task_run_id="tr",
                name="a",
                type="Dataset",
                uri="/a",
                created_at=now,
            )
        )
        conn.execute(
            t.lineage_events.insert().values(
                task_run_id="tr",
                artifact_id="a",
                direction="output",
                input_name="a",
                created_at=now,
            )
        )
        conn.execute(
            t.metrics.insert().values(
                run_id="r", task_run_id="tr", key="k", value=1.0, logged_at=now
            )
        )
        conn.execute(
            t.source_files.insert().values(digest="sha256:x", size=1, content=b"x", created_at=now)
        )
        conn.execute(
            t.schedules.insert().values(
                pipeline_id="p", version_id="v", created_at=now, updated_at=now
            )
        )
        conn.execute(t.users.insert().values(id="u", name="u", role="member", created_at=now))
        conn.execute(
            t.api_tokens.insert().values(
                id="k", user_id="u", name="k", token_hash="h", prefix="hw_", created_at=now
            )
        )
        conn.execute(t.pools.insert().values(name="gpu", created_at=now, updated_at=now))
        conn.execute(t.assets.insert().values(id="as", name="a://b", created_at=now))
        conn.execute(t.asset_events.insert().values(asset_id="as", run_id="r", created_at=now))
        event = conn.execute(sa.select(t.asset_events.c.id)).scalar_one()
        conn.execute(t.asset_triggers.insert().values(event_id=event, run_id="r"))
        conn.execute(
            t.notifications.insert().values(
                id="n",
                run_id="r",
                pipeline="p",
                event="success",
                target={},
                payload={},
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
        conn.execute(t.uri_roots.insert().values(root="/data", created_at=now))
        conn.execute(
            t.studies.insert().values(
                id="s",
                name="s",
                pipeline="p",
                objective="a.k",
                direction="maximize",
                sampler="tpe",
                pruner="none",
                space={},
                settings={},
                status="running",
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(t.study_journal.insert().values(study_id="s", seq=0, entry={}))
        conn.execute(
            t.study_trials.insert().values(
                study_id="s", number=0, run_id="r", state="running", params={}, created_at=now
            )
        )
        conn.execute(
            t.registered_models.insert().values(id="m", name="m", created_at=now, updated_at=now)
        )
        conn.execute(
            t.model_versions.insert().values(
                id="mv", model_id="m", version=1, artifact_id="a", created_at=now
            )
        )
        conn.execute(
            t.model_aliases.insert().values(
                model_id="m", alias="champion", version_id="mv", updated_at=now
            )
        )
        conn.execute(
            t.model_alias_history.insert().values(
                model_id="m", alias="champion", to_version=1, created_at=now
            )
        )
        conn.execute(
            t.deployments.insert().values(
                id="d", name="d", model="m@champion", created_at=now, updated_at=now
            )
        )
        conn.execute(
            t.deployment_revisions.insert().values(
                deployment_id="d", revision=1, action="create", model="m", created_at=now
            )
        )
        conn.execute(
            t.deployment_serving.insert().values(
                deployment_id="d", role="main", version_id="mv", server="s", since=now
            )
        )
        conn.execute(t.memberships.insert().values(user_id="u", role="viewer", created_at=now))
        conn.execute(
            t.audit_events.insert().values(
                at=now,
                user="u",
                method="POST",
                route="/api/v1/x",
                status=200,
                request_id="r",
                duration_ms=1.0,
            )
        )
        conn.execute(t.namespaces.delete())
        conn.execute(t.namespaces.insert().values(created_at=now))
        for table in (t.secrets, t.variables):
            conn.execute(
                table.insert().values(name="x", value="token", created_at=now, updated_at=now)
            )
        conn.execute(
            t.connections.insert().values(
                name="x", conn_type="http", extras={}, created_at=now, updated_at=now
            )
        )
    with store.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            namespaces = conn.execute(sa.select(table.c.namespace)).scalars().all()
            # pools also holds the migration's default_pool, in 'default' as well
            assert set(namespaces) == {"default"}, table.name
    # the run defaulted the other server-side defaults too
    got = store.runs.get_run("r")
    assert (got.trigger, got.cache_enabled, got.confined) == ("manual", True, False)
    assert count_rows("runs") == 1


# ---------------------------------------------------------------------- datetimes


def test_datetimes_come_back_aware_utc(store: MetadataStore, run: RunRecord) -> None:
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
    store.runs.set_run_status(run.id, R.RUNNING, R.SUCCEEDED)
    done = store.runs.get_run(run.id)

    for value in (done.created_at, done.started_at, done.finished_at, done.heartbeat_at):
        assert_utc(value)
    for listed in store.runs.list_runs():
        assert_utc(listed.created_at)
    assert abs(done.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_datetimes_are_utc_whatever_the_postgres_session_time_zone(
    postgres_store_url: str,
) -> None:
    # A server (or role) configured for another zone must not shift or relabel times.
    url = postgres_store_url + "?options=-c%20TimeZone%3DAsia%2FKolkata"
    store = MetadataStore.open(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SHOW TimeZone")).scalar() == "Asia/Kolkata"
        version = store.pipelines.register_version("tz", None, "sha256:tz", SPEC, None)
        before = datetime.now(UTC)
        run = store.runs.create_run(version, {})
        after = datetime.now(UTC)
        assert_utc(run.created_at)
        assert before <= run.created_at <= after
        assert_utc(store.pipelines.get_version(version.id).created_at)
    finally:
        store.close()
