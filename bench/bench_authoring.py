"""Authoring benchmarks: the cost of ``import headwater`` and of compiling the examples."""

from __future__ import annotations

import sys
from pathlib import Path

from _table import Row, median_runs, process_seconds, python_snippet_seconds

ROOT = Path(__file__).resolve().parent.parent
RUNS = 15

IMPORT = "import time; t = time.perf_counter(); import headwater; print(time.perf_counter() - t)"
BASELINE = (
    "import time; t = time.perf_counter(); import json, typing, dataclasses; "
    "print(time.perf_counter() - t)"
)

BIG_COMPILE = """
import time
from headwater import component, pipeline, ParallelFor

@component
def step(x: int) -> int:
    return x + 1

@pipeline
def big(n: int = 0):
    last = n
    for _ in range(500):
        last = step(x=last).output
    for i in range(500):
        step(x=i)

t = time.perf_counter()
big.compile()
print(time.perf_counter() - t)
"""


def run() -> list[Row]:
    rows: list[Row] = []
    imp = median_runs(lambda: python_snippet_seconds(IMPORT), RUNS)
    base = median_runs(lambda: python_snippet_seconds(BASELINE), RUNS)
    rows.append(
        Row(
            "import headwater (in-process, median of 15 fresh interpreters)",
            f"{imp * 1000:.1f} ms",
            "< 150 ms",
            "yes" if imp < 0.150 else "NO",
            f"baseline import json+typing+dataclasses: {base * 1000:.1f} ms",
        )
    )
    startup = median_runs(lambda: process_seconds([sys.executable, "-c", "import headwater"]), RUNS)
    bare = median_runs(lambda: process_seconds([sys.executable, "-c", "pass"]), RUNS)
    rows.append(
        Row(
            "python -c 'import headwater' (whole process)",
            f"{startup * 1000:.1f} ms",
            "-",
            "yes",
            f"bare interpreter: {bare * 1000:.1f} ms",
        )
    )
    big = median_runs(lambda: python_snippet_seconds(BIG_COMPILE), 5)
    rows.append(
        Row(
            "compile + validate a 1,000-task pipeline (chain of 500, fan-out of 500)",
            f"{big * 1000:.0f} ms",
            "-",
            "yes",
        )
    )
    cli = str(Path(sys.executable).with_name("headwater"))
    for example in ("ml_pipeline.py", "sweep.py"):
        path = ROOT / "examples" / example
        if not path.exists():
            continue
        t = median_runs(lambda p=path: process_seconds([cli, "compile", str(p)]), 5)
        rows.append(
            Row(
                f"headwater compile examples/{example} (whole process)",
                f"{t * 1000:.0f} ms",
                "-",
                "yes",
            )
        )
    return rows
