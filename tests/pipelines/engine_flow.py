"""Pipelines for trigger rules and control flow at run time (tests/engine)."""

from __future__ import annotations

from typing import Any

from headwater import (
    Collected,
    Elif,
    Else,
    ExitHandler,
    FinalStatus,
    If,
    ParallelFor,
    component,
    pipeline,
)


@component
def boom() -> int:
    raise RuntimeError("boom")


@component
def ok() -> int:
    return 1


@component
def mark(label: str) -> str:
    return label


def mark_name(index: int) -> str:
    """The task name of the ``index``-th (0-based) call of ``mark`` in a pipeline."""
    return "mark" if index == 0 else f"mark-{index + 1}"


# (label, trigger rule, upstream tasks, expected status), in the order ``mark`` is called.
TRIGGER_CASES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("all_success", "all_success", ("boom",), "upstream_failed"),
    ("all_done", "all_done", ("boom",), "succeeded"),
    ("one_failed", "one_failed", ("boom", "ok"), "succeeded"),
    ("one_failed-none", "one_failed", ("ok",), "skipped"),
    ("none_failed", "none_failed", ("boom",), "upstream_failed"),
    ("none_failed-ok", "none_failed", ("ok",), "succeeded"),
    ("all_failed", "all_failed", ("boom",), "succeeded"),
    ("all_failed-mixed", "all_failed", ("boom", "ok"), "skipped"),
    ("one_success", "one_success", ("boom", "ok"), "succeeded"),
    ("one_success-none", "one_success", ("boom",), "upstream_failed"),
    ("none_skipped", "none_skipped", ("boom",), "succeeded"),
    ("always", "always", ("boom",), "succeeded"),
]


@pipeline
def engine_triggers():
    upstream = {"boom": boom(), "ok": ok()}
    for label, rule, after, _ in TRIGGER_CASES:
        mark(label=label).after(*(upstream[u] for u in after)).set_trigger_rule(rule)


# Calls of ``mark`` in engine_skips, in order: inside the If, then downstream of it.
SKIP_CASES: list[tuple[str, str, str]] = [
    ("inside", "all_success", "skipped"),
    ("inside-after", "all_success", "skipped"),
    ("after-all_success", "all_success", "skipped"),
    ("after-none_skipped", "none_skipped", "skipped"),
    ("after-none_failed", "none_failed", "succeeded"),
    ("after-all_done", "all_done", "succeeded"),
]


@pipeline
def engine_skips():
    flag = ok()
    gate = If(flag.output == 2, name="never")
    with gate:
        inside = mark(label="inside")
        mark(label="inside-after").after(inside)
    for label, rule, _ in SKIP_CASES[2:]:
        mark(label=label).after(gate).set_trigger_rule(rule)


@component
def number(value: float) -> float:
    return value


@pipeline
def engine_branches(value: float = 0.0, mode: str = "full"):
    score = number(value=value)
    with If(score.output > 10, name="high"):
        mark(label="high")
    with Elif((score.output > 5) & (mode == "full")):
        mark(label="mid")
    with Else():
        mark(label="low")


@component
def timed(item: int, stamp_dir: str, pause: float = 0.3) -> int:
    """Sleep ``pause`` seconds, recording when it started and ended; return item * 10."""
    import time
    from pathlib import Path

    start = time.time()
    time.sleep(pause * (1.5 if item % 2 else 1.0))
    Path(stamp_dir, f"{item}.stamp").write_text(f"{start!r} {time.time()!r}")
    return item * 10


@component
def gather(values: list[int]) -> list[int]:
    return values


@pipeline
def engine_loop(stamp_dir: str, items: list[int] = [0, 1, 2, 3, 4, 5]):  # noqa: B006
    with ParallelFor(items, parallelism=2) as item:
        result = timed(item=item, stamp_dir=stamp_dir)
    gather(values=Collected(result.output))


@component
def multiply(a: int, b: int) -> int:
    return a * b


@component
def total(values: list[int]) -> int:
    return sum(values)


@pipeline
def engine_nested_loops(
    outer: list[int] = [1, 2, 3],  # noqa: B006
    inner: list[int] = [10, 20],  # noqa: B006
):
    with ParallelFor(outer) as a:
        with ParallelFor(inner) as b:
            product = multiply(a=a, b=b)
        row = total(values=Collected(product.output))
    gather(values=Collected(row.output))


@component
def work(fail: bool) -> int:
    if fail:
        raise ValueError("work was told to fail")
    return 1


@component
def report(status: FinalStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "failed_tasks": status.failed_tasks,
        "error_message": status.error_message,
        "pipeline": status.pipeline,
        "run_id": status.run_id,
    }


@pipeline
def engine_exit_handler(fail: bool = False):
    final = report()
    with ExitHandler(final, name="guarded"):
        first = work(fail=False)
        work(fail=fail).after(first)


@pipeline
def engine_inner(x: int):
    return multiply(a=x, b=2).output


@pipeline
def engine_outer(x: int = 3):
    inner = engine_inner(x=x)
    multiply(a=inner.output, b=5)
