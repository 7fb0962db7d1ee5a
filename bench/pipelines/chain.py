"""chain-N: N no-op tasks in a chain, each passing an int to the next.

``BENCH_FRESH=1`` runs every task in a fresh interpreter (``fresh_interpreter=True``)
instead of a fork of the warm worker: the reference the per-task overhead is compared to.
"""

import os

from headwater import component, pipeline

N = int(os.environ.get("BENCH_CHAIN_N", "100"))
OPTIONS = {"fresh_interpreter": True} if os.environ.get("BENCH_FRESH") == "1" else {}


@component(**OPTIONS)
def step(x: int) -> int:
    return x + 1


@pipeline
def chain(start: int = 0):
    value = start
    for _ in range(N):
        value = step(x=value).output
