"""Pipelines for pools, priorities and task concurrency limits (tests/engine/test_pools_*).

Tasks that must overlap to prove a point meet at a rendezvous (each leaves a marker
file and waits for ``wait_for`` of them) instead of trusting that sleeps coincide.
"""

from __future__ import annotations

from headwater import ParallelFor, component, pipeline

ITEMS = [0, 1, 2]


def _hold(item: int, marker_dir: str, wait_for: int, seconds: float) -> int:
    """Leave ``item.started``; wait for ``wait_for`` markers (or sleep ``seconds``)."""
    import time
    from pathlib import Path

    folder = Path(marker_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{item}.started").write_text(repr(time.time()))
    if wait_for:
        give_up = time.time() + 20
        while len(list(folder.glob("*.started"))) < wait_for:
            if time.time() > give_up:
                raise RuntimeError(f"only {len(list(folder.glob('*.started')))} of {wait_for} ran")
            time.sleep(0.02)
    else:
        time.sleep(seconds)
    return item


@component(pool="narrow")
def hold(item: int, marker_dir: str, wait_for: int = 0, seconds: float = 0.15) -> int:
    return _hold(item, marker_dir, wait_for, seconds)


@component
def loose(item: int, marker_dir: str, wait_for: int = 0, seconds: float = 0.15) -> int:
    """``hold`` without a pool: it takes a slot of the default pool."""
    return _hold(item, marker_dir, wait_for, seconds)


@component
def nap(label: str, seconds: float = 0.15) -> str:
    import time

    time.sleep(seconds)
    return label


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


@pipeline
def pools_fanout(marker_dir: str, wait_for: int = 0, items: list[int] = ITEMS):
    with ParallelFor(items) as item:
        hold(item=item, marker_dir=marker_dir, wait_for=wait_for)


@pipeline
def pools_double(marker_dir: str, wait_for: int = 0, items: list[int] = ITEMS):
    with ParallelFor(items) as item:
        hold(item=item, marker_dir=marker_dir, wait_for=wait_for).set_pool("narrow", slots=2)


@pipeline
def pools_plain(marker_dir: str, wait_for: int = 0, items: list[int] = ITEMS):
    with ParallelFor(items) as item:
        loose(item=item, marker_dir=marker_dir, wait_for=wait_for)


@pipeline
def pools_missing():
    nap(label="pooled", seconds=0).set_pool("no-such-pool")
    nap(label="unpooled", seconds=0)


# Declared lowest first, so that creation order and priority order disagree.
@pipeline
def pools_ranked():
    nap(label="low", seconds=0.05).set_pool("single").set_priority(1)
    nap(label="mid", seconds=0.05).set_pool("single").set_priority(5)
    nap(label="high", seconds=0.05).set_pool("single").set_priority(10)


@pipeline
def pools_blocker(release: str):
    gate(release=release).set_pool("single")


@pipeline
def pools_low():
    nap(label="low", seconds=0.05).set_pool("single").set_priority(1)


@pipeline
def pools_high():
    nap(label="high", seconds=0.05).set_pool("single").set_priority(10)


@pipeline(max_active_tasks=1)
def limited_pair():
    nap(label="a")
    nap(label="b")


@pipeline
def free_pair():
    nap(label="a")
    nap(label="b")


@pipeline
def nap_twice():
    first = nap(label="first", seconds=0.05)
    nap(label="second", seconds=0.05).after(first)


@pipeline(max_active_tasks=1)
def limited_nested():
    nap_twice()
