"""Why a task process died, as the attempt's error says it: a SIGKILL is blamed on memory
only when there is evidence of it (the kernel's out-of-memory killer ran, or the task was
close to its memory request), never by default."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import headwater
from headwater import component, pipeline
from headwater.states import RunStatus, TaskStatus

PLAIN_KILL = "the task process was killed by SIGKILL (by another process or the system)"
MEMORY_REQUEST = 256 * 2**20


@component
def killed_from_outside() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


@pipeline(cache=False)
def plain_kill() -> None:
    killed_from_outside()


def test_a_sigkill_without_memory_trouble_is_not_called_out_of_memory() -> None:
    run = headwater.run(plain_kill)
    assert run.status is RunStatus.FAILED
    task = run.tasks["killed_from_outside"]
    assert task.status is TaskStatus.FAILED
    assert task.error == PLAIN_KILL


@component(memory="256Mi")
def close_to_its_request() -> None:
    import os
    import signal
    import time

    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1]) * page
    # 94% of the 256 MiB request in all, held long enough to be measured, then the end.
    block = b"\x01" * (int(0.94 * 256 * 2**20) - resident)
    time.sleep(0.6)
    os.kill(os.getpid(), signal.SIGKILL)
    print(len(block))


@pipeline(cache=False)
def near_request() -> None:
    close_to_its_request()


def test_a_sigkill_close_to_the_memory_request_says_so() -> None:
    run = headwater.run(near_request)
    task = run.tasks["close_to_its_request"]
    assert task.status is TaskStatus.FAILED
    assert task.error is not None
    assert task.error.startswith("the task process was killed by SIGKILL (out of memory?"), (
        task.error
    )
    assert "of its 256 MiB memory request" in task.error, task.error


def _memory_cgroup_parent() -> Path | None:
    """The memory cgroup (v1) of this process, if child cgroups can be made in it."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
                if (folder / "memory.limit_in_bytes").exists() and os.access(folder, os.W_OK):
                    return folder
    return None


@pytest.fixture
def small_memory_cgroup(tmp_path: Path) -> Iterator[Path]:
    """A memory cgroup limited to 64 MiB that a task can move itself into."""
    parent = _memory_cgroup_parent()
    if parent is None:
        pytest.skip(
            "no writable cgroup-v1 memory hierarchy here, so the kernel's out-of-memory "
            "killer cannot be made to strike one task"
        )
    folder = parent / f"hw-test-{os.getpid()}-{tmp_path.name}"[:60]
    folder.mkdir()
    try:
        (folder / "memory.limit_in_bytes").write_text(str(64 * 2**20))
        yield folder
    finally:
        with contextlib.suppress(OSError):
            folder.rmdir()


@component
def oom_killed(cgroup: str) -> None:
    import os

    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    block = b"\x01" * (512 * 2**20)
    print(len(block))


@pipeline(cache=False)
def kernel_oom(cgroup: str) -> None:
    oom_killed(cgroup=cgroup)


def test_a_sigkill_from_the_kernels_oom_killer_is_called_out_of_memory(
    small_memory_cgroup: Path,
) -> None:
    run = headwater.run(kernel_oom, cgroup=str(small_memory_cgroup))
    task = run.tasks["oom_killed"]
    assert task.status is TaskStatus.FAILED
    assert task.error is not None
    assert task.error.startswith("the task process was killed by SIGKILL (out of memory?"), (
        task.error
    )
    assert "out-of-memory killer" in task.error, task.error
