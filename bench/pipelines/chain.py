"""chain-N: N no-op tasks in a chain, each passing an int to the next."""

import os

from headwater import component, pipeline

N = int(os.environ.get("BENCH_CHAIN_N", "100"))


@component
def step(x: int) -> int:
    return x + 1


@pipeline
def chain(start: int = 0):
    value = start
    for _ in range(N):
        value = step(x=value).output
