"""The kfp SDK these tests compare against lives in its own virtual environment
(``make peers`` builds ``.venvs/kfp``); tests run it as a separate Python.

Without it the tests are skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
