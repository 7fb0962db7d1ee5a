"""The kfp SDK these tests compare against lives in its own virtual environment
(``make peers`` builds ``.venvs/kfp``); tests run it as a separate Python.

Without it the tests are skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from kfp_helpers import NAMES, PEER

REPO = Path(__file__).resolve().parents[2]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def kfp_python() -> Path:
    """The Python of the kfp peer environment."""
    path = Path(
        os.environ.get("HEADWATER_KFP_PYTHON") or REPO / ".venvs" / "kfp" / "bin" / "python"
    )
    if not path.exists():
        reason = f"the kfp peer environment is missing ({path}); build it with 'make peers'"
        if _in_ci():
            pytest.fail(reason + "; CI is set, so the Kubeflow interop tests must run")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def corpus(kfp_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kfp-corpus")
    (out / "imported.txt").write_text("imported text\n", encoding="utf-8")
    done = subprocess.run(
        [str(kfp_python), str(PEER), "compile", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listing = json.loads(done.stdout)
    assert sorted(n for n in listing if "/" not in n) == sorted(NAMES)
    local = [n for n, v in listing.items() if v.get("local")]
    ran = subprocess.run(
        [str(kfp_python), str(PEER), "run", str(out), *local], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return out, listing
