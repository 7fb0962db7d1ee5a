"""External asset events through the API and the CLI, against a real ``headwater
standalone`` (API and scheduler in one process): ``POST /api/v1/assets/{name}/events``
triggers the pipeline scheduled on the asset once per event, and its task reads the
event's metadata; the permission is the one that triggers runs; names are the caller's
namespace's; bodies that cannot be stored are refused with nothing written;
``headwater assets emit`` records events on the local store and over ``--server``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from server_helpers import Standalone, start_standalone

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
_SECRET = re.compile(r"hw_[A-Za-z0-9_-]{43}")
HEADER = "X-Headwater-Namespace"
ORDERS = "lake://orders"
EVENTS = f"/api/v1/assets/{ORDERS}/events"


class Users:
    def __init__(self, server: Standalone) -> None:
        self.server = server
        self.tokens: dict[str, str] = {"admin": server.token or ""}

    def add(self, name: str, role: str, namespace: str) -> None:
        made = self.server.cli("users", "create", name, "--role", role, "--namespace", namespace)
        assert made.returncode == 0, made.stdout + made.stderr
        [secret] = _SECRET.findall(made.stdout)
        self.tokens[name] = secret

    def client(self, user: str, namespace: str | None = "ml") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if namespace is not None:
            headers[HEADER] = namespace
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Users]:
    """ml has the pipeline scheduled on lake://orders; data has nothing."""
    with start_standalone(tmp_path_factory.mktemp("asset-events")) as server:
        for namespace in ("ml", "data"):
            made = server.cli("namespaces", "create", namespace)
            assert made.returncode == 0, made.stderr
        deployed = server.cli(
            "--namespace", "ml", "deploy", f"{PIPELINES / 'asset_events_flow.py'}:on_orders"
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        found = Users(server)
        found.add("eve", "editor", "ml")
        found.add("vic", "viewer", "ml")
        found.add("dan", "editor", "data")
        yield found


def _events(http: httpx.Client) -> list[dict[str, Any]]:
    r = http.get("/api/v1/asset-events", params={"asset": ORDERS, "limit": 500})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def _triggered(users: Users, event_id: int) -> str:
    """The one run the event triggered, once the scheduler has made it."""

    def made() -> list[str] | None:
        with users.client("admin") as http:
            (found,) = [e for e in _events(http) if e["id"] == event_id]
        return found["triggered"] or None

    (run_id,) = users.server.wait_for(made, f"a run triggered by event {event_id}")
    return str(run_id)


def _runs(users: Users) -> list[dict[str, Any]]:
    with users.client("admin") as http:
        r = http.get("/api/v1/runs", params={"pipeline": "on_orders", "limit": 500})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def _ended(users: Users, run_id: str) -> dict[str, Any]:
    with users.client("admin") as http:

        def done() -> dict[str, Any] | None:
            run: dict[str, Any] = http.get(f"/api/v1/runs/{run_id}").json()
            return run if run["status"] in ("succeeded", "failed", "cancelled") else None

        found: dict[str, Any] = users.server.wait_for(done, f"run {run_id} to end")
        return found


def test_an_editor_posts_an_event_and_the_scheduled_pipeline_runs_once_per_event(
    users: Users,
) -> None:
    before = len(_runs(users))
    with users.client("eve") as http:
        r = http.post(EVENTS, json={"metadata": {"rows": 1200, "file": "orders-2026.csv"}})
        assert r.status_code == 201, r.text
        event = r.json()
    assert event["asset"] == ORDERS and event["kind"] == "external"
    assert event["source"] == "eve (token 'default')"
    assert event["metadata"] == {"rows": 1200, "file": "orders-2026.csv"}
    assert (event["run_id"], event["task_run_id"], event["artifact_id"]) == (None, None, None)

    first = _triggered(users, event["id"])
    run = _ended(users, first)
    assert run["trigger"] == "asset" and run["status"] == "succeeded", run
    assert '"rows": 1200' in run["parameters"]["events"]

    # A second event, %-escaped name and no body: a second run, not more.
    with users.client("eve") as http:
        r = http.post(f"/api/v1/assets/{quote(ORDERS, safe='')}/events")
        assert r.status_code == 201, r.text
        second = r.json()
    again = _triggered(users, second["id"])
    assert again != first
    assert _ended(users, again)["status"] == "succeeded"
    assert len(_runs(users)) == before + 2
    with users.client("vic") as http:  # a viewer reads the source and metadata
        listed = {e["id"]: e for e in _events(http)}
    assert listed[event["id"]]["metadata"] == {"rows": 1200, "file": "orders-2026.csv"}
    assert listed[event["id"]]["triggered"] == [first]
    assert listed[second["id"]]["metadata"] is None
    assert listed[second["id"]]["source"].startswith("eve ")


def test_a_viewer_may_not_post_an_event(users: Users) -> None:
    before = users.server.snapshot()
    with users.client("vic") as http:
        r = http.post(EVENTS, json={"metadata": {"rows": 1}})
    assert r.status_code == 403, r.text
    assert "viewer" in r.json()["error"] and "--role editor" in r.json()["hint"]
    assert users.server.snapshot() == before


def test_the_events_path_answers_other_methods_405(users: Users) -> None:
    with users.client("eve") as http:
        r = http.get(EVENTS)
    assert r.status_code == 405 and r.headers["allow"] == "POST", r.text


def test_another_namespaces_asset_is_not_found(users: Users) -> None:
    before = users.server.snapshot()
    with users.client("dan", "data") as http:  # data has no such asset
        r = http.post(EVENTS, json={})
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "no asset 'lake://orders' in namespace 'data'"
    assert "headwater assets list" in r.json()["hint"]
    with users.client("dan", "ml") as http:  # and dan is no member of ml
        r = http.post(EVENTS, json={})
    assert r.status_code == 404 and "no namespace 'ml'" in r.json()["error"], r.text
    assert users.server.snapshot() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "said"),
    [
        (EVENTS, {"metadata": [1, 2]}, 422, "metadata"),
        (EVENTS, {"metadata": "rows=3"}, 422, "metadata"),
        (EVENTS, {"extra": {"rows": 3}}, 422, "extra"),
        (EVENTS, {"metadata": {"blob": "x" * (65 << 10)}}, 413, "more than the 65,536"),
        (EVENTS, b'{"metadata": {"rows": ', 422, "JSON"),
        (EVENTS, b'{"metadata": {"name": "\\udcff"}}', 422, "Unicode"),
        (EVENTS, b'{"metadata": {"name": "\xff"}}', 400, "UTF-8"),
        (EVENTS, b'{"metadata": {"n": 1e999}}', 422, ""),
        ("/api/v1/assets/orders/events", {}, 422, "invalid asset name 'orders'"),
        ("/api/v1/assets/lake://nowhere/events", {}, 404, "no asset 'lake://nowhere'"),
    ],
)
def test_a_bad_event_is_refused_with_nothing_created(
    users: Users, path: str, body: Any, status: int, said: str
) -> None:
    before = users.server.snapshot()
    with users.client("eve") as http:
        if isinstance(body, bytes):
            r = http.post(path, content=body, headers={"Content-Type": "application/json"})
        else:
            r = http.post(path, json=body)
    assert r.status_code == status, r.text
    problem = r.json()
    assert said in problem["error"] + str(problem.get("hint")), problem
    assert problem.get("hint"), problem
    assert users.server.snapshot() == before


