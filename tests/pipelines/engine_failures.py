"""Pipelines whose tasks fail on purpose: flaky tasks, crashes, timeouts (tests/engine).

Every task that has a side effect writes it under a folder passed as a parameter, so a
test can count attempts and find process ids without looking inside the engine.
"""

from __future__ import annotations

from headwater import component, pipeline


@component(retries=3, retry_delay=0.2, retry_backoff=2)
def flaky(counter_dir: str, fail_times: int = 2) -> int:
    """Fail the first ``fail_times`` attempts; each attempt leaves ``attempt-N`` (a timestamp)."""
    import time
    from pathlib import Path

    folder = Path(counter_dir)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("attempt-*"))) + 1
    (folder / f"attempt-{n}").write_text(repr(time.time()))
    if n <= fail_times:
        raise RuntimeError(f"flaky failure on attempt {n}")
    return n


@pipeline
def engine_flaky(counter_dir: str, fail_times: int = 2):
    flaky(counter_dir=counter_dir, fail_times=fail_times)


def _no_core_dump() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@component(retries=1)
def crash_abort() -> None:
    import os

    _no_core_dump()
    os.abort()


@component(retries=1)
def crash_segv() -> None:
    import ctypes

    _no_core_dump()
    ctypes.string_at(0)


@component(retries=1)
def crash_exit() -> None:
    import os

    os._exit(3)


@component(retries=1, memory="100Mi")
def crash_oom() -> int:
    """Really use 1 GiB (every page written), and hold it a moment."""
    import time

    hog = b"\x01" * (1 << 30)
    time.sleep(3)
    return len(hog)


@pipeline
def engine_crashes():
    crash_abort()
    crash_segv()
    crash_exit()
    crash_oom()


@component(timeout=1)
def stubborn(pid_dir: str) -> None:
    """Ignore SIGTERM, start a child that ignores it too, and sleep far past the timeout."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ]
    )
    folder = Path(pid_dir)
    for name, pid in (("child.pid", child.pid), ("task.pid", os.getpid())):
        tmp = folder / f"{name}.tmp"
        tmp.write_text(str(pid))
        tmp.replace(folder / name)
    time.sleep(60)


@pipeline
def engine_timeout(pid_dir: str):
    stubborn(pid_dir=pid_dir)
