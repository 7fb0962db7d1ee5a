"""DAGs that use the provider, run end to end with ``airflow dags test`` against a real
``headwater standalone``: runs triggered with Jinja-templated parameters, waited for in the
(inline) triggerer and in the worker, their outputs read from XCom downstream; sensors on a
run and on an asset; and a task that fails for each kind of bad input, with the server's
message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_helpers import Airflow
from server_helpers import Standalone


def test_a_dag_triggers_runs_waits_for_them_and_reads_their_outputs(
    headwater: Standalone, airflow: Airflow, connections: dict[str, str]
) -> None:
    ran = airflow.dags_test("headwater_outputs", {"n": 3, "label": "from-conf"}, connections)
    assert ran.process.returncode == 0, ran.output[-6000:]
    assert set(ran.states.values()) == {"success"}, ran.states
    checks = ran.checks()

    # Deferred: the task handed the wait to the triggerer, which rebuilt the trigger from
    # what it serialized, and resumed once the run had ended.
    report = checks["report"]
    assert "Pausing task as DEFERRED" in ran.task_log("report")
    run = headwater.run(report["run_id"])
    assert run["pipeline"] == "airflow_report" and run["status"] == "succeeded"
    # Airflow rendered the parameters: a number stays a number (native rendering).
    assert run["parameters"] == {"n": 3, "label": "day-2026-01-15"}
    assert report["outputs"] == {"rows": 3, "label": "DAY-2026-01-15"}
    assert report["artifacts"] == run["outputs"]["artifacts"] and "table" in report["artifacts"]
    assert report["run_url"] == report["link"] == report["expected_url"]
    assert report["link"].endswith(f"/#/runs/{report['run_id']}")

    # Waited for in the worker (not deferrable).
    in_worker = checks["in_worker"]
    assert "Pausing task as DEFERRED" not in ran.task_log("in_worker")
    assert in_worker["outputs"] == {"rows": 2, "label": "FROM-CONF"}
    assert headwater.run(in_worker["run_id"])["parameters"] == {"n": 2, "label": "from-conf"}
    assert in_worker["link"] == in_worker["expected_url"]

    # The sensors: an update of the asset after the DAG's start, and the run's end.
    waits: dict[str, Any] = checks["waits"]
    assert waits["publish_returned"] is None  # it did not wait for the run
    event = waits["asset_event"]
    assert event["asset"] == "warehouse://airflow/published"
    assert event["run_id"] == waits["publish_run"]
    assert datetime.fromisoformat(event["created_at"]) > datetime.fromisoformat(waits["started"])
    assert waits["run_outputs"] == {}  # airflow_publish returns nothing
    assert waits["sensor_link"].endswith(f"/#/runs/{waits['publish_run']}")
    assert headwater.run(waits["publish_run"])["status"] == "succeeded"


def test_each_kind_of_bad_input_fails_its_task_with_a_clear_message(
    headwater: Standalone, airflow: Airflow, connections: dict[str, str]
) -> None:
    ran = airflow.dags_test("headwater_failures", {"reason": "the moon is full"}, connections)
    assert ran.process.returncode != 0 and "DagRun failed" in ran.output, ran.output[-4000:]
    assert set(ran.states.values()) == {"failed"}, ran.states

    broken = ran.task_log("broken")
    runs = headwater.http.get("/api/v1/runs", params={"pipeline": "airflow_broken"}).json()
    run_id = runs["items"][0]["id"]
    assert headwater.run(run_id)["status"] == "failed"
    assert (
        f"Headwater run {run_id} of pipeline 'airflow_broken' failed. Failed tasks: "
        "explode: RuntimeError: exploded on purpose: the moon is full. "
        f"See {headwater.url}/#/runs/{run_id}"
    ) in broken

    expected = {
        "unknown": "no pipeline 'no_such_pipeline' (HTTP 404); deploy it with 'headwater deploy",
        "bad_parameters": "parameter 'n' 'many' is a str, not int (HTTP 422)",
        "unreachable": "cannot reach the Headwater server at http://127.0.0.1:",
        "bad_token": "the token is not known (HTTP 401)",
        "no_host": "the Airflow connection 'headwater_no_host' has no Headwater URL",
        "no_token": "the Airflow connection 'headwater_no_token' has no token",
        "no_such_run": "no run 'nosuchrun' (HTTP 404)",
    }
    for task, message in expected.items():
        assert message in ran.task_log(task), f"{task}:\n{ran.task_log(task)[-3000:]}"

    slow = ran.task_log("too_slow")
    runs = headwater.http.get("/api/v1/runs", params={"pipeline": "airflow_sleepy"}).json()
    slow_id = runs["items"][0]["id"]
    assert f"Headwater run {slow_id} did not end within 1s, so it was cancelled" in slow
    assert headwater.wait(slow_id)["status"] == "cancelled"
