"""Deployments in the store, on SQLite and PostgreSQL: revisions, promote, rollback (to
what was served before, pinned), the serving history lineage reads; every bad input a
clear error that writes nothing; another namespace's deployments out of reach."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from headwater.errors import Conflict, InvalidValue, NotFound
from headwater.store import MetadataStore, NewArtifact, NewModelVersion
from headwater.store import _schema as t

TABLES = ("deployments", "deployment_revisions", "deployment_serving")


def _register(store: MetadataStore, model: str, count: int) -> None:
    for i in range(count):
        artifact = store.lineage.add_artifact(
            NewArtifact(f"{model}-{i}", "headwater.Model", f"/nowhere/{model}-{i}", None, None)
        )
        store.models.register(model, NewModelVersion(artifact.id))


def _counts(store: MetadataStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            name: int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(t.metadata.tables[name])
                ).scalar_one()
            )
            for name in TABLES
        }


def test_revisions_promote_rollback_and_serving_history(store: MetadataStore) -> None:
    _register(store, "churn", 3)
    store.models.set_alias("churn", "champion", 1)
    deployments = store.deployments
    made = deployments.create("web", "churn@champion", canary="churn/2", actor="me")
    assert (made.model, made.canary, made.canary_percent, made.revision) == (
        "churn@champion",
        "churn:2",  # the registry's NAME/VERSION, stored as serve writes it
        10.0,
        1,
    )
    server = "host:1"

    def serve(role: str, version: int | None) -> None:
        found = None if version is None else store.models.get_version("churn", version)
        deployments.record_serving("web", role, found, server)

    serve("main", 1)
    serve("canary", 2)
    serve("main", 1)  # unchanged: no new row
    promoted = deployments.promote("web", actor="me")
    assert (promoted.model, promoted.canary, promoted.revision) == ("churn:2", None, 2)
    serve("main", 2)
    serve("canary", None)
    rows = deployments.serving("web")
    assert [(s.role, s.version, s.until is None) for s in rows] == [
        ("main", 2, True),
        ("canary", 2, False),
        ("main", 1, False),
    ]
    # Which deployment serves version 2, since when: the lineage hop.
    v2 = store.models.get_version("churn", 2)
    assert [
        (s.deployment, s.role) for s in deployments.serving(version_id=v2.id, open_only=True)
    ] == [("web", "main")]
    back = deployments.rollback("web", actor="me")
    assert (back.model, back.canary, back.revision) == ("churn:1", None, 3)
    assert [(r.revision, r.action) for r in deployments.revisions("web")] == [
        (3, "rollback"),
        (2, "promote"),
        (1, "create"),
    ]
    updated = deployments.update("web", canary="churn:3", canary_percent=25, shadow="churn:2")
    assert (updated.canary, updated.canary_percent, updated.shadow) == ("churn:3", 25.0, "churn:2")
    kept = deployments.update("web", model="churn@champion", canary="churn:3")
    assert kept.canary_percent == 25.0  # left out: kept
    cleared = deployments.update("web", canary=None, shadow=None)
    assert (cleared.canary, cleared.canary_percent, cleared.shadow) == (None, 0.0, None)
    with pytest.raises(Conflict, match="'web' is being served"):
        deployments.delete("web")
    deployments.stop_serving(server)
    assert deployments.serving("web", open_only=True) == []
    deployments.delete("web")
    assert _counts(store) == dict.fromkeys(TABLES, 0)


def test_rollback_without_serving_history_restores_the_previous_revision(
    store: MetadataStore,
) -> None:
    _register(store, "churn", 2)
    store.deployments.create("web", "churn:1")
    with pytest.raises(InvalidValue, match="nothing to roll back to"):
        store.deployments.rollback("web")
    store.deployments.update("web", model="churn:2", shadow="churn:1")
    back = store.deployments.rollback("web")
    assert (back.model, back.shadow) == ("churn:1", None)


BAD = [
    (("bad name!", "churn:1"), {}, InvalidValue, "model name 'bad name!' is not valid"),
    (("web", "churn@@x"), {}, InvalidValue, "is not a model reference"),
    (("web", "churn:0"), {}, InvalidValue, "not a whole number from 1"),
    (("web", "nope"), {}, NotFound, "no registered model 'nope'"),
    (("web", "churn@gone"), {}, NotFound, "no alias 'gone'"),
    (("web", "churn:1"), {"canary": "churn:1"}, InvalidValue, "is the main version"),
    (("web", "churn:1"), {"shadow": "churn:1"}, InvalidValue, "the shadow churn:1 is the main"),
    (("web", "churn:1"), {"canary_percent": 5}, InvalidValue, "needs a canary"),
    (
        ("web", "churn:1"),
        {"canary": "churn:2", "canary_percent": -1},
        InvalidValue,
        "-1 is not between 0 and 100",
    ),
    (
        ("web", "churn:1"),
        {"canary": "churn:2", "canary_percent": float("nan")},
        InvalidValue,
        "not between 0 and 100",
    ),
]


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), BAD)
def test_bad_input_writes_nothing(
    store: MetadataStore,
    args: tuple[str, str],
    kwargs: dict,
    error: type,
    message: str,  # type: ignore[type-arg]
) -> None:
    _register(store, "churn", 2)
    with pytest.raises(error, match=message):
        store.deployments.create(*args, **kwargs)
    assert _counts(store) == dict.fromkeys(TABLES, 0)


def test_another_namespace_cannot_see_or_change_a_deployment(
    store: MetadataStore, other_namespace: MetadataStore
) -> None:
    _register(store, "churn", 2)
    store.deployments.create("web", "churn:1")
    assert other_namespace.deployments.list_deployments() == []
    for call in (
        lambda: other_namespace.deployments.get("web"),
        lambda: other_namespace.deployments.promote("web"),
        lambda: other_namespace.deployments.delete("web"),
        lambda: other_namespace.deployments.update("web", model="churn:2"),
    ):
        with pytest.raises(NotFound, match="no deployment 'web'"):
            call()
    # Their model 'churn' does not exist for them either.
    with pytest.raises(NotFound, match="no registered model 'churn'"):
        other_namespace.deployments.create("web", "churn:1")
    assert store.deployments.get("web").revision == 1


def test_an_alias_a_deployment_follows_cannot_be_deleted(store: MetadataStore) -> None:
    _register(store, "churn", 2)
    store.models.set_alias("churn", "champion", 1)
    store.models.set_alias("churn", "challenger", 2)
    store.models.set_alias("churn", "spare", 2)
    store.deployments.create("web", "churn@champion", canary="churn@challenger")
    store.deployments.create("api", "churn:1", shadow="churn@challenger")
    with pytest.raises(Conflict, match=r"followed by deployment web \(as model\)") as raised:
        store.models.delete_alias("churn", "champion")
    assert "headwater deployments update web --model churn:VERSION" in (raised.value.hint or "")
    with pytest.raises(
        Conflict, match=r"deployment api \(as shadow\), web \(as canary\); it was not deleted"
    ):
        store.models.delete_alias("churn", "challenger")
    assert store.models.get_model("churn").aliases == {"champion": 1, "challenger": 2, "spare": 2}
    store.models.delete_alias("churn", "spare")  # nothing follows it
    store.deployments.update("web", model="churn:1", canary=None)
    store.models.delete_alias("churn", "champion")
    assert set(store.models.get_model("churn").aliases) == {"challenger"}


def test_the_rows_of_a_server_killed_on_this_machine_are_closed(store: MetadataStore) -> None:
    import os
    import socket
    import subprocess

    from headwater._process import pid_alive

    _register(store, "churn", 1)
    store.deployments.create("web", "churn:1")
    version = store.models.get_version("churn", 1)
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    dead, alive, elsewhere = f"{host}:{gone.pid}", f"{host}:{os.getpid()}", "elsewhere:1"
    for server in (dead, alive, elsewhere):
        store.deployments.record_serving("web", "main", version, server)
    assert store.deployments.stop_dead_servers(host, pid_alive) == [dead]
    still = {s.server for s in store.deployments.serving("web", open_only=True)}
    assert still == {alive, elsewhere}
    store.deployments.stop_serving(alive)
    store.deployments.stop_serving(elsewhere)
    # Deleting closes a dead server's rows of this machine by itself; no --force needed.
    store.deployments.record_serving("web", "main", version, dead)
    store.deployments.delete("web")
    assert _counts(store) == dict.fromkeys(TABLES, 0)
