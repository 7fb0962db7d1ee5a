"""Pipelines the Airflow provider's tests (tests/airflow) deploy to a real standalone and
trigger from Airflow DAGs."""

from __future__ import annotations

from headwater import Dataset, Output, component, pipeline

PUBLISHED = "warehouse://airflow/published"


@component
def make_rows(n: int, label: str, table: Output[Dataset]) -> int:
    with open(table.path, "w") as f:
        f.write("\n".join(f"{i},{label}" for i in range(n)))
    return n


@component
def shout(label: str) -> str:
    return label.upper()


@pipeline
def airflow_report(n: int, label: str = "plain"):
    """Returns how many rows it wrote, its label shouted, and the table."""
    rows = make_rows(n=n, label=label)
    return {
        "rows": rows.outputs["output"],
        "label": shout(label=label).output,
        "table": rows.outputs["table"],
    }


@component
def explode(reason: str) -> None:
    raise RuntimeError(f"exploded on purpose: {reason}")


@component
def fine() -> str:
    return "fine"


@pipeline
def airflow_broken(reason: str):
    explode(reason=reason)
    fine()


@component
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@pipeline
def airflow_sleepy(seconds: float = 60.0):
    nap(seconds=seconds)


@component(assets={"out": PUBLISHED})
def publish(label: str, delay: float, out: Output[Dataset]) -> None:
    import time

    time.sleep(delay)
    with open(out.path, "w") as f:
        f.write(label)


@pipeline
def airflow_publish(label: str, delay: float = 1.0):
    """Updates the asset PUBLISHED after ``delay`` seconds, and ends ``delay`` seconds
    later."""
    published = publish(label=label, delay=delay)
    nap(seconds=delay).after(published)
