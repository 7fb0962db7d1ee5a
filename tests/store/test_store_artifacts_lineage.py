"""Artifacts, lineage and metrics in the metadata store.

The shared scenario is a chain of three tasks, as a training pipeline records it:
``load`` makes a dataset, ``featurize`` turns it into features, ``train`` turns the
features into a model (and logs metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.states import TaskStatus
from headwater.store import (
    ArtifactRecord,
    LineageNode,
    MetadataStore,
    MetricPoint,
    NewArtifact,
    NewAuditEvent,
    NewModelVersion,
    NewNotification,
    RunRecord,
    TaskRunRecord,
    VersionRecord,
    new_id,
)
from headwater.store import _schema as t

T = TaskStatus
StartTask = Callable[..., TaskRunRecord]
CountRows = Callable[[str], int]


def artifact(name: str, type_: str, run: str = "r1") -> NewArtifact:
    return NewArtifact(
        name=name,
        type=type_,
        uri=f"/artifacts/{run}/{name}",
        digest=f"sha256:{run}-{name}",
        size=len(name) * 100,
        metadata={"made_in": run},
    )


@dataclass
class Chain:
    run: RunRecord
    load: TaskRunRecord
    featurize: TaskRunRecord
    train: TaskRunRecord
    dataset: ArtifactRecord
    features: ArtifactRecord
    model: ArtifactRecord
    metrics: list[MetricPoint]


def make_chain(store: MetadataStore, run: RunRecord, start_task: StartTask) -> Chain:
    """Run the three tasks against the store the way the engine does."""
    load = start_task(run.id, "load")
    dataset = artifact("dataset", "system.Dataset")
    store.tasks.finish_task_run(load, T.SUCCEEDED, artifacts=[dataset], exit_code=0)

    featurize = start_task(run.id, "featurize", input_artifacts=[("data", dataset.id)])
    features = artifact("features", "system.Dataset")
    store.tasks.finish_task_run(featurize, T.SUCCEEDED, artifacts=[features], exit_code=0)

    train = start_task(run.id, "train", input_artifacts=[("features", features.id)])
    model = artifact("model", "system.Model")
    t0 = datetime.now(UTC)
    metrics = [
        MetricPoint("loss", 0.8, 0, t0),
        MetricPoint("loss", 0.4, 1, t0 + timedelta(seconds=1)),
        MetricPoint("loss", 0.2, 2, t0 + timedelta(seconds=2)),
        MetricPoint("accuracy", 0.9, None, t0 + timedelta(seconds=3), model.id),
    ]
    store.tasks.finish_task_run(train, T.SUCCEEDED, artifacts=[model], metrics=metrics, exit_code=0)

    return Chain(
        run=run,
        load=store.tasks.get_task_run(load.id),
        featurize=store.tasks.get_task_run(featurize.id),
        train=store.tasks.get_task_run(train.id),
        dataset=store.lineage.get_artifact(dataset.id),
        features=store.lineage.get_artifact(features.id),
        model=store.lineage.get_artifact(model.id),
        metrics=metrics,
    )


@pytest.fixture
def chain(store: MetadataStore, run: RunRecord, start_task: StartTask) -> Chain:
    return make_chain(store, run, start_task)


def hops(nodes: list[LineageNode]) -> list[tuple[int, str, str | None]]:
    return [(n.depth, n.artifact.name, n.task_run.path if n.task_run else None) for n in nodes]


# ---------------------------------------------------------------------- lineage


def test_upstream_lineage_of_the_model_goes_back_to_the_dataset(
    store: MetadataStore, chain: Chain
) -> None:
    nodes = store.lineage.walk(chain.model.id, "upstream")

    # Each node: the artifact, the attempt that links it to the previous hop (here the
    # one that consumed it), how far away it is, and the attempt that made it.
    assert nodes == [
        LineageNode(chain.features, chain.train, 1, chain.featurize),
        LineageNode(chain.dataset, chain.featurize, 2, chain.load),
    ]


def test_downstream_lineage_of_the_dataset_reaches_the_model(
    store: MetadataStore, chain: Chain
) -> None:
    nodes = store.lineage.walk(chain.dataset.id, "downstream")

    assert nodes == [
        LineageNode(chain.features, chain.featurize, 1, chain.featurize),
        LineageNode(chain.model, chain.train, 2, chain.train),
    ]


def test_lineage_stops_at_max_depth_and_at_the_ends(store: MetadataStore, chain: Chain) -> None:
    assert hops(store.lineage.walk(chain.model.id, "upstream", max_depth=1)) == [
        (1, "features", "train")
    ]
    assert hops(store.lineage.walk(chain.dataset.id, "downstream", max_depth=1)) == [
        (1, "features", "featurize")
    ]
    assert store.lineage.walk(chain.dataset.id, "upstream") == []
    assert store.lineage.walk(chain.model.id, "downstream") == []
    assert hops(store.lineage.walk(chain.features.id, "upstream")) == [(1, "dataset", "featurize")]
    assert hops(store.lineage.walk(chain.features.id, "downstream")) == [(1, "model", "train")]


def test_lineage_accepts_a_unique_prefix(store: MetadataStore, chain: Chain) -> None:
    assert store.lineage.walk(chain.model.id[:-2], "upstream") == store.lineage.walk(
        chain.model.id, "upstream"
    )


def test_lineage_of_an_unknown_artifact_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFound, match="no artifact 'nope'"):
        store.lineage.walk("nope", "upstream")


def test_lineage_visits_each_artifact_once_at_its_nearest_depth(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    # A diamond: train reads the features and, for its labels, the dataset itself.
    load = start_task(run.id, "load")
    dataset = artifact("dataset", "system.Dataset")
    store.tasks.finish_task_run(load, T.SUCCEEDED, artifacts=[dataset])
    featurize = start_task(run.id, "featurize", input_artifacts=[("data", dataset.id)])
    features = artifact("features", "system.Dataset")
    store.tasks.finish_task_run(featurize, T.SUCCEEDED, artifacts=[features])
    train = start_task(
        run.id, "train", input_artifacts=[("features", features.id), ("labels", dataset.id)]
    )
    model = artifact("model", "system.Model")
    store.tasks.finish_task_run(train, T.SUCCEEDED, artifacts=[model])

    assert sorted(hops(store.lineage.walk(model.id, "upstream"))) == [
        (1, "dataset", "train"),
        (1, "features", "train"),
    ]
    assert sorted(hops(store.lineage.walk(dataset.id, "downstream"))) == [
        (1, "features", "featurize"),
        (1, "model", "train"),
    ]


def test_an_imported_artifact_starts_the_lineage(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    raw = store.lineage.add_artifact(artifact("raw.csv", "system.Dataset", run="import"))
    load = start_task(run.id, "load", input_artifacts=[("source", raw.id)])
    dataset = artifact("dataset", "system.Dataset")
    store.tasks.finish_task_run(load, T.SUCCEEDED, artifacts=[dataset])

    assert store.lineage.walk(dataset.id, "upstream") == [
        LineageNode(raw, store.tasks.get_task_run(load.id), 1, None)
    ]
    assert hops(store.lineage.walk(raw.id, "downstream")) == [(1, "dataset", "load")]
    assert store.lineage.producer(raw.id) is None


def test_producer_is_the_task_attempt_that_made_the_artifact(
    store: MetadataStore, chain: Chain
) -> None:
    assert store.lineage.producer(chain.dataset.id) == chain.load
    assert store.lineage.producer(chain.features.id) == chain.featurize
    assert store.lineage.producer(chain.model.id) == chain.train


# ---------------------------------------------------------------------- cached reuse


@dataclass
class Rerun:
    run: RunRecord
    featurize: TaskRunRecord
    train: TaskRunRecord
    model: ArtifactRecord


@pytest.fixture
def rerun(
    store: MetadataStore, version: VersionRecord, chain: Chain, start_task: StartTask
) -> Rerun:
    """A second run in which ``featurize`` hits the cache and ``train`` runs again."""
    run = store.runs.create_run(version, {"lr": 0.2})
    cached = store.tasks.add_task_run(
        run.id,
        "featurize",
        "featurize",
        "featurize-component",
        1,
        T.CACHED,
        outputs={"artifacts": {"features": chain.features.id}},
        cache_key="sha256:featurize",
        cached_from=chain.featurize.id,
        input_artifacts=[("data", chain.dataset.id)],
        output_artifacts=[("features", chain.features.id)],
    )
    train = start_task(run.id, "train", input_artifacts=[("features", chain.features.id)])
    model = artifact("model", "system.Model", run="r2")
    store.tasks.finish_task_run(
        train,
        T.SUCCEEDED,
        artifacts=[model],
        metrics=[MetricPoint("loss", 0.1, 0, datetime.now(UTC))],
    )
    return Rerun(
        run=run,
        featurize=cached,
        train=store.tasks.get_task_run(train.id),
        model=store.lineage.get_artifact(model.id),
    )


def test_run_artifacts_lists_each_output_with_its_task_and_name(
    store: MetadataStore, chain: Chain
) -> None:
    listed = store.lineage.run_artifacts(chain.run.id)

    assert listed == [
        (chain.dataset, chain.load, "dataset"),
        (chain.features, chain.featurize, "features"),
        (chain.model, chain.train, "model"),
    ]


def test_run_artifacts_includes_outputs_reused_from_the_cache(
    store: MetadataStore, chain: Chain, rerun: Rerun
) -> None:
    listed = store.lineage.run_artifacts(rerun.run.id)

    assert listed == [
        (chain.features, rerun.featurize, "features"),
        (rerun.model, rerun.train, "model"),
    ]
    reused, via, _ = listed[0]
    assert via is not None
    assert (via.status, via.run_id, via.cached_from) == (T.CACHED, rerun.run.id, chain.featurize.id)
    assert reused.run_id == chain.run.id  # the bytes still belong to the first run
    # The first run's list is unchanged by the reuse.
    assert [a.id for a, _, _ in store.lineage.run_artifacts(chain.run.id)] == [
        chain.dataset.id,
        chain.features.id,
        chain.model.id,
    ]


def test_lineage_follows_cached_reuse_across_runs(
    store: MetadataStore, chain: Chain, rerun: Rerun
) -> None:
    # The original attempt stays the producer; the cached attempt only reuses it.
    assert store.lineage.producer(chain.features.id) == chain.featurize

    down = store.lineage.walk(chain.dataset.id, "downstream")
    assert sorted((n.depth, n.artifact.id) for n in down) == sorted(
        [(1, chain.features.id), (2, chain.model.id), (2, rerun.model.id)]
    )
    by_id = {n.artifact.id: n for n in down}
    assert by_id[rerun.model.id].task_run == rerun.train
    assert by_id[chain.model.id].task_run == chain.train
    # A cache hit reuses the features; the original attempt still made them.
    assert by_id[chain.features.id].producer == chain.featurize

    up = store.lineage.walk(rerun.model.id, "upstream")
    assert hops(up) == [(1, "features", "train"), (2, "dataset", "featurize")]
    assert up[0].task_run == rerun.train
    assert up[0].producer == chain.featurize
    assert up[1].task_run in (chain.featurize, rerun.featurize)
    assert up[1].producer == chain.load


# ---------------------------------------------------------------------- metrics


def test_metrics_come_back_in_logging_order_with_steps(
    store: MetadataStore, chain: Chain, rerun: Rerun
) -> None:
    got = store.lineage.metrics(chain.run.id)

    assert got == [("train", m) for m in chain.metrics]
    assert [(m.key, m.step, m.value) for _, m in got] == [
        ("loss", 0, 0.8),
        ("loss", 1, 0.4),
        ("loss", 2, 0.2),
        ("accuracy", None, 0.9),
    ]
    assert got[-1][1].artifact_id == chain.model.id
    assert [(path, m.key, m.value) for path, m in store.lineage.metrics(rerun.run.id)] == [
        ("train", "loss", 0.1)
    ]
    assert store.lineage.metrics("no-such-run") == []


def test_metrics_of_several_tasks_keep_the_order_they_were_logged_in(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    now = datetime.now(UTC)
    a = start_task(run.id, "sweep[0].fit")
    b = start_task(run.id, "sweep[1].fit")
    store.tasks.finish_task_run(b, T.SUCCEEDED, metrics=[MetricPoint("loss", 3.0, 0, now)])
    store.tasks.finish_task_run(
        a,
        T.SUCCEEDED,
        metrics=[MetricPoint("loss", 2.0, 0, now), MetricPoint("loss", 1.0, 1, now)],
    )

    assert [(path, m.value, m.step) for path, m in store.lineage.metrics(run.id)] == [
        ("sweep[1].fit", 3.0, 0),
        ("sweep[0].fit", 2.0, 0),
        ("sweep[0].fit", 1.0, 1),
    ]


def test_a_cache_hit_reports_the_metrics_its_source_logged(
    store: MetadataStore, version: VersionRecord, chain: Chain, count_rows: CountRows
) -> None:
    run = store.runs.create_run(version, {})
    hit = store.tasks.add_task_run(
        run.id,
        "train",
        "train",
        "train-component",
        1,
        T.CACHED,
        cached_from=chain.train.id,
        output_artifacts=[("model", chain.model.id)],
        copy_metrics_from=chain.train.id,
    )

    assert store.lineage.metrics(run.id) == [("train", m) for m in chain.metrics]
    assert store.lineage.metrics(chain.run.id) == [("train", m) for m in chain.metrics]
    with store.engine.connect() as conn:
        copied = conn.execute(
            sa.select(t.metrics.c.task_run_id, t.metrics.c.run_id, t.metrics.c.namespace).where(
                t.metrics.c.run_id == run.id
            )
        ).all()
    assert set(copied) == {(hit.id, run.id, "default")}
    assert count_rows("metrics") == 2 * len(chain.metrics)


def test_a_cache_hit_from_an_attempt_without_metrics_copies_none(
    store: MetadataStore, version: VersionRecord, chain: Chain
) -> None:
    run = store.runs.create_run(version, {})
    store.tasks.add_task_run(
        run.id, "featurize", "featurize", "c", 1, T.CACHED, copy_metrics_from=chain.featurize.id
    )

    assert store.lineage.metrics(run.id) == []


# ---------------------------------------------------------------------- artifact look-ups


def test_add_artifact_without_a_run(store: MetadataStore) -> None:
    new = NewArtifact("raw", "system.Dataset", "s3://bucket/raw.csv", None, None, {"k": [1, 2]})

    got = store.lineage.add_artifact(new)

    assert (got.id, got.run_id, got.task_run_id) == (new.id, None, None)
    assert (got.uri, got.digest, got.size, got.metadata) == (
        "s3://bucket/raw.csv",
        None,
        None,
        {"k": [1, 2]},
    )
    assert got.created_at.utcoffset() == timedelta(0)
    assert store.lineage.get_artifact(new.id) == got


def test_get_artifact_by_unique_prefix_and_not_found(store: MetadataStore, chain: Chain) -> None:
    assert store.lineage.get_artifact(chain.model.id[:20]) == chain.model

    with pytest.raises(NotFound) as info:
        store.lineage.get_artifact("zzzzzzzz")
    assert "no artifact 'zzzzzzzz'" in str(info.value)
    assert info.value.hint and "headwater artifacts list" in info.value.hint

    shared = chain.dataset.id[:4]
    assert chain.features.id.startswith(shared)  # made within the same seconds
    with pytest.raises(NotFound):
        store.lineage.get_artifact(shared)  # ambiguous


def test_get_artifact_prefix_wildcards_are_literal(store: MetadataStore) -> None:
    only = store.lineage.add_artifact(artifact("raw", "system.Dataset"))
    for prefix in ("%%%%", "____", only.id[:4] + "%"):
        try:
            got = store.lineage.get_artifact(prefix)
        except NotFound:
            continue
        pytest.fail(f"get_artifact({prefix!r}) matched {got.id}: LIKE wildcards were not escaped")


def test_find_artifact_by_uri_gives_the_newest(
    store: MetadataStore, other_namespace: MetadataStore
) -> None:
    first = store.lineage.add_artifact(
        NewArtifact("a", "system.Dataset", "/same/uri", "sha256:1", 1)
    )
    second = store.lineage.add_artifact(
        NewArtifact("a", "system.Dataset", "/same/uri", "sha256:2", 1)
    )
    store.lineage.add_artifact(NewArtifact("b", "system.Dataset", "/other/uri", "sha256:3", 1))

    found = store.lineage.find_artifact_by_uri("/same/uri")
    assert found == second != first
    assert store.lineage.find_artifact_by_uri("/no/such/uri") is None
    assert other_namespace.lineage.find_artifact_by_uri("/same/uri") is None


def test_artifacts_by_id(store: MetadataStore, chain: Chain) -> None:
    got = store.lineage.artifacts_by_id([chain.model.id, chain.dataset.id, "missing"])

    assert got == {chain.model.id: chain.model, chain.dataset.id: chain.dataset}
    assert store.lineage.artifacts_by_id([]) == {}
    assert store.lineage.artifacts_by_id(iter([chain.features.id])) == {
        chain.features.id: chain.features
    }


# ---------------------------------------------------------------------- namespaces


@pytest.mark.parametrize("namespace", ["default", "team-b"])
def test_every_row_a_store_writes_carries_its_namespace(
    store: MetadataStore, start_task: StartTask, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("HEADWATER_SECRET_KEY", Fernet.generate_key().decode())
    scoped = MetadataStore(store.engine, namespace=namespace)
    scoped.secrets.set("token", "s3cret")
    scoped.connections.set("warehouse", type="postgres", host="db", password="pw")
    scoped.variables.set("threshold", 0.5)
    version = scoped.pipelines.register_version(
        "train", None, "sha256:v", {"tasks": {}}, None, sources={"train.py": b"x = 1\n"}
    )
    run = scoped.runs.create_run(version, {})
    scoped.schedules.upsert_schedule(version)
    task = scoped.tasks.add_task_run(run.id, "load", "load", "load", 1, T.RUNNING)
    raw = scoped.lineage.add_artifact(artifact("raw", "system.Dataset"))
    scoped.tasks.finish_task_run(
        task,
        T.SUCCEEDED,
        artifacts=[artifact("dataset", "system.Dataset")],
        metrics=[MetricPoint("rows", 10.0, None, datetime.now(UTC))],
    )
    scoped.tasks.add_task_run(
        run.id, "use", "use", "use", 1, T.SKIPPED, input_artifacts=[("raw", raw.id)]
    )
    if namespace != "default":
        scoped.namespaces.create(namespace)
    scoped.auth.create_user("ann")  # users and tokens are server-wide: they live in default
    scoped.auth.create_token("ann")
    scoped.namespaces.set_member(namespace, "ann", "editor")
    scoped.pools.set_pool("gpu", 2)
    scoped.roots.add("/data/shared")
    [event] = scoped.assets.record_asset_events(run.id, task.id, [("warehouse://t", raw.id)])
    schedule = scoped.schedules.get_schedule("train")
    asset_run = new_id()
    assert scoped.assets.create_asset_run(
        schedule.pipeline_id,
        version.id,
        schedule.asset_cursor,
        event,
        [event],
        {},
        (datetime.now(UTC), datetime.now(UTC)),
        asset_run,
        experiment="train",
    )
    model = scoped.lineage.add_artifact(artifact("model", "headwater.Model"), run_id=run.id)
    scoped.models.register("churn", NewModelVersion(model.id), aliases=["champion"])
    scoped.models.delete_alias("churn", "champion")
    scoped.models.set_alias("churn", "champion", 1)
    scoped.deployments.create("churn-live", "churn@champion")
    scoped.deployments.record_serving(
        "churn-live", "main", scoped.models.get_version("churn", 1), "server-1"
    )
    study = scoped.studies.create_study(
        "sweep",
        pipeline="train",
        objective="fit.accuracy",
        direction="maximize",
        sampler="tpe",
        pruner="none",
        space={},
        settings={},
    )
    scoped.studies.append_journal(study.id, 0, [{"op": 0}])
    scoped.studies.record_trial(study.id, 0, state="running", run_id=run.id)
    scoped.outbox.add(
        [
            NewNotification(
                run.id,
                "train",
                "success",
                {"kind": "webhook", "target": "http://127.0.0.1:9", "on": ["success"]},
                {"kind": "success"},
            )
        ]
    )
    scoped.audit.record(
        NewAuditEvent(datetime.now(UTC), None, "anonymous", "POST", "/api/v1/runs", 401, "r1", 1.0)
    )

    with store.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            query = sa.select(table.c.namespace)
            if table is t.pools:  # the migration's default pool belongs to 'default'
                query = query.where(t.pools.c.name != "default_pool")
            if table in (t.users, t.api_tokens):  # server-wide: always in default
                assert set(conn.execute(query).scalars()) == {"default"}, table.name
                continue
            if table is t.namespaces:  # a row per namespace: default's from the migration
                query = query.where(t.namespaces.c.namespace != "default")
                if namespace == "default":
                    assert set(conn.execute(query).scalars()) == set()
                    continue
            namespaces = set(conn.execute(query).scalars())
            assert namespaces == {namespace}, table.name
    assert [r.id for r in scoped.runs.list_runs()] == [asset_run, run.id]
    if namespace != "default":
        assert store.runs.list_runs() == []
