"""Tuning benchmark (issue 14): 100 trials of a one-task pipeline whose objective takes
10 ms, 2 in parallel, with ``headwater.tune``, beside the same 100 trials as a plain
Optuna loop in one process, measured in the same run.

Both run in one fresh interpreter on a fresh, already migrated Headwater home, after
Optuna is imported (both pay for that equally). The Headwater figure covers everything
``headwater.tune`` does: compiling the pipeline, recording the study, warming a task
worker per driver thread, and 100 runs, each recorded with its task, metrics and lineage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _table import Row

TRIALS = 100
PARALLEL = 2
TARGET_SECONDS = 5.0

PIPELINE = """
from headwater import Metrics, Output, component, pipeline


@component
def objective(x: float, y: float, metrics: Output[Metrics]) -> None:
    import time

    time.sleep(0.01)
    metrics.log_metric("score", -((x - 0.3) ** 2) - (y - 0.7) ** 2)


@pipeline
def one_task(x: float = 0.0, y: float = 0.0) -> None:
    objective(x=x, y=y)
"""

MEASURE = """
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import optuna
from headwater.engine import Workspace
Workspace.open().close()  # a home that exists and is migrated, as after first use
import tune_bench_flow as flow
import headwater

optuna.logging.set_verbosity(optuna.logging.WARNING)
space = {"x": {"type": "float", "low": 0.0, "high": 1.0},
         "y": {"type": "float", "low": 0.0, "high": 1.0}}
t = time.perf_counter()
cpu = time.process_time()
result = headwater.tune(flow.one_task, space=space, objective="objective.score",
                        trials=TRIALS, parallel=PARALLEL, seed=1)
hw = time.perf_counter() - t
hw_cpu = time.process_time() - cpu
children = resource.getrusage(resource.RUSAGE_CHILDREN)
task_cpu = children.ru_utime + children.ru_stime
complete = result.count("complete")

def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    time.sleep(0.01)
    return -((x - 0.3) ** 2) - (y - 0.7) ** 2

for jobs in (1, PARALLEL):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    t = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS, n_jobs=jobs)
    if jobs == 1:
        plain = time.perf_counter() - t
    else:
        plain_jobs = time.perf_counter() - t
print(json.dumps({"headwater": hw, "complete": complete, "best": result.best_value,
                  "cpu": hw_cpu, "task_cpu": task_cpu, "load": os.getloadavg()[0],
                  "plain": plain, "plain_jobs": plain_jobs, "plain_best": study.best_value}))
""".replace("TRIALS", str(TRIALS)).replace("PARALLEL", str(PARALLEL))


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hw-bench-tune-") as tmp:
        folder = Path(tmp)
        (folder / "tune_bench_flow.py").write_text(PIPELINE)
        env = {**os.environ, "HEADWATER_HOME": str(folder / "home")}
        env.pop("HEADWATER_DATABASE_URL", None)
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, str(folder)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=folder,
        ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def run() -> list[Row]:
    m = measure()
    per_trial = m["headwater"] / TRIALS * 1000
    return [
        Row(
            f"{TRIALS} trials, one-task pipeline, 10 ms objective, {PARALLEL} in parallel "
            "(headwater.tune)",
            f"{m['headwater']:.2f} s",
            f"<= {TARGET_SECONDS:g} s",
            "yes" if m["headwater"] <= TARGET_SECONDS and m["complete"] == TRIALS else "NO",
            f"{per_trial:.0f} ms a trial, each a recorded run; {int(m['complete'])} complete, "
            f"best {m['best']:.4f}; CPU: tuner {m['cpu']:.2f} s, task processes "
            f"{m['task_cpu']:.2f} s, on {os.cpu_count()} cores (load average {m['load']:.1f})",
        ),
        Row(
            f"the same {TRIALS} trials as a plain Optuna loop in one process (same run)",
            f"{m['plain']:.2f} s",
            "-",
            "-",
            f"n_jobs={PARALLEL}: {m['plain_jobs']:.2f} s; no runs, cache, lineage or resume; "
            f"best {m['plain_best']:.4f}",
        ),
    ]


if __name__ == "__main__":
    from _table import show

    show("Hyperparameter tuning (issue 14)", run())
