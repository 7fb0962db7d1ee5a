"""Kubeflow interop: the kfp corpus (tests/interop/kfp/corpus.py, compiled by the kfp SDK)
run by ``headwater run pipeline.yaml`` beside ``kfp.local``'s subprocess runner, in the
same run, pipeline by pipeline.

kfp.local's time is that of the pipeline call alone, inside an interpreter that has
already imported kfp (the better of two runs). Headwater's is the whole ``headwater run``
process, interpreter start-up included (median of 3 after a warm-up, --no-cache, so
every task runs each time).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _table import Row
from bench_engine import CLI, _env, _verdict

REPO = Path(__file__).resolve().parents[1]
PEER = REPO / "tests" / "peers" / "kfp_peer.py"
KFP_PYTHON = Path(os.environ.get("HEADWATER_KFP_PYTHON") or REPO / ".venvs/kfp/bin/python")


def _headwater_seconds(yaml_path: Path, args: dict, home: str) -> float:
    params = [a for k, v in args.items() for a in ("-p", f"{k}={v}")]
    command = [CLI, "run", str(yaml_path), "--no-cache", *params]
    env = _env(home)

    def once() -> float:
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=False)
        return time.perf_counter() - started

    once()  # warm-up: builds a per-step environment where a task asks for packages
    return statistics.median(once() for _ in range(3))


def run() -> list[Row]:
    if not KFP_PYTHON.exists():
        return [Row("kfp corpus", "-", "faster than kfp.local", "-", "no kfp peer: make peers")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hw-bench-kfp-") as tmp:
        out = Path(tmp)
        (out / "imported.txt").write_text("imported text\n", encoding="utf-8")
        listing = json.loads(
            subprocess.run(
                [str(KFP_PYTHON), str(PEER), "compile", str(out)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        names = [n for n, v in listing.items() if v.get("local")]
        theirs: dict[str, float] = {}
        for _ in range(2):
            timings = json.loads(
                subprocess.run(
                    [str(KFP_PYTHON), str(PEER), "run", str(out), *names],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            for name, seconds in timings.items():
                theirs[name] = min(seconds, theirs.get(name, seconds))
        home = str(out / "home")
        ratios = []
        for name in names:
            args = {
                k: v.format(data=out) if isinstance(v, str) else json.dumps(v)
                for k, v in listing[name]["args"].items()
            }
            ours = _headwater_seconds(out / f"{name}.yaml", args, home)
            ratio = theirs[name] / ours
            ratios.append(ratio)
            rows.append(
                Row(
                    f"kfp corpus '{name}': headwater run vs kfp.local",
                    f"{ours:.2f} s",
                    "faster than kfp.local",
                    _verdict(ours < theirs[name]),
                    f"kfp.local {theirs[name]:.2f} s: Headwater {ratio:.1f}x faster",
                )
            )
        rows.append(
            Row(
                "kfp corpus: geometric mean speed-up over kfp.local",
                f"{statistics.geometric_mean(ratios):.1f}x",
                "> 1x on every pipeline",
                _verdict(all(r > 1 for r in ratios)),
                f"{len(ratios)} pipelines",
            )
        )
    return rows
