"""The model registry over HTTP and through the Python client: register, versions,
aliases and their history; bad input is a 4xx that writes nothing, and another
namespace's artifacts and models answer 404."""

from __future__ import annotations

import secrets
from pathlib import Path

import joblib
import pytest
from server_helpers import Standalone
from sklearn.linear_model import LogisticRegression

from headwater.client import Client, ClientError
from headwater.store import MetadataStore, NewArtifact, NewModelVersion

API = "/api/v1"


def _artifact(store: MetadataStore, folder: Path, type_: str = "headwater.Model") -> str:
    path = folder / f"model-{secrets.token_hex(3)}.joblib"
    joblib.dump(LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1]), path)
    return store.lineage.add_artifact(NewArtifact("model", type_, str(path), None, None)).id


def test_register_alias_and_read_back(server: Standalone, tmp_path: Path) -> None:
    name = f"api-{secrets.token_hex(3)}"
    with server.store() as store:
        first, second = _artifact(store, tmp_path), _artifact(store, tmp_path)
    r = server.http.post(
        f"{API}/models/{name}/versions",
        json={"artifact_id": first, "aliases": ["champion"], "tags": {"team": "growth"}},
    )
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["flavor"], v1["aliases"]) == (1, "sklearn", ["champion"])
    assert v1["signature"]["inputs"] == [{"name": "X", "type": "tensor", "shape": [-1, 2]}]
    assert v1["created_by"] == "user admin"
    with Client(server.url, token=server.token) as hw:
        v2 = hw.register_model(name, second, description="retrained")
        assert v2["version"] == 2
        change = hw.set_alias(name, "champion", 2)
        assert (change["from_version"], change["to_version"]) == (1, 2)
        assert hw.model_version(name, alias="champion")["artifact_id"] == second
        assert hw.model_version(name, version=1)["artifact_id"] == first
        assert hw.model_version(name)["version"] == 2  # latest
        assert hw.model(name)["aliases"] == {"champion": 2}
        assert [v["version"] for v in hw.model_versions(name)] == [2, 1]
        assert name in [m["name"] for m in hw.models()]
        hw.delete_alias(name, "champion")
        assert [(c["from_version"], c["to_version"]) for c in hw.alias_history(name)] == [
            (2, None),
            (1, 2),
            (None, 1),
        ]
        with pytest.raises(ClientError) as caught:
            hw.model_version(name, alias="champion")
        assert "no alias 'champion'" in str(caught.value)


def test_bad_input_is_a_4xx_that_writes_nothing(server: Standalone, tmp_path: Path) -> None:
    name = f"bad-{secrets.token_hex(3)}"
    with server.store() as store:
        model = _artifact(store, tmp_path)
        data = _artifact(store, tmp_path, "headwater.Dataset")
        theirs = _artifact(MetadataStore(store.engine, namespace="team-b"), tmp_path)
        other = MetadataStore(store.engine, namespace="team-b")
        other.models.register("hidden", NewModelVersion(theirs))
    assert (
        server.http.post(f"{API}/models/{name}/versions", json={"artifact_id": model}).status_code
        == 201
    )
    before = server.http.get(f"{API}/models/{name}/history").json()
    cases = [
        ("post", f"/models/{name}/versions", {"artifact_id": data}, 422, "not a model"),
        ("post", f"/models/{name}/versions", {"artifact_id": theirs}, 404, "no artifact"),
        ("post", f"/models/{name}/versions", {"artifact_id": "nope0000"}, 404, "no artifact"),
        ("post", "/models/bad%20name/versions", {"artifact_id": model}, 422, "not valid"),
        (
            "post",
            f"/models/{name}/versions",
            {"artifact_id": model, "aliases": ["latest"]},
            422,
            "reserved",
        ),
        ("post", f"/models/{name}/versions", {"artifact_id": model, "extra": 1}, 422, "extra"),
        ("put", f"/models/{name}/aliases/champion", {"version": 5}, 404, "has no version 5"),
        ("put", f"/models/{name}/aliases/champion", {"version": 0}, 422, "version"),
        ("put", f"/models/{name}/aliases/bad%20alias", {"version": 1}, 422, "not valid"),
        ("put", "/models/hidden/aliases/champion", {"version": 1}, 404, "no registered model"),
        ("delete", f"/models/{name}/aliases/ghost", None, 404, "has no alias 'ghost'"),
        ("get", "/models/hidden", None, 404, "no registered model 'hidden'"),
        ("get", f"/models/{name}/versions/9", None, 404, "has no version 9"),
    ]
    for method, path, body, status, text in cases:
        kwargs = {"json": body} if body is not None else {}
        r = server.http.request(method.upper(), API + path, **kwargs)
        assert r.status_code == status, (path, body, r.text)
        assert text in r.text, (path, r.text)
    assert [v["version"] for v in server.http.get(f"{API}/models/{name}/versions").json()] == [1]
    assert server.http.get(f"{API}/models/{name}/history").json() == before
    assert "hidden" not in [m["name"] for m in server.http.get(f"{API}/models").json()]
