"""Secrets, connections and variables through the HTTP API of a real server: values and
passwords are write-only, bad input is a clear 422 that creates nothing."""

from __future__ import annotations

import pytest
from server_helpers import Standalone

API = "/api/v1"
SECRET = "api-S3cret-0b7c"


def test_secret_values_are_write_only(server: Standalone, monkeypatch: pytest.MonkeyPatch) -> None:
    http = server.http
    made = http.put(f"{API}/secrets", json={"name": "api_http_token", "value": SECRET})
    assert made.status_code == 200, made.text
    assert SECRET not in made.text
    assert made.json()["updated_by"].startswith("user ")
    listed = http.get(f"{API}/secrets")
    assert "api_http_token" in [s["name"] for s in listed.json()]
    assert SECRET not in listed.text
    monkeypatch.setenv("HEADWATER_HOME", str(server.home))  # where its key file is
    with server.store() as store:
        assert store.secrets.get("api_http_token") == SECRET
    assert http.delete(f"{API}/secrets/api_http_token").status_code == 204
    gone = http.delete(f"{API}/secrets/api_http_token")
    assert gone.status_code == 404 and "no secret 'api_http_token'" in gone.text


def test_bad_secrets_are_refused_and_create_nothing(server: Standalone) -> None:
    http = server.http
    bad = http.put(f"{API}/secrets", json={"name": "bad name", "value": "v"})
    assert bad.status_code == 422 and "is not valid" in bad.text
    big = http.put(f"{API}/secrets", json={"name": "big_one", "value": "x" * (64 * 1024 + 1)})
    assert big.status_code == 422
    names = [s["name"] for s in http.get(f"{API}/secrets").json()]
    assert "bad name" not in names and "big_one" not in names
    anonymous = server.anonymous().get(f"{API}/secrets")
    assert anonymous.status_code == 401


def test_connections_never_return_the_password(server: Standalone) -> None:
    http = server.http
    made = http.put(
        f"{API}/connections",
        json={"name": "api_http_wh", "uri": f"postgresql://bob:{SECRET}@db:5432/wh?sslmode=1"},
    )
    assert made.status_code == 200, made.text
    shown = http.get(f"{API}/connections/api_http_wh")
    body = shown.json()
    assert (body["type"], body["host"], body["schema"], body["has_password"]) == (
        "postgres",
        "db",
        "wh",
        True,
    )
    for response in (made, shown, http.get(f"{API}/connections")):
        assert SECRET not in response.text
    assert http.delete(f"{API}/connections/api_http_wh").status_code == 204
    typeless = http.put(f"{API}/connections", json={"name": "api_http_x", "host": "h"})
    assert typeless.status_code == 422 and "has no type" in typeless.text


def test_variables_hold_json(server: Standalone) -> None:
    http = server.http
    made = http.put(f"{API}/variables", json={"name": "api_http_limits", "value": {"rows": 3}})
    assert made.status_code == 200, made.text
    assert http.get(f"{API}/variables/api_http_limits").json()["value"] == {"rows": 3}
    assert http.delete(f"{API}/variables/api_http_limits").status_code == 204
    assert http.get(f"{API}/variables/api_http_limits").status_code == 404
