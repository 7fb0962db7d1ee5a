"""Runs through the API: trigger (parameters checked, nothing created when refused), list
with pages and filters, cancel, retry failed tasks, clear a task and what follows it."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from server_api import REPORT_TAG
from server_helpers import Standalone

API = "/api/v1"


def _tasks(run: dict[str, Any]) -> list[tuple[str, int, str, bool]]:
    return sorted((t["path"], t["attempt"], t["status"], t["cleared"]) for t in run["tasks"])


def _executions(folder: Path, task: str) -> int:
    """How many times the body of ``task`` ran (server_gated's tasks note each run)."""
    log = folder / f"{task}.log"
    return log.read_text().count("ran\n") if log.exists() else 0


# ---------------------------------------------------------------------- trigger


def test_a_triggered_run_runs_to_success_with_its_parameters(server: Standalone) -> None:
    r = server.http.post(
        f"{API}/pipelines/server_report/runs",
        json={"parameters": {"n": 3, "label": "hi", "note": "{{ run_id }}"}},
    )
    assert r.status_code == 201, r.text
    queued = r.json()
    assert queued["pipeline"] == "server_report" and queued["trigger"] == "api"
    assert queued["status"] in ("queued", "running", "succeeded")
    assert queued["parameters"] == {"n": 3, "label": "hi", "note": queued["id"], "link_to": ""}
    run = server.wait(queued["id"])
    assert run["status"] == "succeeded", run
    assert _tasks(run) == [
        ("make_report", 1, "succeeded", False),
        ("summarize", 1, "succeeded", False),
    ]
    summary = next(t for t in run["tasks"] if t["path"] == "summarize")
    assert summary["outputs"]["parameters"] == {"output": 3}
    # Where each attempt ran: the local executor's tasks run on this machine.
    assert {t["node"] for t in run["tasks"]} == {socket.gethostname()}


def test_a_default_template_is_rendered_for_the_run(server: Standalone) -> None:
    run = server.trigger("server_report", n=1)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run["parameters"]["note"]), run["parameters"]
    assert server.wait(run["id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    ("parameters", "named", "why"),
    [
        ({"n": "three"}, "'n'", "is a str, not int"),
        ({"n": 1.5}, "'n'", "is a float, not int"),
        ({"n": 1, "colour": "red"}, "'colour'", "unknown parameter"),
        ({"label": "x"}, "'n'", "missing required parameter"),
        ({"n": 1, "label": "{{ nope( }}"}, "'label'", "cannot render the template"),
        ({"n": 1, "label": "{{ missing.attr }}"}, "'label'", "'missing' is undefined"),
    ],
    ids=["wrong-type", "float-for-int", "unknown-name", "missing-required", "syntax", "undefined"],
)
def test_parameters_that_break_the_schema_create_nothing(
    server: Standalone, parameters: dict[str, Any], named: str, why: str
) -> None:
    before = server.count_runs("server_report")
    r = server.http.post(f"{API}/pipelines/server_report/runs", json={"parameters": parameters})
    assert r.status_code == 422, r.text
    body = r.json()
    assert f"parameter {named}" in body["error"] and why in body["error"], body
    assert body["hint"]
    assert server.count_runs("server_report") == before


def test_a_request_body_with_an_unknown_field_is_refused(server: Standalone) -> None:
    before = server.count_runs("server_report")
    r = server.http.post(
        f"{API}/pipelines/server_report/runs", json={"parameters": {"n": 1}, "colour": "red"}
    )
    assert r.status_code == 422, r.text
    assert "colour" in r.json()["error"]
    assert server.count_runs("server_report") == before


def test_an_unknown_pipeline_is_404_and_creates_nothing(server: Standalone) -> None:
    r = server.http.post(f"{API}/pipelines/no_such_pipeline/runs", json={"parameters": {}})
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "no pipeline 'no_such_pipeline'"
    assert "headwater deploy" in r.json()["hint"]
    assert server.count_runs("no_such_pipeline") == 0
    found = server.http.get(f"{API}/pipelines", params={"prefix": "no_such"}).json()
    assert found["total"] == 0


def test_a_version_of_another_pipeline_is_refused(server: Standalone) -> None:
    other = server.http.get(f"{API}/pipelines/server_sleepy/versions").json()["items"][0]["id"]
    before = server.count_runs("server_report")
    r = server.http.post(
        f"{API}/pipelines/server_report/runs", json={"parameters": {"n": 1}, "version": other}
    )
    assert r.status_code == 404, r.text
    assert "belongs to pipeline 'server_sleepy'" in r.json()["error"]
    assert server.count_runs("server_report") == before


# ---------------------------------------------------------------------- list


@pytest.mark.parametrize("limit", [1, 50])
def test_pipelines_are_filtered_by_tag_before_the_page_is_cut(
    server: Standalone, limit: int
) -> None:
    r = server.http.get(f"{API}/pipelines", params={"tag": REPORT_TAG, "limit": limit})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [p["name"] for p in page["items"]] == ["server_report"]
    assert (page["total"], page["next_offset"]) == (1, None)
    assert page["items"][0]["tags"] == [REPORT_TAG] and page["items"][0]["owner"] == "api-tests"
    assert page["items"][0]["parameters"]["n"]["type"]["kind"] == "int"
    none = server.http.get(f"{API}/pipelines", params={"tag": "no-such-tag"}).json()
    assert (none["items"], none["total"], none["next_offset"]) == ([], 0, None)


def test_runs_are_listed_in_pages_and_filtered(server: Standalone, tmp_path: Path) -> None:
    since = datetime.now(UTC).isoformat()
    api_runs = [server.trigger("server_sleepy", seconds=0)["id"] for _ in range(4)]
    by_hand = server.cli("trigger", "server_sleepy", "-p", "seconds=0")  # local: 'manual'
    assert by_hand.returncode == 0, by_hand.stdout + by_hand.stderr
    failing = server.trigger(
        "server_gated", marker=str(tmp_path / "absent"), out_dir=str(tmp_path / "out")
    )["id"]
    for run_id in [*api_runs, failing]:
        server.wait(run_id)

    def listed(**filters: Any) -> dict[str, Any]:
        r = server.http.get(f"{API}/runs", params={"created_after": since, **filters})
        assert r.status_code == 200, r.text
        page: dict[str, Any] = r.json()
        return page

    pages, offset = [], 0
    while offset is not None:
        page = listed(pipeline="server_sleepy", limit=2, offset=offset)
        assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == offset
        pages.append(page)
        offset = page["next_offset"]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [p["next_offset"] for p in pages] == [2, 4, None]
    items = [run for p in pages for run in p["items"]]
    assert len({run["id"] for run in items}) == 5
    assert set(api_runs) < {run["id"] for run in items}
    created = [datetime.fromisoformat(run["created_at"]) for run in items]
    assert created == sorted(created, reverse=True)  # newest first

    assert {r["id"] for r in listed(pipeline="server_sleepy", trigger="api")["items"]} == set(
        api_runs
    )
    manual = listed(pipeline="server_sleepy", trigger="manual")
    assert manual["total"] == 1 and manual["items"][0]["id"] not in api_runs
    assert listed(pipeline="server_sleepy", status="succeeded")["total"] == 5
    assert listed(pipeline="server_sleepy", status="failed")["total"] == 0
    failed = listed(status="failed", pipeline="server_gated")
    assert [r["id"] for r in failed["items"]] == [failing]
    gated = listed(pipeline="server_gated", limit=500)
    assert gated["total"] == 1 and gated["next_offset"] is None


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"status": "bogus"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
    ids=["status", "limit-0", "limit-501", "offset", "date"],
)
def test_an_invalid_filter_is_422_naming_it(
    server: Standalone, query: dict[str, Any], named: str
) -> None:
    r = server.http.get(f"{API}/runs", params=query)
    assert r.status_code == 422, r.text
    assert f"query.{named}" in r.json()["error"]
    if named == "status":
        assert "'queued', 'running', 'succeeded', 'failed' or 'cancelled'" in r.json()["error"]


