"""Artifacts through the API: metadata, downloads with the right content type, previews,
paths that try to leave an artifact, and lineage; a run's metrics; assets."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from server_api import SALES
from server_helpers import Standalone

API = "/api/v1"
ROWS = 25


class Report:
    """A finished server_report run: its id, its artifacts by output name, and the file
    its ``parts`` folder links to from inside (which downloads must never serve)."""

    def __init__(self, run: dict[str, Any], secret: str) -> None:
        self.run = run
        self.secret = secret
        tasks = {t["path"]: t for t in run["tasks"]}
        self.make = tasks["make_report"]
        self.ids: dict[str, str] = {
            **tasks["make_report"]["outputs"]["artifacts"],
            **tasks["summarize"]["outputs"]["artifacts"],
        }


@pytest.fixture(scope="module")
def report(server: Standalone, tmp_path_factory: pytest.TempPathFactory) -> Report:
    secret = f"TOPSECRET-{secrets.token_hex(8)}"
    target = tmp_path_factory.mktemp("outside") / "secret.txt"
    target.write_text(secret)
    run_id = server.trigger("server_report", n=ROWS, label="sales", link_to=str(target))["id"]
    run = server.wait(run_id)
    assert run["status"] == "succeeded", run
    return Report(run, secret)


def _get(server: Standalone, url: str, **query: Any) -> Any:
    r = server.http.get(url, params=query)
    assert r.status_code == 200, r.text
    return r.json()


def test_artifact_metadata(server: Standalone, report: Report) -> None:
    table = _get(server, f"{API}/artifacts/{report.ids['table']}")
    assert table["name"] == "table" and table["type"] == "headwater.Dataset"
    assert table["run_id"] == report.run["id"] and table["task_run_id"] == report.make["id"]
    assert table["metadata"] == {"content_type": "text/csv", "rows": ROWS}
    assert table["digest"].startswith("sha256:") and table["size"] > 0
    listed = _get(server, f"{API}/artifacts", run_id=report.run["id"], limit=500)
    assert {a["name"] for a in listed["items"]} == {
        "table",
        "parts",
        "page",
        "notes",
        "scores",
        "summary",
    }
    pages = _get(server, f"{API}/artifacts", run_id=report.run["id"], type="headwater.HTML")
    assert [a["name"] for a in pages["items"]] == ["page"]
    r = server.http.get(f"{API}/artifacts/zzzzzzzzzzzzzzzzzzzzzzzzzz")
    assert r.status_code == 404 and "no artifact" in r.json()["error"], r.text


@pytest.mark.parametrize(
    ("output", "path", "content_type", "starts"),
    [
        ("table", None, "text/csv", "id,square,label\n0,0,sales\n"),
        ("parts", "part-1.csv", "text/csv", "part,value\n1,10\n"),
        ("page", None, "text/html", "<html><body><h1>sales</h1>"),
        ("notes", None, "text/markdown", "# Notes"),
        ("scores", None, "application/json", "{"),
    ],
)
def test_a_download_has_the_right_content_type(
    server: Standalone,
    report: Report,
    output: str,
    path: str | None,
    content_type: str,
    starts: str,
) -> None:
    query = {"path": path} if path else {}
    r = server.http.get(f"{API}/artifacts/{report.ids[output]}/download", params=query)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == content_type
    assert r.text.startswith(starts)
    assert "attachment" in r.headers["content-disposition"]


def test_a_download_of_a_folder_needs_a_path(server: Standalone, report: Report) -> None:
    r = server.http.get(f"{API}/artifacts/{report.ids['parts']}/download")
    assert r.status_code == 400, r.text
    assert "is a directory" in r.json()["error"] and "?path=" in r.json()["hint"]
    files = _get(server, f"{API}/artifacts/{report.ids['parts']}/files")
    assert files == ["escape", "part-0.csv", "part-1.csv"]
    r = server.http.get(f"{API}/artifacts/{report.ids['parts']}/download", params={"path": "x"})
    assert r.status_code == 404 and "has no file 'x'" in r.json()["error"], r.text


@pytest.mark.parametrize(
    "query",
    [
        "path=../../../../../../etc/passwd",
        "path=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "path=%2E%2E%2F%2E%2E%2Fsecret.txt",
        "path=/etc/passwd",
        "path=%2Fetc%2Fpasswd",
        "path=part-0.csv/../../..",
        "path=..%5C..%5Csecret.txt",
        "path=part-0.csv%00.png",
        "path=escape",
    ],
)
@pytest.mark.parametrize("route", ["download", "preview"])
def test_a_path_that_leaves_the_artifact_is_refused(
    server: Standalone, report: Report, query: str, route: str
) -> None:
    url = f"{server.url}{API}/artifacts/{report.ids['parts']}/{route}?{query}"
    r = server.http.get(url)
    assert report.secret not in r.text and "root:" not in r.text
    assert r.status_code == 400, r.text
    assert "artifact file path" in r.json()["error"] and r.json()["hint"]


def test_a_folder_preview_never_follows_a_link_out_of_it(
    server: Standalone, report: Report
) -> None:
    r = server.http.get(f"{API}/artifacts/{report.ids['parts']}/preview")
    assert r.status_code == 200, r.text
    assert report.secret not in r.text
    assert r.json()["kind"] == "table" and r.json()["rows"] == [["0", "0"]]  # part-0.csv


def test_a_csv_preview_is_a_table(server: Standalone, report: Report) -> None:
    table = _get(server, f"{API}/artifacts/{report.ids['table']}/preview", rows=5)
    assert table["kind"] == "table" and table["media_type"] == "text/csv"
    assert table["columns"] == ["id", "square", "label"]
    assert table["rows"] == [[str(i), str(i * i), "sales"] for i in range(5)]
    assert table["truncated"] is True
    whole = _get(server, f"{API}/artifacts/{report.ids['table']}/preview", rows=1000)
    assert len(whole["rows"]) == ROWS and whole["truncated"] is False
    part = _get(server, f"{API}/artifacts/{report.ids['parts']}/preview", path="part-0.csv")
    assert part["kind"] == "table" and part["rows"] == [["0", "0"]]


def test_text_previews(server: Standalone, report: Report) -> None:
    page = _get(server, f"{API}/artifacts/{report.ids['page']}/preview")
    assert page["kind"] == "html" and page["text"].startswith("<html>")
    notes = _get(server, f"{API}/artifacts/{report.ids['notes']}/preview")
    assert notes["kind"] == "markdown" and notes["text"].startswith("# Notes\n")
    summary = _get(server, f"{API}/artifacts/{report.ids['summary']}/preview")
    assert summary == {
        "kind": "text",
        "media_type": "application/octet-stream",
        "columns": None,
        "rows": None,
        "text": f"rows={ROWS}\n",
        "truncated": False,
    }


def test_lineage_links_a_table_and_its_summary(server: Standalone, report: Report) -> None:
    up = _get(server, f"{API}/artifacts/{report.ids['summary']}/lineage")
    assert up["artifact"]["id"] == report.ids["summary"] and up["downstream"] == []
    assert [
        (n["artifact"]["id"], n["depth"], n["task"], n["producer_task"]) for n in up["upstream"]
    ] == [(report.ids["table"], 1, "summarize", "make_report")]
    down = _get(server, f"{API}/artifacts/{report.ids['table']}/lineage")
    assert [n["artifact"]["id"] for n in down["downstream"]] == [report.ids["summary"]]
    assert down["upstream"] == []


def test_a_runs_metrics(server: Standalone, report: Report) -> None:
    points = _get(server, f"{API}/runs/{report.run['id']}/metrics")
    assert [(p["task"], p["key"], p["value"], p["step"]) for p in points] == [
        ("make_report", "rows", float(ROWS), None),
        ("make_report", "loss", 1.0, 0),
        ("make_report", "loss", 0.5, 1),
        ("make_report", "loss", pytest.approx(1 / 3), 2),
    ]
    losses = _get(server, f"{API}/runs/{report.run['id']}/metrics", key="loss")
    assert [p["step"] for p in losses] == [0, 1, 2]
    assert _get(server, f"{API}/runs/{report.run['id']}/metrics", task="summarize") == []


def test_a_runs_metrics_as_series(server: Standalone, report: Report) -> None:
    series = _get(server, f"{API}/runs/{report.run['id']}/metric-series")
    assert series == [
        {"task": "make_report", "key": "rows", "step": [None], "value": [float(ROWS)]},
        {
            "task": "make_report",
            "key": "loss",
            "step": [0, 1, 2],
            "value": [1.0, 0.5, pytest.approx(1 / 3)],
        },
    ]
    missing = server.http.get(f"{API}/runs/no-such-run/metric-series")
    assert missing.status_code == 404 and "no run" in missing.json()["error"]


def test_an_asset_updated_by_a_task(server: Standalone, report: Report) -> None:
    assets = _get(server, f"{API}/assets", prefix="warehouse://")
    sales = [a for a in assets["items"] if a["name"] == SALES]
    assert len(sales) == 1 and sales[0]["events"] >= 1
    events = _get(server, f"{API}/asset-events", asset=SALES, run_id=report.run["id"])
    assert [(e["asset"], e["task_run_id"], e["artifact_id"]) for e in events["items"]] == [
        (SALES, report.make["id"], report.ids["table"])
    ]
    assert events["items"][0]["triggered"] == []
    assert _get(server, f"{API}/asset-events", asset="warehouse://nothing")["items"] == []
