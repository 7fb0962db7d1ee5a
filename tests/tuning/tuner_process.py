"""Driving ``headwater tune`` as a separate process, as the kill-and-resume tests do: its
command line, its environment, and waiting until a study has finished some trials."""

from __future__ import annotations

import os
import sys
import time

from headwater.engine import Workspace
from headwater.errors import NotFound
from headwater.tuning import TrialState


def tuner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "400"})
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from headwater.cli import run; run()", *args]


def wait_for_trials(ws: Workspace, name: str, complete: int, timeout: float = 120) -> None:
    """Until ``complete`` trials have ended and the next one's run is under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = ws.store.studies.trials(ws.store.studies.get_study(name).id)
        except NotFound:
            trials = []
        ended = [t for t in trials if t.state == TrialState.COMPLETE]
        running = [t for t in trials if t.state == TrialState.RUNNING and t.run_id]
        if len(ended) >= complete and running:
            return
        time.sleep(0.05)
    raise AssertionError(f"study {name} did not get {complete} trials done in {timeout}s")
