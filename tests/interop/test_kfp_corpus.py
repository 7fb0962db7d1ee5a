"""Kubeflow pipelines compiled by the real kfp SDK run under ``headwater run`` with the
same outputs as ``kfp.local`` gives them, side by side.

The corpus (tests/interop/kfp/corpus.py) is compiled and run by ``kfp.local`` in the kfp
peer environment, once per session; each test runs one compiled pipeline through the
``headwater`` command and compares every task's outputs: parameter values, and each
artifact's metadata and content.
"""

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


@pytest.fixture(scope="session")
def corpus(kfp_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kfp-corpus")
    (out / "imported.txt").write_text("imported text\n", encoding="utf-8")
    done = subprocess.run(
        [str(kfp_python), str(PEER), "compile", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listing = json.loads(done.stdout)
    assert sorted(listing) == sorted(NAMES)
    local = [n for n, v in listing.items() if v["local"]]
    ran = subprocess.run(
        [str(kfp_python), str(PEER), "run", str(out), *local], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return out, listing


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


@pytest.mark.parametrize("name", [n for n in NAMES if n != "containers"])
def test_outputs_match_kfp_local(
    corpus: tuple[Path, dict], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, listing = corpus
    args = {
        k: v.format(data=out) if isinstance(v, str) else v for k, v in listing[name]["args"].items()
    }
    done, run_id = headwater_run(out / f"{name}.yaml", args, tmp_path / "home")
    assert run_id, done.stdout + done.stderr
    assert (done.returncode == 0) is listing[name]["succeeds"], done.stdout + done.stderr
    theirs = json.loads((out / f"{name}.local.json").read_text(encoding="utf-8"))
    ours = task_outputs(tmp_path / "home", run_id, monkeypatch)
    assert theirs, "kfp.local ran no task"
    assert sorted(ours) == sorted(theirs)
    for path, values in theirs.items():
        for key, value in values.items():
            mine = ours[path].get(key)
            if isinstance(value, dict) and set(value) == {"file"}:
                text = value["file"]
                assert mine == (text if isinstance(mine, str) else json.loads(text)), (path, key)
            elif isinstance(value, dict) and set(value) == {"metadata", "content"}:
                assert isinstance(mine, dict), (path, key, mine)
                assert mine["metadata"] == value["metadata"], (path, key)
                if value["content"] is not None:
                    assert mine["content"] == value["content"], (path, key)
            else:
                assert mine == value, (path, key)
                assert type(mine) is type(value) or isinstance(value, int | float), (path, key)
        assert set(ours[path]) == set(values), path
