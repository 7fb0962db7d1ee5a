"""Kubeflow pipelines compiled by the real kfp SDK run under ``headwater run`` with the
same outputs as ``kfp.local`` gives them, side by side.

The corpus (tests/interop/kfp/corpus.py) is compiled and run by ``kfp.local`` in the kfp
peer environment, once per session; each test runs one compiled pipeline through the
``headwater`` command and compares every task's outputs: parameter values, and each
artifact's metadata and content.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp_helpers import NAMES, headwater_run, task_outputs


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
