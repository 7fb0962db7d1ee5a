"""Experiments over HTTP: a run triggered into an experiment, the experiments list, and
an experiment's runs side by side (filtered, sorted, the best), through the API, the
Python client and ``headwater runs compare --server``."""

from __future__ import annotations

import json
import secrets

import pytest
from server_helpers import Standalone

from headwater.client import Client, ClientError

API = "/api/v1"


@pytest.fixture(scope="module")
def experiment(server: Standalone) -> dict[int, str]:
    """Three runs of server_report in a new experiment; their ids by ``n``."""
    name = f"api-xp-{secrets.token_hex(3)}"
    ids = {}
    for n in (1, 2, 3):
        r = server.http.post(
            f"{API}/pipelines/server_report/runs",
            json={"parameters": {"n": n}, "experiment": name},
        )
        assert r.status_code == 201, r.text
        assert r.json()["experiment"] == name
        ids[n] = r.json()["id"]
    for run_id in ids.values():
        assert server.wait(run_id)["status"] == "succeeded"
    ids[0] = name  # type: ignore[assignment]
    return ids


def test_the_experiments_list_counts_runs(server: Standalone, experiment: dict) -> None:
    listed = server.http.get(f"{API}/experiments")
    assert listed.status_code == 200, listed.text
    found = {e["name"]: e for e in listed.json()}
    assert found[experiment[0]]["runs"] == 3
    assert found[experiment[0]]["pipelines"] == ["server_report"]
    runs = server.http.get(f"{API}/runs", params={"experiment": experiment[0]}).json()
    assert sorted(r["id"] for r in runs["items"]) == sorted(experiment[n] for n in (1, 2, 3))


def test_an_experiments_runs_side_by_side(server: Standalone, experiment: dict) -> None:
    url = f"{API}/experiments/{experiment[0]}/runs"
    table = server.http.get(url).json()
    assert table["total"] == table["matched"] == 3
    assert "params.n" not in table["parameters"] and "n" in table["parameters"]
    assert table["metrics"] == ["loss", "rows"]
    by_id = {row["id"]: row for row in table["runs"]}
    assert by_id[experiment[2]]["metrics"] == {"rows": 2.0, "loss": pytest.approx(1 / 3)}
    assert by_id[experiment[2]]["parameters"]["n"] == 2

    high = server.http.get(url, params={"where": ["rows>1", "params.label=plain"]}).json()
    assert {r["id"] for r in high["runs"]} == {experiment[2], experiment[3]}
    assert high["matched"] == 2 and high["total"] == 3
    ordered = server.http.get(url, params={"sort": "rows", "order": "desc"}).json()
    assert [r["id"] for r in ordered["runs"]] == [experiment[3], experiment[2], experiment[1]]
    page = server.http.get(url, params={"sort": "rows", "limit": 1, "offset": 1}).json()
    assert [r["id"] for r in page["runs"]] == [experiment[2]] and page["matched"] == 3
    best = server.http.get(url, params={"best": "rows", "direction": "minimize"}).json()
    assert [r["id"] for r in best["runs"]] == [experiment[1]]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"where": "rows"}, 422, "cannot read the filter"),
        ({"where": "rows>>1"}, 422, "is a number"),
        ({"where": "nope>1"}, 422, "no metric or parameter"),
        ({"sort": "params.zzz"}, 422, "no metric or parameter"),
        ({"order": "sideways"}, 422, "order"),
        ({"direction": "up"}, 422, "direction"),
        ({"limit": 0}, 422, "limit"),
        ({"where": "x" * 600}, 422, "cannot read the filter"),
    ],
)
def test_bad_comparisons_are_refused(
    server: Standalone, experiment: dict, params: dict, status: int, words: str
) -> None:
    r = server.http.get(f"{API}/experiments/{experiment[0]}/runs", params=params)
    assert r.status_code == status, r.text
    assert words in r.text
    assert server.http.get(f"{API}/health").status_code == 200


def test_unknown_or_malformed_experiments(server: Standalone) -> None:
    missing = server.http.get(f"{API}/experiments/no-such-experiment/runs")
    assert missing.status_code == 404 and "no experiment" in missing.text
    bad = server.http.get(f"{API}/experiments/%2E%2E%20x/runs")
    assert bad.status_code in (404, 422), bad.text
    before = server.count_runs("server_report")
    for name in ("bad name", "x" * 200, "\u0000", ""):
        r = server.http.post(
            f"{API}/pipelines/server_report/runs",
            json={"parameters": {"n": 1}, "experiment": name},
        )
        assert r.status_code == 422, (name, r.text)
    assert server.count_runs("server_report") == before


def test_the_client_and_the_cli_compare_on_a_server(server: Standalone, experiment: dict) -> None:
    with Client(server.url, server.token) as client:
        assert experiment[0] in {e["name"] for e in client.experiments()}
        best = client.experiment_runs(experiment[0], best="rows")
        assert [r["id"] for r in best["runs"]] == [experiment[3]]
        with pytest.raises(ClientError) as refused:
            client.experiment_runs(experiment[0], where=["rows>"])
        assert refused.value.status == 422
    shown = server.cli(
        "runs", "compare", "--experiment", experiment[0], "--where", "rows>=2",
        "--format", "json", "--server", server.url, "--token", server.token or "",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert {r["id"] for r in data["runs"]} == {experiment[2], experiment[3]}
    by_ids = server.cli("runs", "compare", experiment[1], "--server", server.url)
    assert by_ids.returncode == 1 and "by experiment" in by_ids.stderr
