"""What ``headwater run`` imports before its first task starts, pinned.

Start-up is mostly imports: each module that the run path pulls in for nothing (the
scheduler for a manual run, the server's commands, Alembic on a current schema) is paid
by every ``headwater run``. The test runs the real command in a subprocess, records
``sys.modules`` at the moment the engine submits its first task, and compares it with
what is allowed here. No timing: only which modules are there.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import typer

import headwater.cli

HOW_TO_FIND = (
    ". To see who imports it: python -X importtime -c 'from headwater.cli import run; run()' "
    "run FILE 2>&1 | less (the tree is indented by importer). Move the import into the "
    "function that needs it, or under TYPE_CHECKING where it is only for a type."
)

RUN = "from headwater.cli import run; run()"

PIPELINE = """\
from headwater import component, pipeline


@component
def step(x: int) -> int:
    return x + 1


@pipeline
def tiny(start: int = 0):
    step(x=start)
"""

# Runs `headwater run ARGS` in this process after wrapping the local executor's submit,
# so that the modules loaded when the first task is handed over are written to DUMP.
# The wrapper only observes: the real submit runs.
DRIVER = textwrap.dedent(
    """\
    import json, os, sys
    from headwater.executors import LocalExecutor

    submit = LocalExecutor.submit

    def observed(self, request):
        if not os.path.exists(os.environ["DUMP"]):
            with open(os.environ["DUMP"], "w") as f:
                json.dump(sorted(sys.modules), f)
        return submit(self, request)

    LocalExecutor.submit = observed
    sys.argv = ["headwater", *sys.argv[1:]]
    from headwater.cli import run
    run()
    """
)

# Never on the path of a manual run, with why.
FORBIDDEN = {
    "alembic": "migrations run only when the schema is not current",
    "headwater.scheduler": "a manual run needs the scheduler only for parameter templates",
    "croniter": "cron is the scheduler's, and a spec check's for cron schedules",
    "headwater.server": "the API server is 'headwater server' and 'standalone'",
    "headwater.client": "the HTTP client is for --server",
    "headwater.notify": "a sender starts only once a run queues a notification",
    "headwater.envs": "per-step environments are resolved only for tasks with packages=",
    "headwater.cli._deploy": "each command's module is imported only when it runs",
    "headwater.cli._server": "each command's module is imported only when it runs",
    "headwater.cli._schedule": "each command's module is imported only when it runs",
    "headwater.cli._envs": "each command's module is imported only when it runs",
    "headwater.cli._notify": "each command's module is imported only when it runs",
    "headwater.cli._roots": "each command's module is imported only when it runs",
    "fastapi": "the server's",
    "starlette": "the server's",
    "uvicorn": "the server's",
    "httpx": "the client's",
    "jinja2": "parameter templates render in a process of their own, when there are any",
    "fsspec": "artifacts on this machine are local files",
    "yaml": "only spec documents in YAML need it",
    "ray": "only the Ray executor imports Ray",
    "numpy": "user code runs in task processes",
    "pandas": "user code runs in task processes",
}

# Third-party top-level packages a run may import before its first task, with why.
ALLOWED_PACKAGES = {
    "headwater": "",
    "typer": "the command line",
    "annotated_doc": "typer's",
    "shellingham": "typer's (imported by typer itself)",
    "rich": "the command line's output and live progress",
    "pydantic": "the spec",
    "pydantic_core": "the spec",
    "annotated_types": "pydantic's",
    "typing_extensions": "pydantic's and SQLAlchemy's",
    "typing_inspection": "pydantic's",
    "sqlalchemy": "the metadata store",
    "cython_runtime": "SQLAlchemy's compiled extensions",
    "greenlet": "SQLAlchemy's, where it is installed",
}

# The parts of Headwater a run may import (a package, or one module of headwater.cli).
ALLOWED_HEADWATER = {
    "headwater",
    "headwater._config",
    "headwater._limits",
    "headwater._typecheck",
    "headwater._values",
    "headwater._version",
    "headwater.errors",
    "headwater.states",
    "headwater.sdk",
    "headwater.spec",
    # load_spec reads every pipeline file (Python, Kubeflow IR or a spec); the package
    # loads only that module until a Kubeflow file is read.
    "headwater.interop",
    "headwater.store",
    "headwater.engine",
    "headwater.executors",
    "headwater.runtime",
    "headwater.cli",
    "headwater.cli._app",
    "headwater.cli._options",
    "headwater.cli._progress",
    "headwater.cli._runs",
}


def _part(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:3] if parts[:2] == ["headwater", "cli"] else parts[:2])


def test_run_imports_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(PIPELINE)
    dump = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(HEADWATER_HOME=str(tmp_path / "home"), NO_COLOR="1", DUMP=str(dump))
    args = ["run", "tiny.py", "--no-cache"]
    # The first run creates the store (migrations, so Alembic); the second is the common case.
    for driver in (False, True):
        command = [sys.executable, "-c", DRIVER] if driver else [sys.executable, "-c", RUN]
        done = subprocess.run(
            [*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert dump.exists(), "the engine submitted no task"
    modules = set(json.loads(dump.read_text()))
    assert "headwater.engine" in modules and "tiny" in modules  # the dump is the run's

    present = {
        name: why
        for name, why in FORBIDDEN.items()
        if name in modules or any(m.startswith(name + ".") for m in modules)
    }
    assert not present, (
        "headwater run imports, before its first task starts: "
        + "; ".join(f"{name} ({why})" for name, why in present.items())
        + HOW_TO_FIND
    )

    stdlib = set(sys.stdlib_module_names)
    packages = {m.split(".")[0] for m in modules} - stdlib - {"tiny"}
    new = sorted(p for p in packages if not p.startswith("_") and p not in ALLOWED_PACKAGES)
    assert not new, (
        f"headwater run now imports {', '.join(new)} before its first task starts, which "
        "the allow-list here does not name" + HOW_TO_FIND + " If the run truly needs it on "
        "every start, add it to ALLOWED_PACKAGES with the reason."
    )

    parts = {_part(m) for m in modules if m == "headwater" or m.startswith("headwater.")}
    new = sorted(parts - ALLOWED_HEADWATER)
    assert not new, (
        f"headwater run now imports {', '.join(new)} before its first task starts"
        + HOW_TO_FIND
        + " If the run truly needs it on every start, add it to ALLOWED_HEADWATER with a "
        "comment."
    )


def test_every_command_module_is_registered_lazily() -> None:
    """Every command a module of headwater.cli registers is in the lazy table, so that
    help lists it and running it imports its module."""
    root = typer.main.get_command(headwater.cli.app)
    ctx = typer.Context(root)
    assert isinstance(root, typer.core.TyperGroup)
    listed = root.list_commands(ctx)
    assert len(listed) == len(set(listed)), listed
    for name in listed:
        assert root.get_command(ctx, name) is not None, name
    for info in pkgutil.iter_modules(headwater.cli.__path__, "headwater.cli."):
        __import__(info.name)
    loaded = typer.main.get_command(headwater.cli.app)
    assert isinstance(loaded, typer.core.TyperGroup)
    registered = set(loaded.commands)
    assert registered == set(listed), (
        f"commands not in the lazy table of headwater/cli/__init__.py: "
        f"{sorted(registered - set(listed))}; named there but registered by no module: "
        f"{sorted(set(listed) - registered)}"
    )
