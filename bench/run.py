"""``make bench``: run every benchmark and print its figures beside its targets.

``bench/run.py authoring engine envs scheduler sensors experiments ray kfp tuning serving`` runs
only the sections named.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_authoring
import bench_engine
import bench_envs
import bench_experiments
import bench_kfp
import bench_ray
import bench_scheduler
import bench_sensors
import bench_serving
import bench_tuning
from _table import Row, show


def _handoff(engine_rows: list[Row] | None) -> Row:
    """The scheduler issue's hand-off target, measured by the engine section (the same
    engine drives runs under ``headwater run`` and in a scheduler), shown here too."""
    for row in engine_rows or []:
        if row.workload.startswith("hand-off"):
            return dataclasses.replace(
                row, note=f"same figure as in the engine table above; {row.note}"
            )
    return Row(
        "hand-off: upstream recorded finished -> downstream started",
        "-",
        "<= 50 ms",
        "-",
        "measured by the engine section: run 'bench/run.py engine'",
    )


def main() -> None:
    only = sys.argv[1:]
    engine_rows = None
    if not only or "authoring" in only:
        show("Authoring: import and compile", bench_authoring.run())
    if not only or "engine" in only:
        engine_rows = bench_engine.run()
        show("Running pipelines on one machine (median of 3 after a warm-up)", engine_rows)
    if not only or "envs" in only:
        show("Per-step environments (median of 3 after a warm-up)", bench_envs.run())
    if not only or "scheduler" in only:
        rows = bench_scheduler.run()
        rows.append(_handoff(engine_rows))
        show("Scheduler and server (scheduler issue)", rows)
    if not only or "sensors" in only:
        show("Sensors: 1,000 deferred waits in one run", bench_sensors.run())
    if not only or "experiments" in only:
        show("Experiments: comparing runs", bench_experiments.run())
    if not only or "kfp" in only:
        show("Kubeflow pipelines: headwater run vs kfp.local (same run)", bench_kfp.run())
    if not only or "tuning" in only:
        show(
            "Hyperparameter tuning: headwater.tune vs a plain Optuna loop (same run)",
            bench_tuning.run(),
        )
    if not only or "serving" in only:
        show(
            "Serving: headwater serve vs MLServer, Open Inference Protocol V2 (same run)",
            bench_serving.run(),
        )
    if not only or "ray" in only:
        show("Ray executor, two-node Ray cluster on this machine (median of 3)", bench_ray.run())


if __name__ == "__main__":
    main()
