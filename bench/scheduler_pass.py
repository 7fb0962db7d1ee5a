"""A scheduler process for the benchmarks: open the workspace, run scheduler passes.

``python scheduler_pass.py LABEL=ISO-INSTANT ...`` runs ``headwater.scheduler.tick`` once
per argument, at that instant, and prints one JSON line per pass as soon as it ends
(seconds, CPU seconds, runs created, peak RSS so far), so a parent that stops a slow pass still has
the passes before it. ``BENCH_PROFILE=DIR`` also writes a cProfile file per pass there.

Only headwater is imported here (no rich, no benchmark helpers), so the peak RSS is
that of a process doing scheduler work and nothing else.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import datetime


def _report(label: str, seconds: float, cpu: float, created: int | None = None) -> None:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    line = {
        "pass": label,
        "seconds": seconds,
        "cpu": cpu,
        "created": created,
        "rss_mib": peak_kib / 1024,
    }
    print(json.dumps(line), flush=True)


def main(passes: list[str]) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    from headwater.engine import Workspace
    from headwater.scheduler import tick

    ws = Workspace.open()
    _report("open", time.perf_counter() - start, time.process_time() - cpu)
    profile_dir = os.environ.get("BENCH_PROFILE")
    for arg in passes:
        label, _, instant = arg.partition("=")
        now = datetime.fromisoformat(instant)
        profiler = None
        if profile_dir:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start, cpu = time.perf_counter(), time.process_time()
        created = tick(ws, now)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.path.join(profile_dir, f"{label}.pstats"))
        _report(label, elapsed, used, len(created))
    ws.close()


if __name__ == "__main__":
    main(sys.argv[1:])
