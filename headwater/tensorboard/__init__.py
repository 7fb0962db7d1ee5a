"""Runs in TensorBoard: their step-wise metrics and TensorBoardLogs outputs written as a
TensorBoard log directory, and TensorBoard started on it (``headwater tensorboard``).

The modules of this package, one job each:

- ``_scalars``: which tag and step each logged metric value gets.
- ``_events``: the event file of a task's scalars, through TensorBoard's own writer (the
  one module that imports TensorBoard at import time).
- ``_export``: which runs, and their log directory: one folder per run and task.
- ``_serve``: the TensorBoard process: started, its address read, stopped.
"""

from headwater.tensorboard._export import (
    EVENT_FILE,
    RunExport,
    TaskLogs,
    check_logdir,
    plan_export,
    require_tensorboard,
    select_runs,
    write_export,
)
from headwater.tensorboard._scalars import Scalar, scalars
from headwater.tensorboard._serve import TensorBoard, check_port, scratch_folder

__all__ = [
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
]
