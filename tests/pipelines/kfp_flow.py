"""Pipelines that run on Headwater and, compiled to Kubeflow's IR, on ``kfp.local``, with the
same results (tests/interop/test_kfp_export.py).

Only the standard library is used inside components: kfp.local runs them with the
Python of the kfp peer environment, which has nothing else. Every task that ran leaves
a trace file ``<trace_dir>/<name>.trace`` holding what it saw, so the tests compare what
ran, and with which values, where kfp.local shows no task outputs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import headwater
from headwater import (
    Collected,
    Dataset,
    Elif,
    Else,
    ExitHandler,
    FinalStatus,
    If,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
    ParallelFor,
    component,
    importer,
    pipeline,
)

SEPARATOR = ","


def _trace(trace_dir: str, name: str, text: str) -> None:
    from pathlib import Path

    if trace_dir:
        Path(trace_dir).mkdir(parents=True, exist_ok=True)
        Path(trace_dir, f"{name}.trace").write_text(text)


class Totals(NamedTuple):
    rows: int
    total: int


# --------------------------------------------------------------------------- control flow


@component
def number(value: float) -> float:
    return value


@component
def mark(label: str, trace_dir: str) -> str:
    _trace(trace_dir, label, label)
    return label


class Verdict(NamedTuple):
    size: str
    doubled: float


@component
def judge(value: float) -> Verdict:
    return Verdict("big" if value > 10 else "small", value * 2)


@pipeline
def kfp_branches(value: float = 0.0, mode: str = "full", trace_dir: str = ""):
    score = number(value=value)
    verdict = judge(value=score.output)
    with If(verdict.outputs["size"] == "big", name="big"):
        mark(label="big", trace_dir=trace_dir)
    with If(score.output > 10, name="high"):
        mark(label="high", trace_dir=trace_dir)
    with Elif((score.output > 5) & (mode == "full")):
        mark(label="mid", trace_dir=trace_dir)
    with Else():
        mark(label="low", trace_dir=trace_dir)
    with If(mode.is_in(["full", "fast"]), name="known-mode"):
        mark(label="known", trace_dir=trace_dir)
    return score.output


# --------------------------------------------------------------------------- artifacts


@component
def make_table(rows: int, table: Output[Dataset]) -> None:
    """Lines ``i,i*i``; the row count and columns in the metadata."""
    with open(table.path, "w") as f:
        for i in range(rows):
            f.write(f"{i}{SEPARATOR}{i * i}\n")
    table.metadata.update({"rows": rows, "columns": ["i", "square"]})


@component
def summarize(
    table: Input[Dataset], stats: Output[Metrics], report: Output[Markdown], model: Output[Model]
) -> Totals:
    with open(table.path) as f:
        squares = [int(line.split(SEPARATOR)[1]) for line in f.read().splitlines()]
    total = sum(squares)
    stats.log_metric("rows", len(squares))
    for step, value in enumerate(squares):
        stats.log_metric("square", value, step=step)
    with open(report.path, "w") as f:
        f.write(f"# {len(squares)} rows\n\ntotal {total}\n")
    report.metadata["title"] = "summary"
    with open(model.path, "w") as f:
        f.write(f"mean={total / max(len(squares), 1)}")
    model.metadata.update({"source_rows": table.metadata.get("rows"), "kind": "mean"})
    return Totals(len(squares), total)


@pipeline
def kfp_artifacts(rows: int = 4):
    made = make_table(rows=rows)
    summary = summarize(table=made.outputs["table"])
    return {
        "table": made.outputs["table"],
        "stats": summary.outputs["stats"],
        "model": summary.outputs["model"],
        "total": summary.outputs["total"],
    }


# --------------------------------------------------------------------------- nested pipelines


@component
def double(x: int, trace_dir: str) -> int:
    _trace(trace_dir, "double", str(x * 2))
    return x * 2


@pipeline
def kfp_inner(x: int, trace_dir: str):
    doubled = double(x=x, trace_dir=trace_dir)
    table = make_table(rows=doubled.output)
    return {"doubled": doubled.output, "table": table.outputs["table"]}


@pipeline
def kfp_nested(x: int = 3, trace_dir: str = ""):
    inner = kfp_inner(x=x, trace_dir=trace_dir)
    summary = summarize(table=inner.outputs["table"])
    return {"doubled": inner.outputs["doubled"], "total": summary.outputs["total"]}


# --------------------------------------------------------------------------- exit handler


@component
def work(name: str, fail: bool, trace_dir: str) -> int:
    _trace(trace_dir, name, "ran")
    if fail:
        raise ValueError(f"{name} was told to fail")
    return 1


@component
def report(status: FinalStatus, trace_dir: str) -> str:
    _trace(trace_dir, "report", f"{status.state} {status.pipeline}")
    return status.state


@pipeline
def kfp_exit(fail: bool = False, trace_dir: str = ""):
    final = report(trace_dir=trace_dir)
    with ExitHandler(final, name="guarded"):
        first = work(name="first", fail=False, trace_dir=trace_dir)
        second = work(name="second", fail=fail, trace_dir=trace_dir).after(first)
    return second.output


# --------------------------------------------------------------------------- loops


@component
def square(n: int, label: str, trace_dir: str, part: Output[Dataset]) -> int:
    _trace(trace_dir, f"square-{label}", str(n * n))
    with open(part.path, "w") as f:
        f.write(str(n * n))
    part.metadata["n"] = n
    return n * n


@component
def add_up(values: list[int], parts: Input[list[Dataset]], trace_dir: str) -> int:
    from_files = []
    for part in parts:
        with open(part.path) as f:
            from_files.append(int(f.read()))
    if sorted(from_files) != sorted(values):
        raise ValueError(f"parts {from_files} do not match values {values}")
    _trace(trace_dir, "add_up", " ".join(str(v) for v in sorted(values)))
    return sum(values)


DEFAULT_ITEMS: list[dict[str, Any]] = [
    {"n": 1, "label": "one"},
    {"n": 2, "label": "two"},
    {"n": 3, "label": "three"},
]


@pipeline
def kfp_loop(items: list[dict[str, Any]] = DEFAULT_ITEMS, trace_dir: str = ""):
    with ParallelFor(items, parallelism=2, name="squares") as item:
        squared = square(n=item["n"], label=item["label"], trace_dir=trace_dir)
    total = add_up(
        values=Collected(squared.outputs["output"]),
        parts=Collected(squared.outputs["part"]),
        trace_dir=trace_dir,
    )
    with ParallelFor(["ten", "twenty"], name="static") as value:
        mark(label=value, trace_dir=trace_dir)
    return total.output


@pipeline
def kfp_mapped(trace_dir: str = ""):
    # Mapped tasks over literal lists: a zip of two lists, and one list with a fixed argument.
    squared = square.partial(trace_dir=trace_dir).expand_kwargs(
        headwater.zip(n=[1, 2, 3], label=["one", "two", "three", "four"])
    )
    total = add_up(
        values=squared.outputs["output"], parts=squared.outputs["part"], trace_dir=trace_dir
    )
    mark.partial(trace_dir=trace_dir).expand(label=["ten", "twenty"])
    return total.output


@component
def multiply(a: int, b: int, trace_dir: str) -> int:
    _trace(trace_dir, f"multiply-{a}-{b}", str(a * b))
    return a * b


@component
def total(values: list[int]) -> int:
    return sum(values)


@component
def gather(values: list[int]) -> list[int]:
    return values


@pipeline
def kfp_nested_loops(
    outer: list[int] = [1, 2, 3],  # noqa: B006
    inner: list[int] = [10, 20],  # noqa: B006
    trace_dir: str = "",
):
    with ParallelFor(outer, name="rows") as a:
        with ParallelFor(inner, name="cells") as b:
            product = multiply(a=a, b=b, trace_dir=trace_dir)
        row = total(values=Collected(product.output))
    return gather(values=Collected(row.output)).output


# --------------------------------------------------------------------------- timeout


@component(timeout=1)
def sleepy(seconds: float, trace_dir: str) -> str:
    import time

    _trace(trace_dir, "sleepy", "started")
    time.sleep(seconds)
    _trace(trace_dir, "sleepy", "finished")
    return "awake"


@pipeline
def kfp_timeout(seconds: float = 20.0, trace_dir: str = ""):
    return sleepy(seconds=seconds, trace_dir=trace_dir).output


# --------------------------------------------------------------------------- importer


@component
def count_bytes(data: Input[Dataset]) -> int:
    import os

    from headwater import Dataset  # Kubeflow's Dataset, in the compiled component

    if not isinstance(data, Dataset):
        raise TypeError(f"expected a Dataset, got {type(data).__name__}")
    return os.path.getsize(data.path)


@pipeline
def kfp_import(uri: str):
    raw = importer(uri, Dataset, metadata={"source": "tests"})
    size = count_bytes(data=raw.output)
    return {"size": size.output, "raw": raw.output}
