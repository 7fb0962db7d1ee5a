"""Per-step environments: the per-task overhead of a step with ``packages=`` (its
environment already built), and the first build of an environment with numpy, pandas
and scikit-learn with uv's cache warm, beside ``pip install`` of the same set into a
fresh virtual environment, measured in the same run."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _table import Row
from bench_engine import CLI, _env, _verdict, median

HERE = Path(__file__).resolve().parent
ML_SET = ["numpy", "pandas", "scikit-learn"]


def _overhead(home: str) -> list[Row]:
    chain = str(HERE / "pipelines" / "chain.py")
    chain_env = str(HERE / "pipelines" / "chain_env.py")
    # The warm-up run of median() builds the environment; the measured runs reuse it.
    e1 = median([CLI, "run", chain_env, "--no-cache"], _env(home, BENCH_CHAIN_N="1"))
    e100 = median([CLI, "run", chain_env, "--no-cache"], _env(home, BENCH_CHAIN_N="100"))
    p1 = median([CLI, "run", chain, "--no-cache"], _env(home, BENCH_CHAIN_N="1"))
    p100 = median([CLI, "run", chain, "--no-cache"], _env(home, BENCH_CHAIN_N="100"))
    in_env = (e100.seconds - e1.seconds) / 99
    plain = (p100.seconds - p1.seconds) / 99
    return [
        Row(
            "per-task overhead, step with packages= (environment built): "
            "(chain-100 - chain-1) / 99",
            f"{in_env * 1000:.1f} ms",
            "<= 8 ms",
            _verdict(in_env <= 0.008),
            f"same chain without packages= {plain * 1000:.1f} ms; chain-1 in an environment "
            f"{e1.seconds:.2f} s, without {p1.seconds:.2f} s",
        )
    ]


def _build_seconds(envs_dir: str, lock: object) -> float:
    """Build ``lock`` in an empty environments folder, in a process of its own."""
    code = (
        "import sys, time; from headwater import envs\n"
        "lock = envs.Lock.from_json(sys.stdin.read())\n"
        "t = time.perf_counter(); envs.build(lock); print(time.perf_counter() - t)"
    )
    env = dict(os.environ, HEADWATER_ENVS_DIR=envs_dir)
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=lock.to_json(),  # type: ignore[attr-defined]
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _pip_seconds(work: Path, requirements: Path) -> float:
    """A fresh virtual environment and ``pip install -r`` of the same pinned set."""
    target = work / f"pip-venv-{time.monotonic_ns()}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    subprocess.run(
        [str(target / "bin" / "pip"), "install", "-q", "-r", str(requirements)],
        check=True,
        capture_output=True,
    )
    took = time.perf_counter() - start
    shutil.rmtree(target, ignore_errors=True)
    return took


def _first_build() -> list[Row]:
    from headwater import envs

    work = Path(tempfile.mkdtemp(prefix="hw-bench-envs-"))
    try:
        t = time.perf_counter()
        lock = envs.resolve(ML_SET)
        resolve_s = time.perf_counter() - t
        requirements = work / "requirements.txt"
        requirements.write_text("\n".join(lock.pinned) + "\n")
        _build_seconds(str(work / "warm"), lock)  # fills uv's cache
        builds = [_build_seconds(str(work / f"b{i}"), lock) for i in range(3)]
        _pip_seconds(work, requirements)  # fills pip's cache
        pip = _pip_seconds(work, requirements)
        build = statistics.median(builds)
        return [
            Row(
                "first build of an environment: numpy, pandas, scikit-learn (uv cache warm)",
                f"{build:.2f} s",
                "<= 5 s",
                _verdict(build <= 5.0),
                f"pip install of the same {len(lock.pinned)} pins into a fresh venv "
                f"(pip cache warm) {pip:.1f} s ({pip / build:.0f}x); resolution "
                f"{resolve_s:.2f} s (cached afterwards)",
            )
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run() -> list[Row]:
    home = tempfile.mkdtemp(prefix="hw-bench-")
    old = os.environ.get("HEADWATER_ENVS_DIR")
    os.environ["HEADWATER_ENVS_DIR"] = os.path.join(home, "envs")
    try:
        return _overhead(home) + _first_build()
    finally:
        if old is None:
            os.environ.pop("HEADWATER_ENVS_DIR", None)
        else:
            os.environ["HEADWATER_ENVS_DIR"] = old
        shutil.rmtree(home, ignore_errors=True)
