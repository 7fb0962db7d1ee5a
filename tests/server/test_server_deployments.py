"""Deployments over HTTP and through the Python client: create, update, promote,
rollback, delete, with their revisions and serving history; bad input is a 4xx that
writes nothing, and another namespace's deployments and models answer 404."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from server_helpers import Standalone

from headwater.client import Client, ClientError
from headwater.store import MetadataStore, NewArtifact, NewModelVersion

API = "/api/v1"


def _model(store: MetadataStore, folder: Path, versions: int) -> str:
    name = f"m-{secrets.token_hex(3)}"
    for i in range(versions):
        artifact = store.lineage.add_artifact(
            NewArtifact(name, "headwater.Model", str(folder / f"{name}-{i}"), None, None)
        )
        store.models.register(name, NewModelVersion(artifact.id))
    return name


def test_a_deployment_through_the_client(server: Standalone, tmp_path: Path) -> None:
    with server.store() as store:
        model = _model(store, tmp_path, 3)
        store.models.set_alias(model, "champion", 1)
    name = f"web-{secrets.token_hex(3)}"
    with Client(server.url, token=server.token) as hw:
        made = hw.create_deployment(name, f"{model}@champion", canary=f"{model}:2")
        assert (made["canary"], made["canary_percent"], made["created_by"]) == (
            f"{model}:2",
            10.0,
            "user admin",
        )
        assert hw.update_deployment(name, canary_percent=30)["canary_percent"] == 30.0
        assert hw.update_deployment(name, shadow=f"{model}:3")["shadow"] == f"{model}:3"
        promoted = hw.promote_deployment(name)
        assert (promoted["model"], promoted["canary"], promoted["revision"]) == (
            f"{model}:2",
            None,
            4,
        )
        assert hw.update_deployment(name, shadow=None)["shadow"] is None
        # Never served: rollback restores the revision before.
        back = hw.rollback_deployment(name)
        assert (back["model"], back["shadow"]) == (f"{model}:2", f"{model}:3")
        assert name in [d["name"] for d in hw.deployments()]
        assert hw.deployment(name)["revision"] == 6
        revisions = server.http.get(f"{API}/deployments/{name}/revisions").json()
        assert [r["action"] for r in revisions] == [
            "rollback",
            "update",
            "promote",
            "update",
            "update",
            "create",
        ]
        assert hw.deployment_serving(name) == []
        hw.delete_deployment(name)
        with pytest.raises(ClientError, match=f"no deployment '{name}'"):
            hw.deployment(name)


def test_bad_input_is_a_4xx_that_writes_nothing(server: Standalone, tmp_path: Path) -> None:
    with server.store() as store:
        model = _model(store, tmp_path, 2)
        other = MetadataStore(store.engine, namespace="team-b")
        hidden = _model(other, tmp_path, 1)
        other.deployments.create("theirs", f"{hidden}:1")
    name = f"web-{secrets.token_hex(3)}"
    ok = server.http.post(f"{API}/deployments", json={"name": name, "model": f"{model}:1"})
    assert ok.status_code == 201, ok.text
    create = f"{API}/deployments"
    cases = [
        ("POST", create, {"name": "x", "model": "nope@champion"}, 404, "no registered model"),
        ("POST", create, {"name": "x", "model": f"{hidden}:1"}, 404, "no registered model"),
        ("POST", create, {"name": "x", "model": f"{model}@gone"}, 404, "has no alias 'gone'"),
        (
            "POST",
            create,
            {"name": "x", "model": f"{model}:1", "canary": f"{model}:2", "canary_percent": 150},
            422,
            "less than or equal to 100",
        ),
        (
            "POST",
            create,
            {"name": "x", "model": f"{model}:1", "canary": f"{model}:1"},
            422,
            "is the main version",
        ),
        ("POST", create, {"name": "bad name", "model": f"{model}:1"}, 422, "not valid"),
        ("POST", create, {"name": name, "model": f"{model}:1"}, 409, "exists already"),
        ("POST", create, {"name": "x", "model": f"{model}:1", "extra": 1}, 422, "extra"),
        ("PATCH", f"{create}/{name}", {"canary_percent": 5}, 422, "needs a canary"),
        ("POST", f"{create}/{name}/promote", None, 422, "has no canary to promote"),
        ("POST", f"{create}/{name}/rollback", None, 422, "nothing to roll back to"),
        ("GET", f"{create}/theirs", None, 404, "no deployment 'theirs'"),
        ("DELETE", f"{create}/theirs", None, 404, "no deployment 'theirs'"),
    ]
    for method, path, body, status, text in cases:
        kwargs = {"json": body} if body is not None else {}
        r = server.http.request(method, path, **kwargs)
        assert r.status_code == status, (path, body, r.text)
        assert text in r.text, (path, r.text)
    listed = [d["name"] for d in server.http.get(create).json()]
    assert name in listed and "x" not in listed and "theirs" not in listed
    assert server.http.get(f"{create}/{name}").json()["revision"] == 1
    # A deployment a server reports serving is not deleted (409) unless forced.
    with server.store() as store:
        first = store.models.get_version(model, 1)
        store.deployments.record_serving(name, "main", first, "host:1")
    # Lineage's last hop: the artifact's model version, served by the deployment.
    lineage = server.http.get(f"{API}/artifacts/{first.artifact_id}/lineage").json()
    assert [(x["model"], x["version"], x["deployment"], x["role"]) for x in lineage["served"]] == [
        (model, 1, name, "main")
    ]
    assert server.http.delete(f"{create}/{name}").status_code == 409
    served = server.http.get(f"{create}/{name}/serving").json()
    assert [(s["role"], s["version"], s["until"]) for s in served] == [("main", 1, None)]
    assert server.http.delete(f"{create}/{name}", params={"force": True}).status_code == 200


def test_a_deployment_says_which_versions_its_references_name_now(
    server: Standalone, tmp_path: Path
) -> None:
    with server.store() as store:
        model = _model(store, tmp_path, 3)
        store.models.set_alias(model, "champion", 1)
    name = f"web-{secrets.token_hex(3)}"
    body = {"name": name, "model": f"{model}@champion", "canary": model, "shadow": f"{model}:2"}
    made = server.http.post(f"{API}/deployments", json=body)
    assert made.status_code == 201, made.text
    versions = ("model_version", "canary_version", "shadow_version")
    assert [made.json()[k] for k in versions] == [1, 3, 2]
    # The reference is kept as written: moving the alias moves the version it names.
    with server.store() as store:
        store.models.set_alias(model, "champion", 2)
    shown = server.http.get(f"{API}/deployments/{name}").json()
    assert (shown["model"], shown["model_version"]) == (f"{model}@champion", 2)
    listed = {d["name"]: d for d in server.http.get(f"{API}/deployments").json()}
    assert [listed[name][k] for k in versions] == [2, 3, 2]
    assert server.http.post(f"{API}/deployments/{name}/promote").json()["canary_version"] is None
