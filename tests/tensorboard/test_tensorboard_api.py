"""The names ``headwater.tensorboard`` exports are pinned; importing it needs no
TensorBoard (only writing event files does)."""

from __future__ import annotations

import subprocess
import sys

import headwater.tensorboard

EXPORTS = {
    "EVENT_FILE",
    "RunExport",
    "Scalar",
    "TaskLogs",
    "TensorBoard",
    "check_logdir",
    "check_port",
    "plan_export",
    "require_tensorboard",
    "scalars",
    "scratch_folder",
    "select_runs",
    "write_export",
}


def test_tensorboard_package_exports() -> None:
    assert set(headwater.tensorboard.__all__) == EXPORTS
    assert all(hasattr(headwater.tensorboard, name) for name in EXPORTS)


def test_the_package_and_the_artifact_type_import_without_tensorboard() -> None:
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "import headwater.tensorboard\n"
        "from headwater import TensorBoardLogs\n"
        "assert TensorBoardLogs.schema_title == 'headwater.TensorBoardLogs'\n"
        "try:\n"
        "    headwater.tensorboard.require_tensorboard()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc.hint)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "ConfigurationError install it with: pip install 'headwater[tensorboard]'"
    )
