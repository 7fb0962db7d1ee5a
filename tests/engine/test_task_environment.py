"""What a task process sees of the engine's environment: a scrubbed base, the component's
``env=``, the task variables Headwater sets, and what the operator allows by name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from engine_helpers import cli_env, headwater_command, write_pipeline

from headwater.engine import Run, Workspace
from headwater.states import RunStatus

SECRET = "hw_secret_token_0123456789"

PIPELINE = """
from headwater import component, pipeline


@component
def report(out_dir: str, name: str) -> None:
    import json
    import os

    print("token seen:", os.environ.get("HEADWATER_TOKEN"))
    with open(f"{out_dir}/{name}.json", "w") as f:
        json.dump({"env": dict(os.environ)}, f)


@pipeline(cache=False)
def task_environment(out_dir: str):
    report(out_dir=out_dir, name="forked").set_env_variable("FROM_COMPONENT", "yes")
    report(out_dir=out_dir, name="fresh").set_options(fresh_interpreter=True)
"""


def test_tasks_get_a_scrubbed_environment_plus_what_is_asked_and_allowed(
    tmp_path: Path, home: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    file = write_pipeline(tmp_path, "task_environment", PIPELINE)
    env = cli_env()
    env.update(
        HEADWATER_TOKEN=SECRET,
        AWS_SECRET_ACCESS_KEY=SECRET,
        DATABASE_PASSWORD=SECRET,
        TEAM_SETTING="allowed by name",
        TEAM_OTHER="allowed by glob",
        HEADWATER_TASK_ENV_ALLOW="TEAM_SETTING, TEAM_O*",
        LC_ALL="C.UTF-8",
        TZ="Europe/Paris",
    )
    done = subprocess.run(
        [*headwater_command(), "run", str(file), "-p", f"out_dir={out_dir}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    for name in ("forked", "fresh"):
        seen = json.loads((out_dir / f"{name}.json").read_text())
        task_env: dict[str, str] = seen["env"]
        assert SECRET not in json.dumps(task_env), f"{name}: a secret reached the task"
        assert "HEADWATER_HOME" not in task_env and "HEADWATER_TASK_ENV_ALLOW" not in task_env
        assert task_env["TEAM_SETTING"] == "allowed by name"
        assert task_env["TEAM_OTHER"] == "allowed by glob"
        for kept in ("PATH", "HOME", "LC_ALL", "TZ"):
            assert task_env[kept] == env[kept], kept
        assert task_env["HEADWATER_TASK"] == ("report" if name == "forked" else "report-2")
        assert task_env["HEADWATER_ATTEMPT"] == "1" and task_env["HEADWATER_RUN_ID"]
        assert ("FROM_COMPONENT" in task_env) is (name == "forked")

    ws = Workspace.open()
    try:
        (record,) = ws.store.runs.list_runs()
        run = Run(ws, record.id)
        assert run.status is RunStatus.SUCCEEDED
        for path in ("report", "report-2"):
            log = run.logs(path)
            assert "token seen: None" in log and SECRET not in log
    finally:
        ws.close()


def test_the_task_worker_itself_runs_without_the_engines_secrets(
    tmp_path: Path, home: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    file = write_pipeline(
        tmp_path,
        "task_worker_environment",
        """
        from headwater import component, pipeline


        @component
        def worker_env(out_dir: str) -> None:
            import os

            with open(f"/proc/{os.getppid()}/environ", "rb") as f:
                data = f.read()
            with open(f"{out_dir}/worker.environ", "wb") as f:
                f.write(data)


        @pipeline(cache=False)
        def task_worker_environment(out_dir: str):
            worker_env(out_dir=out_dir)
        """,
    )
    env = cli_env()
    env.update(HEADWATER_TOKEN=SECRET, SOME_API_KEY=SECRET)
    done = subprocess.run(
        [*headwater_command(), "run", str(file), "-p", f"out_dir={out_dir}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = {
        item.split(b"=", 1)[0].decode()
        for item in (out_dir / "worker.environ").read_bytes().split(b"\0")
        if item
    }
    assert "PATH" in names
    assert SECRET.encode() not in (out_dir / "worker.environ").read_bytes(), sorted(names)
