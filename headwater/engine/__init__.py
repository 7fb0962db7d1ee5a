"""The run state machine: what may run next, caching, retries, timeouts, trigger rules,
control flow; and the entry points that start and resume runs."""

from headwater.engine._api import (
    OpenedArtifact,
    Run,
    Workspace,
    create_run,
    execute_run,
    heartbeat_timeout,
    render_for_run,
    resume_run,
    run_pipeline,
    run_version,
)
from headwater.engine._deploy import collect_sources, deploy, materialize
from headwater.engine._engine import Engine
from headwater.engine._importing import check_run_uris, importer_uris, uri_policy
from headwater.engine._inputs import check_parameters, check_schedule
from headwater.engine._plan import plan_dag
from headwater.engine._render import warm as warm_renderer
from headwater.engine._template_worker import MACROS, Macros
from headwater.engine._triggers import Decision, decide
from headwater.errors import RunError

__all__ = [
    "MACROS",
    "Decision",
    "Engine",
    "Macros",
    "OpenedArtifact",
    "Run",
    "RunError",
    "Workspace",
    "check_parameters",
    "check_run_uris",
    "check_schedule",
    "collect_sources",
    "create_run",
    "decide",
    "deploy",
    "execute_run",
    "heartbeat_timeout",
    "importer_uris",
    "materialize",
    "plan_dag",
    "render_for_run",
    "resume_run",
    "run_pipeline",
    "run_version",
    "uri_policy",
    "warm_renderer",
]
