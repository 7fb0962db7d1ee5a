"""Health (no token), Prometheus metrics, and pools through the API."""

from __future__ import annotations

import secrets

import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import Standalone

API = "/api/v1"


def test_health_needs_no_token(server: Standalone) -> None:
    with server.anonymous() as anon:
        r = anon.get(f"{API}/health")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok" and r.json()["database"] == "ok"
    assert r.json()["version"]


def test_prometheus_metrics_count_runs_by_status(server: Standalone) -> None:
    run = server.wait(server.trigger("server_sleepy", seconds=0)["id"])
    assert run["status"] == "succeeded"
    pool = f"prom-{secrets.token_hex(3)}"
    assert server.http.put(f"{API}/pools/{pool}", json={"slots": 3}).status_code == 200

    def succeeded() -> int:
        query = {"status": "succeeded", "limit": 1}
        total: int = server.http.get(f"{API}/runs", params=query).json()["total"]
        return total

    before = succeeded()
    r = server.http.get(f"{API}/metrics")
    after = succeeded()  # a scheduled run of another test may end meanwhile
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert {
        "headwater_runs",
        "headwater_task_attempts",
        "headwater_pool_slots",
        "headwater_pool_slots_used",
        "headwater_server_uptime_seconds",
    } <= set(families)
    runs = {s.labels["status"]: s.value for s in families["headwater_runs"].samples}
    assert before <= runs["succeeded"] <= after
    slots = {s.labels["pool"]: s.value for s in families["headwater_pool_slots"].samples}
    assert slots[pool] == 3
    assert families["headwater_server_uptime_seconds"].samples[0].value > 0
    with server.anonymous() as anon:
        assert anon.get(f"{API}/metrics").status_code == 401


def test_a_pool_is_created_changed_listed_and_deleted(server: Standalone) -> None:
    name = f"gpu-{secrets.token_hex(3)}"
    r = server.http.put(f"{API}/pools/{name}", json={"slots": 2, "description": "two cards"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "name": name,
        "slots": 2,
        "description": "two cards",
        "occupied": 0,
        "waiting": 0,
    }
    pools = {p["name"]: p for p in server.http.get(f"{API}/pools").json()}
    assert pools[name]["slots"] == 2

    unlimited = server.http.put(f"{API}/pools/{name}", json={})
    assert unlimited.status_code == 200 and unlimited.json()["slots"] is None, unlimited.text
    pools = {p["name"]: p for p in server.http.get(f"{API}/pools").json()}
    assert pools[name]["slots"] is None

    gone = server.http.delete(f"{API}/pools/{name}")
    assert gone.status_code == 204 and gone.content == b""
    assert name not in {p["name"] for p in server.http.get(f"{API}/pools").json()}
    again = server.http.delete(f"{API}/pools/{name}")
    assert again.status_code == 404, again.text
    assert name in again.json()["error"]


@pytest.mark.parametrize(
    ("name", "body", "named"),
    [
        ("has space", {"slots": 1}, "pool name"),
        ("x" * 65, {"slots": 1}, "pool name"),
        ("café", {"slots": 1}, "pool name"),  # tasks could never name it: pool= is ASCII
        ("ok", {"slots": -1}, "slots"),
        ("ok", {"slots": 10**30}, "slots"),
        ("ok", {"slots": "many"}, "slots"),
        ("ok", {"size": 1}, "size"),
    ],
    ids=["space", "too-long", "not-ascii", "negative", "huge", "text", "unknown-field"],
)
def test_an_invalid_pool_is_refused(
    server: Standalone, name: str, body: dict[str, object], named: str
) -> None:
    r = server.http.put(f"{API}/pools/{name}", json=body)
    assert r.status_code == 422, r.text
    assert named in r.json()["error"]
    assert name not in {p["name"] for p in server.http.get(f"{API}/pools").json()}


def test_errors_of_the_framework_have_the_same_shape(server: Standalone) -> None:
    unknown = server.http.get(f"{API}/no-such-route")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json() == {
        "error": "no API route /api/v1/no-such-route",
        "hint": "see the routes in the OpenAPI document at /api/openapi.json",
    }
    posted = server.http.post(f"{API}/no-such-route", json={})  # not the web UI's 405
    assert posted.status_code == 404 and posted.json() == unknown.json(), posted.text
    wrong = server.http.delete(f"{API}/runs")
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"], wrong.text
    assert wrong.json()["error"] == "Method Not Allowed" and wrong.json()["hint"]
    garbled = server.http.post(
        f"{API}/pipelines/server_sleepy/runs",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert 400 <= garbled.status_code < 500, garbled.text
    assert garbled.json()["error"] and garbled.json()["hint"]