@pytest.mark.parametrize("route", ["runs", "grid"])
def test_a_date_filter_without_a_time_zone_is_utc(server: Standalone, route: str) -> None:
    run = server.trigger("server_sleepy", seconds=0)
    server.wait(run["id"])
    naive = run["created_at"].removesuffix("Z").split("+")[0]
    query = {"created_after": naive, "pipeline": "server_sleepy"}
    r = server.http.get(f"{API}/{route}", params=query)
    assert r.status_code == 200, r.text
    listed = r.json()["items" if route == "runs" else "runs"]
    assert run["id"] in {x["id"] for x in listed}


@pytest.mark.parametrize("route", ["runs", "grid"])
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_date_filter_out_of_range_is_refused(server: Standalone, route: str, when: str) -> None:
    query = {"created_before": when, "pipeline": "server_sleepy"}
    r = server.http.get(f"{API}/{route}", params=query)
    assert r.status_code == 422, r.text
    assert "query.created_before" in r.json()["error"] and r.json()["hint"]


# ---------------------------------------------------------------------- cancel


def _running(server: Standalone, run_id: str, task: str) -> None:
    def started() -> bool:
        run = server.run(run_id)
        return run["status"] == "running" and any(
            t["path"] == task and t["status"] == "running" for t in run["tasks"]
        )

    server.wait_for(started, f"task {task} of run {run_id} to run")


