"""``python bench/ray_driver.py ADDRESS``: one warm driver of the Ray benchmarks.

It connects to the Ray cluster at ADDRESS once, then measures Ray's own task round trip
and runs the benchmark pipelines through ``headwater.run`` on the Ray executor (the
median of 3 runs after a warm-up each), and prints the seconds as one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = 3


def _median(fn: Callable[[], None]) -> float:
    fn()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _pipeline(file: str, name: str, **env: str) -> object:
    from headwater.sdk import load_pipeline

    os.environ.update(env)
    sys.modules.pop(Path(file).stem, None)  # compiled again with this environment
    return load_pipeline(f"{HERE / 'pipelines' / file}:{name}")


def main(address: str) -> None:
    os.environ["HEADWATER_EXECUTOR"] = "ray"
    os.environ["HEADWATER_RAY_ADDRESS"] = address
    import ray

    import headwater
    from headwater.executors import make_executor

    make_executor().close()  # connects

    @ray.remote(num_cpus=1)
    def noop() -> int:
        return 1

    @ray.remote(num_cpus=1)
    def two_items():  # type: ignore[no-untyped-def]
        yield 1
        yield 2

    def task_round_trip() -> float:
        for _ in range(20):
            ray.get(noop.remote())
        start = time.perf_counter()
        for _ in range(200):
            ray.get(noop.remote())
        return (time.perf_counter() - start) / 200

    def generator_round_trip() -> float:
        for _ in range(20):
            list(ray.get(list(two_items.remote())))
        start = time.perf_counter()
        for _ in range(200):
            for ref in two_items.remote():
                ray.get(ref)
        return (time.perf_counter() - start) / 200

    figures: dict[str, float] = {
        "ray_task": task_round_trip(),
        "ray_generator": generator_round_trip(),
    }

    def timed_run(pipeline: object) -> Callable[[], None]:
        def go() -> None:
            run = headwater.run(pipeline, cache=False)  # type: ignore[arg-type]
            if not run.succeeded:
                raise SystemExit(f"run {run.id} of {run.record.pipeline}: {run.status}")

        return go

    figures["chain1"] = _median(timed_run(_pipeline("chain.py", "chain", BENCH_CHAIN_N="1")))
    figures["chain100"] = _median(timed_run(_pipeline("chain.py", "chain", BENCH_CHAIN_N="100")))
    figures["fanout"] = _median(timed_run(_pipeline("fanout.py", "fanout")))
    figures["ml3"] = _median(timed_run(_pipeline("ml3.py", "ml3")))
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1])
