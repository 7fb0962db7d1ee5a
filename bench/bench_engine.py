"""Running pipelines: whole ``headwater run`` processes against plain-Python baselines."""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _table import Row

HERE = Path(__file__).resolve().parent
CLI = str(Path(sys.executable).with_name("headwater"))
RUNS = 3


@dataclass
class Measure:
    seconds: float
    rss_mib: float


def _peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    """Follow VmHWM (peak resident set) of ``pid`` until it exits; keep the last reading."""
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        out.append(int(line.split()[1]))
                        break
        except OSError:
            return
        time.sleep(0.002)


def timed(args: list[str], env: dict[str, str]) -> Measure:
    stop = threading.Event()
    readings: list[int] = []
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = threading.Thread(target=_peak_rss, args=(proc.pid, stop, readings), daemon=True)
    watcher.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return Measure(elapsed, (readings[-1] if readings else 0) / 1024)


def median(args: list[str], env: dict[str, str], runs: int = RUNS) -> Measure:
    timed(args, env)  # warm-up
    results = [timed(args, env) for _ in range(runs)]
    return Measure(
        statistics.median(r.seconds for r in results), statistics.median(r.rss_mib for r in results)
    )


def _env(home: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HEADWATER_DATABASE_URL", None)
    env.pop("HEADWATER_ARTIFACT_ROOT", None)
    env["HEADWATER_HOME"] = home
    env.update(extra)
    return env


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def run() -> list[Row]:
    home = tempfile.mkdtemp(prefix="hw-bench-")
    rows: list[Row] = []
    base = [sys.executable, str(HERE / "baselines.py")]
    try:
        pipelines = HERE / "pipelines"
        chain1 = median(
            [CLI, "run", str(pipelines / "chain.py"), "--no-cache"], _env(home, BENCH_CHAIN_N="1")
        )
        chain100 = median(
            [CLI, "run", str(pipelines / "chain.py"), "--no-cache"], _env(home, BENCH_CHAIN_N="100")
        )
        b_chain1 = median([*base, "chain", "1"], _env(home))
        b_chain100 = median([*base, "chain", "100"], _env(home))
        per_task = (chain100.seconds - chain1.seconds) / 99
        b_per_task = (b_chain100.seconds - b_chain1.seconds) / 99
        rows.append(
            Row(
                "per-task overhead, chain: (chain-100 - chain-1) / 99",
                f"{per_task * 1000:.2f} ms",
                "<= 5 ms",
                _verdict(per_task <= 0.005),
                f"plain calls: {b_per_task * 1e6:.1f} us per call",
            )
        )
        rows.append(
            Row(
                "chain-1, whole 'headwater run' process",
                f"{chain1.seconds:.3f} s",
                "<= 0.5 s",
                _verdict(chain1.seconds <= 0.5),
                f"plain script {b_chain1.seconds:.3f} s ({chain1.seconds / b_chain1.seconds:.1f}x)",
            )
        )
        rows.append(
            Row(
                "chain-100, whole process",
                f"{chain100.seconds:.3f} s",
                "-",
                "yes",
                f"plain script {b_chain100.seconds:.3f} s "
                f"({chain100.seconds / b_chain100.seconds:.1f}x)",
            )
        )
        handoff = _handoff_ms(home)
        rows.append(
            Row(
                "hand-off, chain-100: upstream recorded finished -> downstream started (median)",
                f"{handoff:.2f} ms",
                "<= 50 ms (scheduler issue)",
                _verdict(handoff <= 50),
                "from the store's timestamps of the newest chain-100 run",
            )
        )
        rows.append(
            Row(
                "peak RSS of the engine process, chain-100",
                f"{chain100.rss_mib:.0f} MiB",
                "<= 120 MiB",
                _verdict(chain100.rss_mib <= 120),
                f"plain script {b_chain100.rss_mib:.0f} MiB",
            )
        )
        fan = median([CLI, "run", str(pipelines / "fanout.py"), "--no-cache"], _env(home))
        b_fan = median([*base, "fanout", "200"], _env(home))
        rows.append(
            Row(
                "fanout-200 (1 source, 200 parallel tasks, 1 sink), whole process",
                f"{fan.seconds:.3f} s",
                "<= 1.0 s",
                _verdict(fan.seconds <= 1.0),
                f"plain script {b_fan.seconds:.3f} s; peak RSS {fan.rss_mib:.0f} MiB",
            )
        )
        ml = median([CLI, "run", str(pipelines / "ml3.py"), "--no-cache"], _env(home))
        b_ml = median([*base, "ml3"], _env(home))
        ratio = ml.seconds / b_ml.seconds
        rows.append(
            Row(
                "ml-3step (200,000 x 20 parquet -> LogisticRegression -> accuracy)",
                f"{ml.seconds:.2f} s",
                "<= 1.25 x plain script",
                _verdict(ratio <= 1.25),
                f"plain script {b_ml.seconds:.2f} s -> {ratio:.2f}x",
            )
        )
        cached = median([CLI, "run", str(pipelines / "ml3.py")], _env(home))
        processes = _task_processes_of_last_run(home)
        rows.append(
            Row(
                "ml-3step rerun with caching, whole process",
                f"{cached.seconds:.3f} s",
                "<= 0.5 s, no task process",
                _verdict(cached.seconds <= 0.5 and processes == 0),
                f"task processes started in the last rerun: {processes}",
            )
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return rows


def _handoff_ms(home: str) -> float:
    """Median time from a task's recorded finish to the next task's recorded start."""
    os.environ["HEADWATER_HOME"] = home
    from headwater.engine import Workspace

    ws = Workspace.open()
    try:
        last = ws.store.runs.list_runs(pipeline="chain", limit=1)[0]
        tasks = sorted(
            (t for t in ws.store.tasks.task_runs(last.id) if t.started_at and t.finished_at),
            key=lambda t: t.started_at,  # type: ignore[arg-type, return-value]
        )
        gaps = [
            (b.started_at - a.finished_at).total_seconds() * 1000  # type: ignore[operator]
            for a, b in itertools.pairwise(tasks)
        ]
        return statistics.median(gaps)
    finally:
        ws.close()


def _task_processes_of_last_run(home: str) -> int:
    """How many task attempts of the newest run started a process (had a pid)."""
    os.environ["HEADWATER_HOME"] = home
    from headwater.engine import Workspace

    ws = Workspace.open()
    try:
        last = ws.store.runs.list_runs(limit=1)[0]
        return sum(
            1
            for t in ws.store.tasks.task_runs(last.id)
            if t.pid is not None or t.status != "cached"
        )
    finally:
        ws.close()
