"""A DAG that tests/airflow runs with ``airflow dags test``: it triggers Headwater runs with
Jinja-templated parameters, waits for them deferred (and once in the worker), waits for an
asset update, and checks what the runs handed to XCom. Each check prints one line
``HEADWATER_CHECK <json>`` for the test to read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, task
from headwater_airflow import (
    HeadwaterAssetSensor,
    HeadwaterHook,
    HeadwaterRunSensor,
    HeadwaterTriggerRunOperator,
)

PUBLISHED = "warehouse://airflow/published"
FAST = {"poke_interval": 0.2, "timeout": 120}


def _report(what: str, values: dict[str, Any]) -> None:
    print("HEADWATER_CHECK " + json.dumps({"check": what, **values}, sort_keys=True))


with DAG(
    "headwater_outputs",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    # "{{ dag_run.conf['n'] }}" renders to the number itself, not its text.
    render_template_as_native_obj=True,
):
    report = HeadwaterTriggerRunOperator(
        task_id="report",
        pipeline="airflow_report",
        parameters={"n": "{{ dag_run.conf['n'] }}", "label": "day-{{ ds }}"},
        deferrable=True,
        **FAST,
    )

    in_worker = HeadwaterTriggerRunOperator(
        task_id="in_worker",
        pipeline="airflow_report",
        parameters={"n": 2, "label": "{{ dag_run.conf['label'] }}"},
        deferrable=False,
        **FAST,
    )

    @task
    def check_outputs(**context: Any) -> None:
        ti = context["ti"]
        base = HeadwaterHook().endpoint.url
        for source in ("report", "in_worker"):
            run_id = ti.xcom_pull(task_ids=source, key="run_id")
            _report(
                source,
                {
                    "run_id": run_id,
                    "outputs": ti.xcom_pull(task_ids=source),
                    "artifacts": ti.xcom_pull(task_ids=source, key="artifacts"),
                    "run_url": ti.xcom_pull(task_ids=source, key="run_url"),
                    "link": ti.xcom_pull(task_ids=source, key="_link_HeadwaterRunLink"),
                    "expected_url": f"{base}/#/runs/{run_id}",
                },
            )

    @task
    def started() -> str:
        return datetime.now(UTC).isoformat()

    publish = HeadwaterTriggerRunOperator(
        task_id="publish",
        pipeline="airflow_publish",
        parameters={"label": "{{ run_id }}", "delay": 1.0},
        wait_for_completion=False,
    )

    published = HeadwaterAssetSensor(
        task_id="published",
        asset=PUBLISHED,
        after="{{ ti.xcom_pull(task_ids='started') }}",
        deferrable=True,
        **FAST,
    )

    publish_done = HeadwaterRunSensor(
        task_id="publish_done",
        run_id="{{ ti.xcom_pull(task_ids='publish', key='run_id') }}",
        deferrable=True,
        **FAST,
    )

    @task
    def check_waits(**context: Any) -> None:
        ti = context["ti"]
        _report(
            "waits",
            {
                "publish_run": ti.xcom_pull(task_ids="publish", key="run_id"),
                "publish_returned": ti.xcom_pull(task_ids="publish"),
                "asset_event": ti.xcom_pull(task_ids="published"),
                "started": ti.xcom_pull(task_ids="started"),
                "run_outputs": ti.xcom_pull(task_ids="publish_done"),
                "sensor_link": ti.xcom_pull(task_ids="publish_done", key="_link_HeadwaterRunLink"),
            },
        )

    [report, in_worker] >> check_outputs()
    # The asset is updated while the run goes on: each sensor finds nothing on its first
    # look, and waits in the (inline) triggerer.
    started() >> publish >> published >> publish_done >> check_waits()
