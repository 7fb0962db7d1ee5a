"""``headwater standalone`` on PostgreSQL: runs triggered through the API run, fail, are
retried and cancelled; text PostgreSQL cannot store is a 422, not a crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Standalone, start_standalone

API = "/api/v1"
PIPELINE_FILE = Path(__file__).resolve().parents[1] / "pipelines" / "server_api.py"


@pytest.fixture(scope="module")
def pg_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    folder = tmp_path_factory.mktemp("standalone-pg")
    with start_standalone(folder, database_url=postgres_url) as running:
        assert running.http.get(f"{API}/health").json()["database"] == "ok"
        for name in ("server_gated", "server_sleepy"):
            running.deploy(PIPELINE_FILE, name)
        yield running


def test_a_run_fails_then_succeeds_when_retried(pg_server: Standalone, tmp_path: Path) -> None:
    marker, out = tmp_path / "marker", tmp_path / "out"
    run_id = pg_server.trigger("server_gated", marker=str(marker), out_dir=str(out))["id"]
    assert pg_server.wait(run_id)["status"] == "failed"
    marker.touch()
    r = pg_server.http.post(f"{API}/runs/{run_id}/retry")
    assert r.status_code == 200 and r.json()["cleared"] == ["after_gate", "gate"], r.text
    run = pg_server.wait(run_id)
    assert run["status"] == "succeeded", run
    assert sorted((t["path"], t["attempt"], t["cleared"]) for t in run["tasks"]) == [
        ("after_gate", 1, True),
        ("after_gate", 2, False),
        ("gate", 1, True),
        ("gate", 2, False),
        ("unrelated", 1, False),
    ]


def test_a_running_run_is_cancelled(pg_server: Standalone) -> None:
    run_id = pg_server.trigger("server_sleepy", seconds=120)["id"]

    def napping() -> bool:
        return any(t["status"] == "running" for t in pg_server.run(run_id)["tasks"])

    pg_server.wait_for(napping, "the nap to start")
    assert pg_server.http.post(f"{API}/runs/{run_id}/cancel").status_code == 200
    assert pg_server.wait(run_id)["status"] == "cancelled"
    assert pg_server.http.post(f"{API}/runs/{run_id}/cancel").status_code == 409


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        (
            "POST",
            f"{API}/pipelines/server_gated/runs",
            {"parameters": {"marker": "a\x00b", "out_dir": "out"}},
        ),
        ("PUT", f"{API}/pools/nul", {"slots": 1, "description": "a\x00b"}),
        ("GET", f"{API}/runs?pipeline=a%00b", None),
        ("GET", f"{API}/runs/ab%00cd", None),
        ("GET", f"{API}/artifacts?type=%00", None),
    ],
    ids=["parameter", "pool-description", "query", "path", "artifact-type"],
)
def test_a_nul_character_is_refused_not_a_crash(
    pg_server: Standalone, method: str, url: str, body: object
) -> None:
    before = pg_server.count_runs()
    r = pg_server.http.request(method, url, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"] and r.json()["hint"]
    assert pg_server.count_runs() == before
    assert "nul" not in {p["name"] for p in pg_server.http.get(f"{API}/pools").json()}
