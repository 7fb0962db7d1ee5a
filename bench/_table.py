"""Shared helpers for benchmarks: timing fresh processes and printing result tables."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass
class Row:
    workload: str
    measured: str
    target: str
    verdict: str
    note: str = ""


def median_runs(fn, runs: int, warmup: int = 1) -> float:  # type: ignore[no-untyped-def]
    for _ in range(warmup):
        fn()
    return statistics.median(fn() for _ in range(runs))


def python_snippet_seconds(code: str) -> float:
    """Run ``code`` in a fresh interpreter; it must print one float (seconds)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def process_seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, capture_output=True, check=True)
    return time.perf_counter() - start


def show(title: str, rows: list[Row]) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("workload", "measured", "target", "ok", "note"):
        table.add_column(col)
    for r in rows:
        colour = {"yes": "green", "-": "dim"}.get(r.verdict, "red")
        table.add_row(r.workload, r.measured, r.target, f"[{colour}]{r.verdict}[/]", r.note)
    Console(width=160).print(table)
