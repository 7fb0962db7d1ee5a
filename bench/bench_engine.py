"""Running pipelines: whole ``headwater run`` processes against plain-Python baselines.

The rows are the workloads of the performance issue's target table, each measured in
this run beside the figure it is compared to (a plain script, a fresh interpreter per
task, the same pipeline in a file without ML components). The targets were set on a
faster machine; the first row measures how fast this one is right now (at the start
and again at the end), and the absolute figures carry, in their note, what they come
to at the targets' speed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _table import Row

HERE = Path(__file__).resolve().parent
PIPELINES = HERE / "pipelines"
CLI = str(Path(sys.executable).with_name("headwater"))
RUNS = 3

# Measured on the machine the targets were set on (the performance issue): the
# cumulative import time of sqlalchemy under ``-X importtime``, and the plain chain-1
# script's whole process (interpreter start-up and nothing else).
REFERENCE_SQLALCHEMY_S = 0.131
REFERENCE_PLAIN_CHAIN1_S = 0.016

# The workloads, as a ``headwater run`` target and the environment it runs with.
# ``compare.py`` runs the same ones.
WORKLOADS: dict[str, tuple[str, dict[str, str]]] = {
    "chain-1": ("chain.py", {"BENCH_CHAIN_N": "1"}),
    "chain-100": ("chain.py", {"BENCH_CHAIN_N": "100"}),
    "chain-1 fresh": ("chain.py", {"BENCH_CHAIN_N": "1", "BENCH_FRESH": "1"}),
    "chain-100 fresh": ("chain.py", {"BENCH_CHAIN_N": "100", "BENCH_FRESH": "1"}),
    "fanout-200": ("fanout.py", {}),
    "chain-1 beside ML": ("ml_mixed.py:chain_beside_ml", {"BENCH_CHAIN_N": "1"}),
    "chain-100 beside ML": ("ml_mixed.py:chain_beside_ml", {"BENCH_CHAIN_N": "100"}),
    "fanout-200 beside ML": ("ml_mixed.py:fanout_beside_ml", {}),
    "ml-3step": ("ml3.py", {}),
    "ml-3step helpers": ("ml3_helpers.py", {}),
}


@dataclass
class Measure:
    seconds: float
    rss_mib: float  # peak resident set of the headwater process itself
    children: int = 0  # distinct child processes seen while it ran
    worker_rss_mib: float = 0.0  # peak resident set of its warm worker; 0 if none was seen


@dataclass
class _Seen:
    rss_kib: int = 0
    children: set[int] = field(default_factory=set)
    workers: set[int] = field(default_factory=set)
    worker_kib: int = 0


def _hwm_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of ``pid``; None once it is a zombie (no memory left)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"headwater.runtime._zygote" in f.read()
    except OSError:
        return False


def _watch(pid: int, stop: threading.Event, seen: _Seen) -> None:
    """Follow ``pid`` until it exits: its peak resident set, every child process it starts
    (``/proc/PID/task/*/children``: a child belongs to the thread that started it), and
    the peak resident set of the children that are a warm worker."""
    task_dir = f"/proc/{pid}/task"
    while not stop.is_set():
        try:
            rss = _hwm_kib(pid)
            threads = os.listdir(task_dir)
        except OSError:
            return  # exited and reaped
        if rss is not None:
            seen.rss_kib = max(seen.rss_kib, rss)
        for tid in threads:
            try:
                with open(f"{task_dir}/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue  # the thread ended
            seen.children.update(kids)
            # Checked again while a child lives: between fork and exec it still
            # carries the parent's command line.
            seen.workers.update(k for k in kids if k not in seen.workers and _is_worker(k))
        for worker in seen.workers:
            with contextlib.suppress(OSError):
                seen.worker_kib = max(seen.worker_kib, _hwm_kib(worker) or 0)
        time.sleep(0.002)


def timed(args: list[str], env: dict[str, str]) -> Measure:
    stop = threading.Event()
    seen = _Seen()
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = threading.Thread(target=_watch, args=(proc.pid, stop, seen), daemon=True)
    watcher.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return Measure(elapsed, seen.rss_kib / 1024, len(seen.children), seen.worker_kib / 1024)


def median(args: list[str], env: dict[str, str], runs: int = RUNS) -> Measure:
    """Medians of ``runs`` runs after a warm-up; ``children`` is the most seen in any run."""
    timed(args, env)  # warm-up
    results = [timed(args, env) for _ in range(runs)]
    return Measure(
        statistics.median(r.seconds for r in results),
        statistics.median(r.rss_mib for r in results),
        max(r.children for r in results),
        statistics.median(r.worker_rss_mib for r in results),
    )


def _env(home: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HEADWATER_DATABASE_URL", None)
    env.pop("HEADWATER_ARTIFACT_ROOT", None)
    env.pop("BENCH_FRESH", None)
    env.pop("BENCH_CHAIN_N", None)
    env["HEADWATER_HOME"] = home
    env.update(extra)
    return env


def command(name: str, *, cache: bool = False) -> list[str]:
    """The ``headwater run`` command of workload ``name`` (``--no-cache`` unless ``cache``)."""
    target = WORKLOADS[name][0]
    return [CLI, "run", str(PIPELINES / target), *([] if cache else ["--no-cache"])]


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def _sqlalchemy_import_seconds(env: dict[str, str]) -> float:
    """Cumulative import time of sqlalchemy under ``-X importtime``, as the issue measured."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sqlalchemy"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "sqlalchemy":
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no sqlalchemy line in -X importtime's output:\n{err[-2000:]}")


@dataclass
class _Calibration:
    py_pass: float  # whole 'python -c pass' process, seconds
    py_sqlalchemy: float  # whole 'python -c "import sqlalchemy"' process, seconds
    sqlalchemy: float  # sqlalchemy's cumulative import time under -X importtime, seconds


def _calibrate(env: dict[str, str]) -> _Calibration:
    py_pass = median([sys.executable, "-c", "pass"], env).seconds
    py_sqlalchemy = median([sys.executable, "-c", "import sqlalchemy"], env).seconds
    _sqlalchemy_import_seconds(env)  # warm-up
    sqla = statistics.median(_sqlalchemy_import_seconds(env) for _ in range(RUNS))
    return _Calibration(py_pass, py_sqlalchemy, sqla)


class _Speed:
    """How much slower this machine is now than when the targets were set."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def note(self, seconds: float, target: float, unit: str = "s") -> str:
        scaled = seconds / self.factor
        shown = f"{scaled * 1000:.2f} ms" if unit == "ms" else f"{scaled:.3f} s"
        return f"at the targets' speed ~{shown} ({_verdict(scaled <= target)})"


def run() -> list[Row]:
    """Measure every workload (the calibration first and again last, as a shared
    machine's load drifts), then make the rows."""
    home = tempfile.mkdtemp(prefix="hw-bench-")
    base = [sys.executable, str(HERE / "baselines.py")]
    env = _env(home)
    m: dict[str, Measure] = {}

    def hw(name: str, cache: bool = False) -> Measure:
        return median(command(name, cache=cache), _env(home, **WORKLOADS[name][1]))

    try:
        before = _calibrate(env)
        m["plain chain-1"] = median([*base, "chain", "1"], env)
        m["plain chain-100"] = median([*base, "chain", "100"], env)
        m["chain-1"] = hw("chain-1")
        m["chain-100"] = hw("chain-100")
        handoff = _handoff_ms(home)  # of the chain-100 run just made: before any other
        for name in ("chain-1 fresh", "chain-100 fresh", "fanout-200"):
            m[name] = hw(name)
        m["plain fanout-200"] = median([*base, "fanout", "200"], env)
        for name in ("chain-1 beside ML", "chain-100 beside ML", "fanout-200 beside ML"):
            m[name] = hw(name)
        m["ml-3step"] = hw("ml-3step")
        m["ml-3step helpers"] = hw("ml-3step helpers")
        m["plain ml-3step"] = median([*base, "ml3"], env)
        m["ml-3step cached"] = hw("ml-3step", cache=True)
        processes = _task_processes_of_last_run(home)
        after = _calibrate(env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return _rows(m, before, after, handoff, processes)


def _rows(
    m: dict[str, Measure],
    before: _Calibration,
    after: _Calibration,
    handoff: float,
    processes: int,
) -> list[Row]:
    speed = _Speed((before.sqlalchemy + after.sqlalchemy) / 2 / REFERENCE_SQLALCHEMY_S)
    plain1 = m["plain chain-1"].seconds
    rows = [
        Row(
            "calibration: 'python -c pass' / 'python -c \"import sqlalchemy\"' "
            "(at the start; at the end)",
            f"{before.py_pass * 1000:.0f} / {before.py_sqlalchemy * 1000:.0f} ms; "
            f"{after.py_pass * 1000:.0f} / {after.py_sqlalchemy * 1000:.0f} ms",
            "-",
            "-",
            f"sqlalchemy's import (-X importtime) {before.sqlalchemy * 1000:.0f} ms at the "
            f"start, {after.sqlalchemy * 1000:.0f} ms at the end, "
            f"{REFERENCE_SQLALCHEMY_S * 1000:.0f} ms when the targets were set: this machine "
            f"is {speed.factor:.1f}x slower now, and 'at the targets' speed' below divides by "
            f"that (the plain chain-1 script: {plain1 * 1000:.0f} ms, then "
            f"{REFERENCE_PLAIN_CHAIN1_S * 1000:.0f} ms: {plain1 / REFERENCE_PLAIN_CHAIN1_S:.1f}x)",
        )
    ]

    def per_task(one: str, hundred: str) -> float:
        return (m[hundred].seconds - m[one].seconds) / 99

    chain1, chain100, fan = m["chain-1"], m["chain-100"], m["fanout-200"]
    task = per_task("chain-1", "chain-100")
    fresh = per_task("chain-1 fresh", "chain-100 fresh")
    plain = per_task("plain chain-1", "plain chain-100")
    ratio = task / fresh
    rows.append(
        Row(
            "per-task overhead, process-isolated: (chain-100 - chain-1) / 99",
            f"{task * 1000:.2f} ms ({ratio:.2f}x fresh)",
            "<= 2 ms and <= 0.25 x a fresh interpreter per task",
            _verdict(task <= 0.002 and ratio <= 0.25),
            f"a fresh interpreter per task: {fresh * 1000:.2f} ms -> {ratio:.2f}x; plain "
            f"calls: {plain * 1e6:.1f} us per call; {speed.note(task, 0.002, 'ms')}",
        )
    )
    rows.append(
        Row(
            "  same chains, a fresh interpreter per task (fresh_interpreter=True)",
            f"{fresh * 1000:.2f} ms",
            "-",
            "-",
            f"chain-1 {m['chain-1 fresh'].seconds:.3f} s, "
            f"chain-100 {m['chain-100 fresh'].seconds:.3f} s",
        )
    )
    rows.append(
        Row(
            "chain-1, whole 'headwater run' process",
            f"{chain1.seconds:.3f} s",
            "<= 0.3 s",
            _verdict(chain1.seconds <= 0.3),
            f"plain script {plain1:.3f} s ({chain1.seconds / plain1:.1f}x); "
            f"{speed.note(chain1.seconds, 0.3)}",
        )
    )
    plain100 = m["plain chain-100"]
    rows.append(
        Row(
            "chain-100, whole process",
            f"{chain100.seconds:.3f} s",
            "-",
            "-",
            f"plain script {plain100.seconds:.3f} s ({chain100.seconds / plain100.seconds:.1f}x)",
        )
    )
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
            "engine peak RSS, chain-100 (the headwater process only)",
            f"{chain100.rss_mib:.0f} MiB",
            "<= 60 MiB",
            _verdict(chain100.rss_mib <= 60),
            f"its warm worker: {_mib(chain100.worker_rss_mib)}; "
            f"plain script {plain100.rss_mib:.0f} MiB",
        )
    )
    rows.append(
        Row(
            "fanout-200 (1 source, 200 parallel tasks, 1 sink), whole process",
            f"{fan.seconds:.3f} s",
            "<= 0.6 s",
            _verdict(fan.seconds <= 0.6),
            f"plain script {m['plain fanout-200'].seconds:.3f} s; peak RSS "
            f"{fan.rss_mib:.0f} MiB; {speed.note(fan.seconds, 0.6)}",
        )
    )

    # The no-op pipelines again, defined in a file that also holds an ML pipeline.
    m_chain100, m_fan = m["chain-100 beside ML"], m["fanout-200 beside ML"]
    m_task = per_task("chain-1 beside ML", "chain-100 beside ML")
    rows.append(
        Row(
            "per-task overhead, chain in a file with an ML pipeline (ml_mixed.py:chain_beside_ml)",
            f"{m_task * 1000:.2f} ms",
            "<= 2 ms",
            _verdict(m_task <= 0.002),
            f"light file {task * 1000:.2f} ms; warm worker peak "
            f"{_mib(m_chain100.worker_rss_mib)} (light file "
            f"{_mib(chain100.worker_rss_mib)}); chain-1 "
            f"{m['chain-1 beside ML'].seconds:.3f} s, chain-100 {m_chain100.seconds:.3f} s; "
            f"{speed.note(m_task, 0.002, 'ms')}",
        )
    )
    rows.append(
        Row(
            "fanout-200 in a file with an ML pipeline (ml_mixed.py:fanout_beside_ml)",
            f"{m_fan.seconds:.3f} s",
            "<= 0.6 s",
            _verdict(m_fan.seconds <= 0.6),
            f"light file {fan.seconds:.3f} s; warm worker peak "
            f"{_mib(m_fan.worker_rss_mib)} (light file {_mib(fan.worker_rss_mib)}); "
            f"{speed.note(m_fan.seconds, 0.6)}",
        )
    )

    plain_ml = m["plain ml-3step"].seconds
    helpers, body = m["ml-3step helpers"].seconds, m["ml-3step"].seconds
    rows.append(
        Row(
            "ml-3step, ML code in a helper module imported inside its functions "
            "(200,000 x 20 parquet -> LogisticRegression -> accuracy)",
            f"{helpers:.2f} s ({helpers / plain_ml:.2f}x)",
            "<= 1.1 x plain script",
            _verdict(helpers / plain_ml <= 1.1),
            f"plain script {plain_ml:.2f} s -> {helpers / plain_ml:.2f}x",
        )
    )
    rows.append(
        Row(
            "  ml-3step, imports in the component bodies",
            f"{body:.2f} s ({body / plain_ml:.2f}x)",
            "-",
            "-",
            f"plain script {plain_ml:.2f} s -> {body / plain_ml:.2f}x",
        )
    )
    cached = m["ml-3step cached"]
    rows.append(
        Row(
            "ml-3step cached rerun, whole process",
            f"{cached.seconds:.3f} s",
            "<= 0.3 s, no task process, no worker",
            _verdict(cached.seconds <= 0.3 and processes == 0 and cached.children == 0),
            f"task processes: {processes}, child processes seen: {cached.children}; "
            f"peak RSS {cached.rss_mib:.0f} MiB; {speed.note(cached.seconds, 0.3)}",
        )
    )
    return rows


def _mib(value: float) -> str:
    return f"{value:.0f} MiB" if value else "none seen"


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
