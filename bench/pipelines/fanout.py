"""fanout-200: one source, 200 parallel no-op tasks taking its output, one sink summing them."""

from headwater import Collected, ParallelFor, component, pipeline


@component
def source() -> int:
    return 1


@component
def work(x: int, i: int) -> int:
    return x + i


@component
def sink(values: list[int]) -> int:
    return sum(values)


@pipeline
def fanout(items: list[int] = list(range(200))):  # noqa: B006
    src = source()
    with ParallelFor(items) as i:
        done = work(x=src.output, i=i)
    sink(values=Collected(done.output))
