"""chain-N in a per-step environment: N no-op tasks, each with packages=, in a chain."""

import os

from headwater import component, pipeline

N = int(os.environ.get("BENCH_CHAIN_N", "100"))


@component(packages=["tabulate==0.9.0"])
def step_in_env(x: int) -> int:
    return x + 1


@pipeline
def chain_env(start: int = 0):
    value = start
    for _ in range(N):
        value = step_in_env(x=value).output
