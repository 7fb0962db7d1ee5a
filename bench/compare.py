"""Compare the engine workloads of this checkout with another one, side by side.

``bench/compare.py OTHER_CHECKOUT [ROUNDS [WORKLOAD ...]]`` runs the engine section's
workloads (``bench_engine.WORKLOADS``: chain-1, chain-100, fanout-200, ml-3step, ...; all
of them unless some are named) with each checkout's own ``headwater`` command
(``OTHER/.venv/bin/headwater``) on the same pipeline files (this checkout's, so that both
run exactly the same workloads; an older checkout may lack the newer ones), alternating
between the two so that whatever else the machine is doing weighs on both alike, and
prints the median of each beside the other's: wall time, and CPU time (of the
``headwater`` process and every process it waited for: the task worker and, through it,
the tasks), which a busy machine disturbs far less. A change is a regression only if it
shows beyond the spread between rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import WORKLOADS, _env, command
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
THIS = HERE.parent

# Pairs whose difference / 99 is a per-task overhead.
PER_TASK = {
    "per-task overhead: (chain-100 - chain-1) / 99": ("chain-1", "chain-100"),
    "per-task overhead, a fresh interpreter per task": ("chain-1 fresh", "chain-100 fresh"),
    "per-task overhead, chain beside an ML pipeline": ("chain-1 beside ML", "chain-100 beside ML"),
}


def _command(checkout: Path, name: str) -> list[str]:
    cli = str(checkout / ".venv" / "bin" / "headwater")
    return [cli, *command(name)[1:]]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the process and every process it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    other = Path(sys.argv[1]).resolve()
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    sides = {"this": THIS, "other": other}
    seconds: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    homes = {side: tempfile.mkdtemp(prefix=f"hw-compare-{side}-") for side in sides}
    names = sys.argv[3:] or list(WORKLOADS)
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    for side, checkout in sides.items():  # warm-up: first runs pay for caches and files
        for name in names:
            timed(_command(checkout, name), _env(homes[side], **WORKLOADS[name][1]))
    for i in range(rounds):
        for name in names:
            order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
            for side, checkout in order:
                env = _env(homes[side], **WORKLOADS[name][1])
                wall, used = timed(_command(checkout, name), env)
                seconds.setdefault((side, name), []).append(wall)
                cpu.setdefault((side, name), []).append(used)
        print(f"round {i + 1}/{rounds} done at {time.strftime('%H:%M:%S')}", file=sys.stderr)

    def med(side: str, name: str, of: dict[tuple[str, str], list[float]] = seconds) -> float:
        return statistics.median(of[(side, name)])

    def spread(side: str, name: str) -> str:
        vals = seconds[(side, name)]
        return f"{min(vals):.3f}-{max(vals):.3f}"

    table = Table(
        title=f"This checkout against {other} ({rounds} alternating rounds, medians)",
        title_justify="left",
    )
    for col in (
        "workload",
        "this",
        "other",
        "this / other",
        "CPU this / other",
        "wall spread (min-max, s)",
    ):
        table.add_column(col)
    for name in names:
        table.add_row(
            name,
            f"{med('this', name):.3f} s",
            f"{med('other', name):.3f} s",
            f"{med('this', name) / med('other', name):.2f}x",
            f"{med('this', name, cpu):.3f} / {med('other', name, cpu):.3f} s",
            f"this {spread('this', name)}, other {spread('other', name)}",
        )

    def per_task(side: str, pair: tuple[str, str], of: dict[tuple[str, str], list[float]]) -> float:
        return (med(side, pair[1], of) - med(side, pair[0], of)) / 99 * 1000

    for label, pair in PER_TASK.items():
        if pair[0] not in names or pair[1] not in names:
            continue
        this, that = per_task("this", pair, seconds), per_task("other", pair, seconds)
        table.add_row(
            label,
            f"{this:.2f} ms",
            f"{that:.2f} ms",
            f"{this / that:.2f}x",
            f"{per_task('this', pair, cpu):.2f} / {per_task('other', pair, cpu):.2f} ms",
            "",
        )
    Console(width=160).print(table)
    for home in homes.values():
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