def test_cancelling_a_running_run_stops_it(server: Standalone) -> None:
    run_id = server.trigger("server_sleepy", seconds=120)["id"]
    _running(server, run_id, "nap")

    retry = server.http.post(f"{API}/runs/{run_id}/retry")
    assert retry.status_code == 409, retry.text
    assert "is still running" in retry.json()["error"] and retry.json()["hint"]
    clear = server.http.post(f"{API}/runs/{run_id}/tasks/nap/clear")
    assert clear.status_code == 409, clear.text
    assert "is still running" in clear.json()["error"] and clear.json()["hint"]

    r = server.http.post(f"{API}/runs/{run_id}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["run_id"] == run_id and r.json()["status"] in ("running", "cancelled")
    run = server.wait(run_id)
    assert run["status"] == "cancelled", run
    assert _tasks(run) == [("nap", 1, "cancelled", False)]

    again = server.http.post(f"{API}/runs/{run_id}/cancel")
    assert again.status_code == 409, again.text
    assert "already ended (cancelled)" in again.json()["error"]
    assert again.json()["hint"]


def test_cancelling_an_unknown_run_is_404(server: Standalone) -> None:
    r = server.http.post(f"{API}/runs/0000000000000000000000zzzz/cancel")
    assert r.status_code == 404, r.text
    assert "no run" in r.json()["error"]


# ---------------------------------------------------------------------- retry and clear


def test_retry_runs_the_failed_tasks_again_and_keeps_the_attempts(
    server: Standalone, tmp_path: Path
) -> None:
    marker, out = tmp_path / "marker", tmp_path / "out"
    run_id = server.trigger("server_gated", marker=str(marker), out_dir=str(out))["id"]
    failed = server.wait(run_id)
    assert failed["status"] == "failed"
    assert _tasks(failed) == [
        ("after_gate", 1, "upstream_failed", False),
        ("gate", 1, "failed", False),
        ("unrelated", 1, "succeeded", False),
    ]
    gate = next(t for t in failed["tasks"] if t["path"] == "gate")
    assert "the gate is closed" in gate["error"]

    marker.write_text("open")
    r = server.http.post(f"{API}/runs/{run_id}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == ["after_gate", "gate"] and r.json()["status"] == "queued"
    run = server.wait(run_id)
    assert run["status"] == "succeeded", run
    assert _tasks(run) == [
        ("after_gate", 1, "upstream_failed", True),
        ("after_gate", 2, "succeeded", False),
        ("gate", 1, "failed", True),
        ("gate", 2, "succeeded", False),
        ("unrelated", 1, "succeeded", False),
    ]
    assert [_executions(out, t) for t in ("gate", "after_gate", "unrelated")] == [2, 1, 1]
    listed = server.http.get(f"{API}/runs/{run_id}/tasks", params={"task": "gate"}).json()
    assert [(t["attempt"], t["cleared"]) for t in listed["items"]] == [(1, True), (2, False)]


def test_retrying_a_run_with_nothing_failed_is_a_conflict(server: Standalone) -> None:
    run_id = server.trigger("server_sleepy", seconds=0)["id"]
    assert server.wait(run_id)["status"] == "succeeded"
    r = server.http.post(f"{API}/runs/{run_id}/retry")
    assert r.status_code == 409, r.text


def _gated_run(server: Standalone, tmp_path: Path, *, cache: bool) -> tuple[str, Path]:
    """A server_gated run that succeeded on its first try."""
    marker, out = tmp_path / "marker", tmp_path / "out"
    marker.write_text("open")
    r = server.http.post(
        f"{API}/pipelines/server_gated/runs",
        json={"parameters": {"marker": str(marker), "out_dir": str(out)}, "cache": cache},
    )
    assert r.status_code == 201, r.text
    run = server.wait(r.json()["id"])
    assert run["status"] == "succeeded", run
    return run["id"], out


def test_clearing_a_task_runs_it_and_what_depends_on_it_again(
    server: Standalone, tmp_path: Path
) -> None:
    run_id, out = _gated_run(server, tmp_path, cache=False)
    r = server.http.post(f"{API}/runs/{run_id}/tasks/gate/clear")
    assert r.status_code == 200, r.text
    assert r.json()["cleared"] == ["after_gate", "gate"]
    run = server.wait(run_id)
    assert run["status"] == "succeeded", run
    assert [_executions(out, t) for t in ("gate", "after_gate", "unrelated")] == [2, 2, 1]
    assert _tasks(run) == [
        ("after_gate", 1, "succeeded", True),
        ("after_gate", 2, "succeeded", False),
        ("gate", 1, "succeeded", True),
        ("gate", 2, "succeeded", False),
        ("unrelated", 1, "succeeded", False),
    ]

    alone = server.http.post(f"{API}/runs/{run_id}/tasks/gate/clear", json={"downstream": False})
    assert alone.status_code == 200, alone.text
    assert alone.json()["cleared"] == ["gate"]
    assert server.wait(run_id)["status"] == "succeeded"
    assert [_executions(out, t) for t in ("gate", "after_gate", "unrelated")] == [3, 2, 1]

    unknown = server.http.post(f"{API}/runs/{run_id}/tasks/nope/clear")
    assert unknown.status_code == 404, unknown.text
    assert "has no task 'nope'" in unknown.json()["error"]
    assert "after_gate, gate, unrelated" in unknown.json()["hint"]


def test_clearing_a_task_runs_it_again_even_with_caching_on(
    server: Standalone, tmp_path: Path
) -> None:
    run_id, out = _gated_run(server, tmp_path, cache=True)
    r = server.http.post(f"{API}/runs/{run_id}/tasks/gate/clear")
    assert r.status_code == 200, r.text
    run = server.wait(run_id)
    assert run["status"] == "succeeded", run
    assert [_executions(out, t) for t in ("gate", "after_gate")] == [2, 2], _tasks(run)
    assert ("gate", 2, "succeeded", False) in _tasks(run)  # run, not taken from the cache
