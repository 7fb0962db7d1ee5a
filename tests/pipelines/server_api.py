"""Pipelines the HTTP API tests deploy to a real ``headwater standalone`` (tests/server).

Tasks that have side effects write them under folders passed as parameters, so a test
can tell from what the task bodies did whether (and how often) they ran.
"""

from __future__ import annotations

from headwater import (
    HTML,
    Collected,
    Dataset,
    Input,
    Markdown,
    Metrics,
    Output,
    ParallelFor,
    component,
    pipeline,
)

SALES = "warehouse://sales"
REPORT_TAG = "reports"
LOG_LINES = 40


def log_line(i: int) -> str:
    """Line ``i`` of make_report's log (tests rebuild the expected log from it)."""
    return f"report line {i:03d}"


@component(assets={"table": SALES})
def make_report(
    n: int,
    label: str,
    note: str,
    table: Output[Dataset],
    parts: Output[Dataset],
    page: Output[HTML],
    notes: Output[Markdown],
    scores: Output[Metrics],
    link_to: str = "",
) -> str:
    """A CSV table (a file), a folder of CSV parts, an HTML page, Markdown and metrics.

    With ``link_to``, the parts folder also holds ``escape``, a symlink to that path.
    """
    import os

    for i in range(LOG_LINES):
        print(log_line(i))
    with open(table.path, "w") as f:
        f.write("id,square,label\n")
        for i in range(n):
            f.write(f"{i},{i * i},{label}\n")
    table.metadata["content_type"] = "text/csv"
    table.metadata["rows"] = n
    os.makedirs(parts.path, exist_ok=True)
    for k in range(2):
        with open(os.path.join(parts.path, f"part-{k}.csv"), "w") as f:
            f.write(f"part,value\n{k},{k * 10}\n")
    if link_to:
        os.symlink(link_to, os.path.join(parts.path, "escape"))
    with open(page.path, "w") as f:
        f.write(f"<html><body><h1>{label}</h1></body></html>")
    with open(notes.path, "w") as f:
        f.write(f"# Notes\n\n{note}\n")
    scores.log_metric("rows", n)
    for step in range(3):
        scores.log_metric("loss", 1.0 / (step + 1), step=step)
    return label


@component
def summarize(table: Input[Dataset], summary: Output[Dataset]) -> int:
    with open(table.path) as f:
        rows = f.read().splitlines()[1:]
    with open(summary.path, "w") as f:
        f.write(f"rows={len(rows)}\n")
    return len(rows)


@pipeline(tags=[REPORT_TAG], owner="api-tests")
def server_report(n: int, label: str = "plain", note: str = "{{ ds }}", link_to: str = ""):
    made = make_report(n=n, label=label, note=note, link_to=link_to)
    summarize(table=made.outputs["table"])


@component
def nap(seconds: float, ticks: int) -> str:
    """Print ``ticks`` lines spread over ``seconds``, then return."""
    import time

    for i in range(ticks):
        print(f"tick {i}", flush=True)
        time.sleep(seconds / max(ticks, 1))
    if not ticks:
        time.sleep(seconds)
    return "rested"


@pipeline
def server_sleepy(seconds: float = 60.0, ticks: int = 0):
    nap(seconds=seconds, ticks=ticks)


def _note(out_dir: str, name: str) -> None:
    """One line in ``out_dir/name.log`` per execution of a task body."""
    import os

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.log"), "a") as f:
        f.write("ran\n")


@component
def gate(marker: str, out_dir: str) -> str:
    """Fail unless the file ``marker`` exists."""
    import os

    _note(out_dir, "gate")
    if not os.path.exists(marker):
        raise RuntimeError(f"the gate is closed: {marker} does not exist")
    return "open"


@component
def after_gate(state: str, out_dir: str) -> str:
    _note(out_dir, "after_gate")
    return state


@component
def unrelated(out_dir: str) -> str:
    _note(out_dir, "unrelated")
    return "done"


@pipeline
def server_gated(marker: str, out_dir: str):
    opened = gate(marker=marker, out_dir=out_dir)
    after_gate(state=opened.output, out_dir=out_dir)
    unrelated(out_dir=out_dir)


@component
def count_to(n: int) -> int:
    return n


@component
def square(x: int) -> int:
    return x * x


@component
def write_note(text: str, note: Output[Dataset]) -> None:
    with open(note.path, "w") as f:
        f.write(text)


@pipeline
def server_outputs(n: int = 3, text: str = "hello"):
    """Returns its outputs: a value, a value per loop iteration and an artifact."""
    counted = count_to(n=n)
    with ParallelFor([1, 2, 3]) as x:
        squared = square(x=x)
    noted = write_note(text=text)
    return {
        "count": counted.output,
        "squares": Collected(squared.output),
        "note": noted.outputs["note"],
    }
