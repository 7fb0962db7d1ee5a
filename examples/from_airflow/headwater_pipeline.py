"""The daily ingest of examples/from_airflow/airflow_dag.py, converted to Headwater
(docs/from-airflow.md shows the two side by side).

    headwater pools set warehouse --slots 2
    headwater run examples/from_airflow/headwater_pipeline.py -p landing=/data/landing
    headwater deploy examples/from_airflow/headwater_pipeline.py   # then a scheduler runs it daily
"""

from __future__ import annotations

from headwater import (
    Asset,
    Dataset,
    Output,
    Template,
    component,
    pipeline,
    wait_for_path,
    wait_for_run,
)

ORDERS = Asset("s3://warehouse/orders")


@component
def make_scratch(root: str, day: str) -> str:
    import os

    folder = f"{root}/{day}"
    os.makedirs(folder, exist_ok=True)
    return folder


@component(pool="warehouse")
def extract(paths: list[str], scratch: str) -> dict:
    import csv

    with open(paths[0], newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["amount"]]
    cleaned = f"{scratch}/orders.csv"
    with open(cleaned, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "customer", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    return {"path": cleaned, "rows": len(rows)}


@component(pool="warehouse", assets={"table": ORDERS})
def load(summary: dict, table: Output[Dataset]) -> int:
    import shutil

    shutil.copy(summary["path"], table.path)
    table.metadata["rows"] = summary["rows"]
    return int(summary["rows"])


@component(trigger_rule="one_failed")
def alert(day: str) -> None:
    print(f"daily_orders failed for {day}")  # or notify= on the pipeline: Slack, email...


@component
def report(day: str, rows: int) -> str:
    import subprocess

    line = f"orders for {day}: {rows} rows"
    subprocess.run(["echo", line], check=True)  # what a BashOperator ran
    return line


@component
def remove_scratch(scratch: str) -> None:
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)


@pipeline(
    schedule="@daily",
    start_date="2026-01-01",
    catchup=False,
    max_active_runs=1,
    task_defaults={"retries": 2, "retry_delay": "5m"},
    tags=["ingest"],
)
def daily_orders(landing: str = "/data/landing", scratch_root: str = "/tmp/daily_orders"):
    day = Template("{{ ds }}")
    orders_landed = wait_for_path(
        Template("{{ params.landing }}/{{ ds }}/orders.csv"),
        poke_interval="60s",
        timeout="6h",
        name="wait_for_orders",
    )
    customers_published = wait_for_run(
        "customers", task="publish", poke_interval="60s", timeout="6h", name="wait_for_customers"
    )
    scratch = make_scratch(root=scratch_root, day=day)
    summary = extract(paths=orders_landed.output, scratch=scratch.output)
    summary.after(customers_published)
    loaded = load(summary=summary.output)
    report(day=day, rows=loaded.outputs["output"])
    alert(day=day).after(summary, loaded)
    remove_scratch(scratch=scratch.output).after(loaded).as_teardown(setups=scratch)
