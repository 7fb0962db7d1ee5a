"""A daily ingest as an Airflow DAG, the "before" of docs/from-airflow.md
(examples/from_airflow/headwater_pipeline.py is the "after").

Each day: wait for the day's orders file and for the ``customers`` DAG's ``publish``
task, make a scratch folder (a setup task), extract and load the orders in the
``warehouse`` pool (load updates an asset), print a report, alert when extract or load
failed, and remove the scratch folder however the run went (a teardown task).

Written for Airflow 2.7+ (setup and teardown tasks); Airflow 3 still imports these
modules, with deprecation warnings. tests/examples/test_from_airflow.py loads it with a
real Airflow.
"""

from __future__ import annotations

import csv
import os
import shutil
from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator
from airflow.sensors.external_task import ExternalTaskSensor
from airflow.sensors.filesystem import FileSensor

try:  # Airflow 3 calls datasets assets
    from airflow.sdk import Asset
except ImportError:  # Airflow 2
    from airflow.datasets import Dataset as Asset

LANDING = "/data/landing"
SCRATCH = "/tmp/daily_orders"
ORDERS = Asset("s3://warehouse/orders")

with DAG(
    dag_id="daily_orders",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["ingest"],
):
    orders_landed = FileSensor(
        task_id="wait_for_orders",
        filepath=LANDING + "/{{ ds }}/orders.csv",
        poke_interval=60,
        timeout=6 * 60 * 60,
        mode="reschedule",
    )
    customers_published = ExternalTaskSensor(
        task_id="wait_for_customers",
        external_dag_id="customers",
        external_task_id="publish",
        poke_interval=60,
        timeout=6 * 60 * 60,
        mode="reschedule",
    )

    @task
    def make_scratch(ds: str | None = None) -> str:
        folder = f"{SCRATCH}/{ds}"
        os.makedirs(folder, exist_ok=True)
        return folder

    @task(pool="warehouse")
    def extract(scratch: str, ds: str | None = None) -> dict:
        with open(f"{LANDING}/{ds}/orders.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["amount"]]
        cleaned = f"{scratch}/orders.csv"
        with open(cleaned, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "customer", "amount"])
            writer.writeheader()
            writer.writerows(rows)
        return {"path": cleaned, "rows": len(rows)}

    @task(pool="warehouse", outlets=[ORDERS])
    def load(summary: dict) -> int:
        shutil.copy(summary["path"], "/data/warehouse/orders.csv")
        return summary["rows"]

    @task(trigger_rule="one_failed")
    def alert(ds: str | None = None) -> None:
        print(f"daily_orders failed for {ds}")  # post to the team's chat here

    @task
    def remove_scratch(scratch: str) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    report = BashOperator(
        task_id="report",
        bash_command="echo \"orders for {{ ds }}: {{ ti.xcom_pull(task_ids='load') }} rows\"",
    )

    scratch = make_scratch()
    summary = extract(scratch)
    [orders_landed, customers_published] >> summary
    loaded = load(summary)
    loaded >> report
    [summary, loaded] >> alert()
    loaded >> remove_scratch(scratch).as_teardown(setups=scratch)
