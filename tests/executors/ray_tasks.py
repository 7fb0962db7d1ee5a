"""Task functions the Ray executor's attempt tests run, each taking one string."""

from __future__ import annotations

import os
import time

from headwater import component


@component
def gpus(arg: str) -> str:
    """Hold the GPUs given for ``arg`` seconds; return which they were."""
    time.sleep(float(arg or 0))
    return os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
