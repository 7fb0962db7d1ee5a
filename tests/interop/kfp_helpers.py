"""Helpers the Kubeflow interop tests share: the kfp peer, running a pipeline file with the
``headwater`` command, and reading every task's outputs as the kfp peer writes kfp.local's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from headwater.engine import Workspace
from headwater.engine._api import Run
from headwater.states import TaskStatus

PEER = Path(__file__).resolve().parents[1] / "peers" / "kfp_peer.py"
NAMES = [
    "params",
    "artifacts",
    "branches",
    "branches-low",
    "loops",
    "exit-ok",
    "exit-fail",
    "nested",
    "options",
    "containers",
]


def headwater_run(
    yaml_path: Path, args: dict[str, Any], home: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], str | None]:
    params = [
        a
        for k, v in args.items()
        for a in ("-p", f"{k}={v if isinstance(v, str) else json.dumps(v)}")
    ]
    env = {**os.environ, "HEADWATER_HOME": str(home), "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from headwater.cli import run; run()",
            "run",
            str(yaml_path),
            *params,
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    found = re.search(r"run (\w{26}) of", done.stdout + done.stderr)
    return done, found.group(1) if found else None


def kfp_path(path: str) -> str:
    """A Headwater task path as kfp.local names it: a nested pipeline's tasks are named
    without the pipeline task's name (loop iterations keep theirs)."""
    parts = path.split(".")
    return ".".join([p for p in parts[:-1] if "[" in p] + parts[-1:])


def task_outputs(home: Path, run_id: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every succeeded task's outputs, as the kfp peer writes kfp.local's."""
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    ws = Workspace.open()
    try:
        run = Run(ws, run_id)
        found: dict[str, Any] = {}
        tasks = run.tasks
        for path, record in tasks.items():
            if record.status is not TaskStatus.SUCCEEDED or record.component == "importer":
                continue
            if any(other.startswith(path + ".") for other in tasks):
                continue  # a pipeline used as a step: its tasks are compared one by one
            values: dict[str, Any] = {}
            for name, value in run.outputs(path).items():
                if hasattr(value, "metadata"):
                    with value.open("rb") as fh:
                        content = fh.read().decode("utf-8", "replace")
                    values[name] = {
                        "metadata": value.metadata,
                        "content": content,
                        "type": value.record.type,
                    }
                else:
                    values[name] = value
            found[kfp_path(path)] = values
        return found
    finally:
        ws.close()
