"""The run state machine: what may run next, caching, retries, timeouts, trigger rules,
control flow; and the entry points that start and resume runs.

The modules of this package, one job each:

- ``_api``: starting and resuming runs (``Workspace``, ``run_pipeline``, ``execute_run``),
  and what a finished run looks like from Python.
- ``_engine``: ``Engine``, the run loop: heartbeats, timers, dispatch to the executor,
  executor events, cancelling and finishing a run.
- ``_state``: ``RunState``, what an engine holds for one run, declared once for its parts.
- ``_flow``: control flow over the DAG: units, dependencies, trigger rules, groups
  (conditions, loops, exit handlers), nested pipelines.
- ``_attempts``: a task's attempts: restoring, importers, queuing, pool slots, success,
  failure and retries.
- ``_environments``: the per-step environments a run's tasks ask for, resolved and
  prepared before any task runs.
- ``_honour``: which task options the engine and each executor honour; a run that sets
  one that nobody honours is refused before it starts.
- ``_caching``: whether caching applies, the cache key, finding and taking a cached result.
- ``_taskfiles``: an attempt's task input, task output and log files.
- ``_notices``: queuing a run's notifications in the outbox.
- ``_units``: the run-time graph (scopes and units) and how values flow between them.
- ``_plan``: static facts about a spec: each DAG's dependencies, each task's options.
- ``_triggers``: trigger rules: what happens to a task given its upstream states.
- ``_outcomes``: how an attempt ended, from its task output, exit status and executor.
- ``_outputs``: moving a finished attempt's output artifacts into place.
- ``_importing``: importers and the URI roots of confined runs.
- ``_steps``: steps the engine drives itself beside task attempts (tune steps), through a
  driver it finds by name.
- ``_inputs``: checks on a run's parameter values (and a schedule's interval).
- ``_templates``, ``_render``, ``_template_worker``: parameter values as Jinja templates,
  rendered in a process of their own with limits.
- ``_workspace``: the stores and folders of one Headwater home.
- ``_deploy``: deploying a pipeline version with a snapshot of its source files.
- ``_bundles``, ``_compile_worker``: source bundles, deployed over the API: unpacked
  safely and compiled in a process of their own with limits.
- ``_notebook``: a run's HTML view in a notebook, and the live view while it runs.
"""

from headwater.engine._api import (
    OpenedArtifact,
    Run,
    create_run,
    execute_run,
    heartbeat_timeout,
    render_for_run,
    resume_run,
    run_pipeline,
    run_version,
)
from headwater.engine._bundles import deploy_bundle, make_bundle
from headwater.engine._deploy import collect_sources, deploy, materialize
from headwater.engine._engine import Engine
from headwater.engine._environments import EnvProgress, requirement_sets, resolve_environments
from headwater.engine._honour import ENGINE_OPTIONS, check_options, set_options
from headwater.engine._importing import check_run_uris, importer_uris, uri_policy
from headwater.engine._inputs import check_parameters, check_schedule
from headwater.engine._notebook import LiveView, live_view
from headwater.engine._plan import plan_dag
from headwater.engine._render import warm as warm_renderer
from headwater.engine._secrets import check_references
from headwater.engine._steps import StepContext, StepDriver, StepOutcome, study_name
from headwater.engine._template_worker import MACROS, Macros
from headwater.engine._triggers import Decision, decide
from headwater.engine._workspace import Workspace
from headwater.errors import RunError

__all__ = [
    "ENGINE_OPTIONS",
    "MACROS",
    "Decision",
    "Engine",
    "EnvProgress",
    "LiveView",
    "Macros",
    "OpenedArtifact",
    "Run",
    "RunError",
    "StepContext",
    "StepDriver",
    "StepOutcome",
    "Workspace",
    "check_options",
    "check_parameters",
    "check_references",
    "check_run_uris",
    "check_schedule",
    "collect_sources",
    "create_run",
    "decide",
    "deploy",
    "deploy_bundle",
    "execute_run",
    "heartbeat_timeout",
    "importer_uris",
    "live_view",
    "make_bundle",
    "materialize",
    "plan_dag",
    "render_for_run",
    "requirement_sets",
    "resolve_environments",
    "resume_run",
    "run_pipeline",
    "run_version",
    "set_options",
    "study_name",
    "uri_policy",
    "warm_renderer",
]
