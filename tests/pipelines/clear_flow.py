"""Pipelines whose tasks count their executions, for clear and retry (tests/scheduler).

Every task appends a character to ``<counter_dir>/<name>.count`` each time it runs, so a
test can tell a task that ran again from one whose earlier result was kept.
"""

from __future__ import annotations

from headwater import Collected, ParallelFor, component, pipeline


def _count(counter_dir: str, name: str) -> int:
    from pathlib import Path

    path = Path(counter_dir) / f"{name}.count"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("x")
    return len(path.read_text())


@component
def step(name: str, counter_dir: str, x: int = 0) -> int:
    _count(counter_dir, name)
    return x + 1


@component
def check(counter_dir: str, x: int) -> int:
    """Fail unless ``<counter_dir>/ok`` exists."""
    from pathlib import Path

    _count(counter_dir, "check")
    if not (Path(counter_dir) / "ok").exists():
        raise RuntimeError("no ok file yet")
    return x + 1


@component
def gate(release: str) -> str:
    """Run until the file ``release`` exists (at most 30 s)."""
    import time
    from pathlib import Path

    give_up = time.time() + 30
    while not Path(release).exists():
        if time.time() > give_up:
            raise RuntimeError(f"{release} never appeared")
        time.sleep(0.02)
    return "released"


@component
def tally(item: int, counter_dir: str) -> int:
    """``item * 10`` the first time, one more each time it runs again."""
    return item * 10 + _count(counter_dir, f"tally-{item}") - 1


@component
def double(item: int, value: int, counter_dir: str) -> int:
    _count(counter_dir, f"double-{item}")
    return value * 2


@component
def gather(values: list[int], counter_dir: str) -> list[int]:
    _count(counter_dir, "gather")
    return values


@pipeline
def clear_chain(counter_dir: str):
    a = step(name="a", counter_dir=counter_dir)
    b = check(counter_dir=counter_dir, x=a.output)
    step(name="c", counter_dir=counter_dir, x=b.output)
    step(name="d", counter_dir=counter_dir)  # depends on nothing: never cleared with b


@pipeline
def clear_gated(release: str, counter_dir: str):
    first = step(name="a", counter_dir=counter_dir)
    gate(release=release).after(first)


@pipeline
def clear_loop(counter_dir: str, items: list[int] = [0, 1, 2]):  # noqa: B006
    with ParallelFor(items) as item:
        counted = tally(item=item, counter_dir=counter_dir)
        doubled = double(item=item, value=counted.output, counter_dir=counter_dir)
    gather(values=Collected(doubled.output), counter_dir=counter_dir)


@pipeline
def clear_inner(counter_dir: str):
    counted = tally(item=1, counter_dir=counter_dir)
    return double(item=1, value=counted.output, counter_dir=counter_dir).output


@pipeline
def clear_nested(counter_dir: str):
    step(name="before", counter_dir=counter_dir)
    inner = clear_inner(counter_dir=counter_dir)
    step(name="after", counter_dir=counter_dir, x=inner.output)