def test_headwater_assets_emit_locally_and_over_the_server(users: Users, tmp_path: Path) -> None:
    local = users.server.cli(
        "--namespace", "ml", "assets", "emit", ORDERS, "--metadata", '{"rows": 7}'
    )
    assert local.returncode == 0, local.stdout + local.stderr
    assert "recorded" in local.stdout
    meta = tmp_path / "meta.json"
    meta.write_text('{"rows": 8, "by": "file"}', encoding="utf-8")
    remote = users.server.cli(
        "assets", "emit", ORDERS, "--metadata-file", meta,
        "--server", users.server.url, "--token", users.tokens["eve"],
        env={"HEADWATER_NAMESPACE": "ml"},
    )  # fmt: skip
    assert remote.returncode == 0, remote.stdout + remote.stderr
    with users.client("admin") as http:
        latest = _events(http)[:2]
    by_rows = {e["metadata"]["rows"]: e for e in latest}
    assert by_rows[7]["source"].startswith("cli ") and by_rows[7]["kind"] == "external"
    assert by_rows[8]["source"].startswith("eve ") and by_rows[8]["metadata"]["by"] == "file"
    for event in latest:
        assert _ended(users, _triggered(users, event["id"]))["status"] == "succeeded"
    listed = users.server.cli("--namespace", "ml", "assets", "events", ORDERS)
    assert listed.returncode == 0 and "external: cli" in listed.stdout, listed.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--metadata", "[1]"], "--metadata is a JSON list, not an object"),
        (["--metadata", "{rows"], "--metadata is not JSON"),
        (["--metadata", "{}", "--metadata-file", "x.json"], "both given"),
        (["--metadata-file", "/nonexistent/m.json"], "cannot read it"),
    ],
)
def test_headwater_assets_emit_refuses_bad_metadata(
    users: Users, args: list[str], said: str
) -> None:
    before = users.server.snapshot()
    made = users.server.cli("--namespace", "ml", "assets", "emit", ORDERS, *args)
    assert made.returncode != 0 and said in made.stderr, made.stdout + made.stderr
    refused = users.server.cli("--namespace", "ml", "assets", "emit", "lake://nope")
    assert refused.returncode != 0 and "no asset 'lake://nope'" in refused.stderr
    assert users.server.snapshot() == before
