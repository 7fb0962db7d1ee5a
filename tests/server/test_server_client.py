"""The Python client and the CLI's --server mode against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from server_api import LOG_LINES, REPORT_TAG, log_line
from server_helpers import Standalone, free_port

from headwater.client import Client
from headwater.errors import ClientError

API = "/api/v1"


@pytest.fixture
def hw(server: Standalone) -> Iterator[Client]:
    with Client(server.url, server.token) as client:
        yield client


def test_cli_trigger_queues_a_run_on_the_server(server: Standalone) -> None:
    done = server.cli(
        "trigger", "server_report", "-p", "n=2", "-p", "label=cli",
        "--server", server.url, "--token", str(server.token),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"run (\w{26}) of server_report queued on ", done.stdout)
    assert found, done.stdout
    run = server.wait(found.group(1))
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "api"
    assert run["parameters"]["n"] == 2 and run["parameters"]["label"] == "cli"


def test_cli_trigger_reports_bad_parameters(server: Standalone) -> None:
    before = server.count_runs("server_report")
    done = server.cli(
        "trigger", "server_report", "-p", "n=lots", "--server", server.url,
        "--token", str(server.token),
    )  # fmt: skip
    assert done.returncode == 1
    assert "parameter 'n' 'lots' is a str, not int" in done.stderr
    assert "(HTTP 422)" in done.stderr
    assert server.count_runs("server_report") == before


def test_cli_runs_list_shows_the_servers_runs(server: Standalone) -> None:
    run = server.wait(server.trigger("server_sleepy", seconds=0)["id"])
    listed = server.cli(
        "runs", "list", "--pipeline", "server_sleepy", "--limit", "500",
        "--server", server.url, env={"HEADWATER_TOKEN": str(server.token)},
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    total = server.count_runs("server_sleepy")
    assert f"runs on {server.url} ({total} in all)" in listed.stdout
    line = next(x for x in listed.stdout.splitlines() if run["id"] in x)
    assert "server_sleepy" in line and "succeeded" in line and "api" in line


def test_client_trigger_wait_logs_and_download(server: Standalone, hw: Client) -> None:
    assert hw.health()["status"] == "ok"
    run = hw.trigger("server_report", {"n": 4, "label": "client"})
    done = hw.wait(run["id"], timeout=90, poll=0.1)
    assert done["status"] == "succeeded", done
    expected = "".join(log_line(i) + "\n" for i in range(LOG_LINES))
    assert hw.logs(run["id"], "make_report") == expected
    assert hw.logs(run["id"], "make_report", offset=-8) == expected[-8:]
    assert "".join(hw.follow_logs(run["id"], "make_report")) == expected

    ids = next(t for t in done["tasks"] if t["path"] == "make_report")["outputs"]["artifacts"]
    table = hw.download(ids["table"])
    assert table.decode().splitlines()[:3] == ["id,square,label", "0,0,client", "1,1,client"]
    assert hw.download(ids["parts"], "part-0.csv") == b"part,value\n0,0\n"
    with pytest.raises(ClientError) as escape:
        hw.download(ids["parts"], "../../../etc/passwd")
    assert escape.value.status == 400 and "is not allowed" in escape.value.message
    assert hw.artifact(ids["table"])["metadata"]["rows"] == 4
    summary = next(t for t in done["tasks"] if t["path"] == "summarize")
    lineage = hw.lineage(summary["outputs"]["artifacts"]["summary"])
    assert [n["artifact"]["id"] for n in lineage["upstream"]] == [ids["table"]]
    assert {m["key"] for m in hw.metrics(run["id"])} == {"rows", "loss"}
    listed = hw.runs(pipeline="server_report", status="succeeded", limit=500)
    assert run["id"] in {r["id"] for r in listed["items"]}


def test_client_lists_pipelines_with_or_without_filters(server: Standalone, hw: Client) -> None:
    everything = hw.pipelines(prefix=None, tag=None)
    assert {"server_report", "server_sleepy", "server_gated"} <= {
        p["name"] for p in everything["items"]
    }
    tagged = hw.pipelines(tag=REPORT_TAG)
    assert [p["name"] for p in tagged["items"]] == ["server_report"]
    assert hw.assets(prefix=None)["total"] >= 0
    assert hw.asset_events(asset=None, run_id=None)["limit"] == 50


def test_client_me_names_the_tokens_user(server: Standalone, hw: Client) -> None:
    me = hw.me()
    assert me["user"] == "admin" and me["role"] == "owner"
    assert server.token is not None and server.token.startswith(me["token"]["prefix"])


def test_client_errors_carry_the_servers_message(server: Standalone, hw: Client) -> None:
    with pytest.raises(ClientError) as bad:
        hw.trigger("server_report", {"n": "many"})
    assert bad.value.status == 422 and "parameter 'n'" in bad.value.message
    assert bad.value.hint

    ended = hw.wait(hw.trigger("server_sleepy", {"seconds": 0})["id"], poll=0.1)
    with pytest.raises(ClientError) as late:
        hw.cancel(ended["id"])
    assert late.value.status == 409 and "already ended" in late.value.message

    with pytest.raises(ClientError) as missing:
        list(hw.follow_logs(ended["id"], "nope"))
    assert missing.value.status == 404
    assert missing.value.message == f"run {ended['id']} has no task 'nope' (HTTP 404)"
    assert missing.value.hint

    with Client(server.url, "hw_unknown") as stranger, pytest.raises(ClientError) as refused:
        stranger.runs()
    assert refused.value.status == 401 and "not known" in refused.value.message

    nowhere = Client(f"http://127.0.0.1:{free_port()}", "hw_x", timeout=2)
    with nowhere, pytest.raises(ClientError) as unreachable:
        nowhere.health()
    assert unreachable.value.status == 0 and "cannot reach" in unreachable.value.message
