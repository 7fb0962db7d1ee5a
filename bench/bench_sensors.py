"""Deferred sensors: 1,000 file sensors waiting at once in one run.

A real ``headwater run`` of a pipeline whose ParallelFor makes N ``wait_for_path``
sensors (a poke every 0.5 s), each waiting for its own file. Once every sensor is
recorded ``deferred``, the engine process's resident memory and its child processes are
read, for N = 1,000 and, as the baseline, N = 1: the difference is what the waiting
costs. Then the files are created, 20 every 20 ms, and each sensor's delay is the time
from its file's creation to its success being recorded (``finished_at``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _table import Row

CLI = str(Path(sys.executable).with_name("headwater"))
SENSORS = 1000
MEMORY_TARGET_MIB = 100
FIRE_TARGET_S = 1.0

FLOW = """
from headwater import ParallelFor, pipeline, wait_for_path

@pipeline
def many_sensors(paths: list[str]):
    with ParallelFor(paths) as path:
        wait_for_path(path, poke_interval="0.5s", timeout="30m")
"""


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p:
                found.append(child)
                frontier.append(child)
    return found


def _measure(n: int, folder: Path) -> dict[str, Any]:
    """Run N sensors; memory and processes while they all wait; each one's fire delay."""
    import json

    import sqlalchemy as sa

    home = folder / f"home-{n}"
    files = folder / f"files-{n}"
    files.mkdir()
    flow = folder / "many_sensors.py"
    flow.write_text(textwrap.dedent(FLOW))
    paths = [str(files / f"part-{i:04d}") for i in range(n)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(HEADWATER_HOME=str(home), NO_COLOR="1")
    process = subprocess.Popen(
        [CLI, "run", str(flow), "-p", f"paths={json.dumps(paths)}"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    db = sa.create_engine(f"sqlite:///{home}/headwater.db")
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the run ended early: {process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with db.connect() as c:
                    waiting = c.execute(
                        sa.text("SELECT count(*) FROM task_runs WHERE status = 'deferred'")
                    ).scalar()
            except sa.exc.OperationalError:
                waiting = 0
            if waiting == n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {waiting} of {n} sensors deferred after 300 s")
            time.sleep(0.2)
        time.sleep(2.0)  # several rounds of checks while everything waits
        rss = _rss_mib(process.pid)
        children = _descendants(process.pid)
        created: dict[str, float] = {}
        for i in range(0, n, 20):
            for path in paths[i : i + 20]:
                Path(path).write_text("")
                created[path] = time.time()
            time.sleep(0.02)
        if process.wait(300) != 0:
            raise RuntimeError(f"the run failed: {process.stderr.read()!r}")  # type: ignore[union-attr]
        with db.connect() as c:
            rows = c.execute(
                sa.text("SELECT inputs, finished_at FROM task_runs WHERE status = 'succeeded'")
            ).all()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
        db.dispose()
    from datetime import UTC, datetime

    delays = []
    for inputs, finished in rows:
        url = (json.loads(inputs) if isinstance(inputs, str) else inputs)["url"]
        when = finished if isinstance(finished, datetime) else datetime.fromisoformat(finished)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delays.append(when.timestamp() - created[url])
    return {"rss": rss, "children": len(children), "delays": sorted(delays)}


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="hw-bench-sensors-") as tmp:
        folder = Path(tmp)
        one = _measure(1, folder)
        many = _measure(SENSORS, folder)
    extra = many["rss"] - one["rss"]
    delays = many["delays"]
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    worst = delays[-1]
    return [
        Row(
            f"{SENSORS:,} deferred sensors: extra memory of the engine process",
            f"{extra:.1f} MiB ({one['rss']:.0f} -> {many['rss']:.0f} MiB)",
            f"<= {MEMORY_TARGET_MIB} MiB",
            "met" if extra <= MEMORY_TARGET_MIB else "NOT met",
            "baseline: the same run with 1 sensor",
        ),
        Row(
            f"{SENSORS:,} deferred sensors: extra processes",
            f"{many['children'] - one['children']} ({many['children']} child processes)",
            "0",
            "met" if many["children"] <= one["children"] else "NOT met",
            "while every sensor waits",
        ),
        Row(
            "a sensor fires after its condition holds",
            f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {worst:.2f} s",
            f"<= {FIRE_TARGET_S:g} s",
            "met" if worst <= FIRE_TARGET_S else "NOT met",
            f"{len(delays)} files created 20 every 20 ms; poke interval 0.5 s; "
            "file created -> success recorded",
        ),
    ]


if __name__ == "__main__":
    from _table import show

    show("Sensors: deferred waits", run())
