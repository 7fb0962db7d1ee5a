"""A DAG that tests/airflow runs with ``airflow dags test``: every task fails, each for one
kind of bad input (a failing pipeline, an unknown one, bad parameters, a connection that is
wrong in each way, a run that takes too long, an unknown run)."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG
from headwater_airflow import HeadwaterRunSensor, HeadwaterTriggerRunOperator

FAST = {"poke_interval": 0.2, "deferrable": True}

with DAG(
    "headwater_failures",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args={"retries": 0},
):
    HeadwaterTriggerRunOperator(
        task_id="broken",
        pipeline="airflow_broken",
        parameters={"reason": "{{ dag_run.conf['reason'] }}"},
        **FAST,
    )
    HeadwaterTriggerRunOperator(task_id="unknown", pipeline="no_such_pipeline", **FAST)
    HeadwaterTriggerRunOperator(
        task_id="bad_parameters", pipeline="airflow_report", parameters={"n": "many"}, **FAST
    )
    for conn in ("unreachable", "bad_token", "no_host", "no_token"):
        HeadwaterTriggerRunOperator(
            task_id=conn,
            pipeline="airflow_report",
            parameters={"n": 1},
            headwater_conn_id=f"headwater_{conn}",
            **FAST,
        )
    HeadwaterTriggerRunOperator(
        task_id="too_slow",
        pipeline="airflow_sleepy",
        parameters={"seconds": 60},
        timeout=1,
        **FAST,
    )
    HeadwaterRunSensor(task_id="no_such_run", run_id="nosuchrun", timeout=60, **FAST)
