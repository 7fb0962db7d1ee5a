"""The run state machine: what may run next, caching, retries, timeouts, trigger rules,
control flow; and the entry points that start and resume runs."""

from headwater.engine._api import (
    OpenedArtifact,
    Run,
    Workspace,
    create_run,
    execute_run,
    render_for_run,
    resume_run,
    run_pipeline,
    run_version,
)
from headwater.engine._deploy import collect_sources, deploy, materialize
from headwater.engine._engine import Engine
from headwater.engine._triggers import Decision, decide
from headwater.errors import RunError

__all__ = [
    "Decision",
    "Engine",
    "OpenedArtifact",
    "Run",
    "RunError",
    "Workspace",
    "collect_sources",
    "create_run",
    "decide",
    "deploy",
    "execute_run",
    "materialize",
    "render_for_run",
    "resume_run",
    "run_pipeline",
    "run_version",
]
