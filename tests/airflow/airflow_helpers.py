"""Airflow for the provider's tests: an Airflow home on SQLite whose DAG folder is
tests/airflow/dags, ``airflow dags test`` runs in it, and snippets run in the Airflow
environment's Python (see conftest.py for the fixtures)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CHECK = re.compile(r"^HEADWATER_CHECK (\{.*\})$", re.M)
_TASK = re.compile(r"\[DAG TEST\] starting task_id=(\S+) ")


def connection(url: str | None, token: str | None, **more: Any) -> str:
    """A ``headwater`` connection as Airflow reads it from ``AIRFLOW_CONN_*`` (JSON)."""
    fields: dict[str, Any] = {"conn_type": "headwater", **more}
    if url is not None:
        fields["host"] = url
    if token is not None:
        fields["password"] = token
    return json.dumps(fields)


@dataclass
class DagRun:
    """What ``airflow dags test`` did: its exit status, its output, each task's state."""

    process: subprocess.CompletedProcess[str]
    states: dict[str, str]

    @property
    def output(self) -> str:
        return self.process.stdout + self.process.stderr

    def checks(self) -> dict[str, dict[str, Any]]:
        """The ``HEADWATER_CHECK`` lines the DAG's tasks printed, by their ``check``."""
        found = [json.loads(m) for m in CHECK.findall(self.process.stdout)]
        return {c["check"]: c for c in found}

    def task_log(self, task_id: str) -> str:
        """The output between a task's start and the next task's (tasks run one by one)."""
        starts = [(m.start(), m.group(1)) for m in _TASK.finditer(self.output)]
        for i, (at, task) in enumerate(starts):
            if task == task_id:
                end = starts[i + 1][0] if i + 1 < len(starts) else len(self.output)
                return self.output[at:end]
        raise AssertionError(f"task {task_id} did not start:\n{self.output[-4000:]}")


class Airflow:
    """An Airflow home on SQLite with tests/airflow/dags as its DAG folder."""

    def __init__(self, venv: Path, home: Path) -> None:
        self.venv = venv
        self.home = home
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "HEADWATER_")) and k not in ("FORCE_COLOR",)
        }
        self.env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(HERE / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
        )
        # Migrating takes a while: it runs while the Headwater server starts.
        self._migrate: subprocess.Popen[str] | None = subprocess.Popen(
            [str(venv / "bin" / "airflow"), "db", "migrate"],
            env=self.env,
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def ready(self) -> None:
        if self._migrate is None:
            return
        out, _ = self._migrate.communicate(timeout=300)
        if self._migrate.returncode != 0:
            pytest.fail(f"airflow db migrate failed:\n{out[-4000:]}")
        self._migrate = None

    def close(self) -> None:
        if self._migrate is not None:
            self._migrate.kill()
            self._migrate.wait()

    def dags_test(
        self,
        dag_id: str,
        conf: dict[str, Any],
        connections: dict[str, str],
        logical_date: str = "2026-01-15",
    ) -> DagRun:
        """``airflow dags test DAG_ID LOGICAL_DATE -c CONF`` with ``connections``
        (connection id: JSON) in the environment."""
        self.ready()
        env = {**self.env, **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()}}
        process = subprocess.run(
            [
                str(self.venv / "bin" / "airflow"),
                "dags",
                "test",
                dag_id,
                logical_date,
                "-c",
                json.dumps(conf),
            ],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return DagRun(process, self.task_states(dag_id))

    def task_states(self, dag_id: str) -> dict[str, str]:
        """The state of each task of the DAG's newest run, from Airflow's database."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = db.execute(
                "SELECT task_id, state FROM task_instance WHERE run_id = (SELECT run_id "
                "FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1) AND dag_id = ?",
                (dag_id, dag_id),
            ).fetchall()
        return {task: state for task, state in rows}

    def python(self, code: str, connections: dict[str, str]) -> Any:
        """Run ``code`` in the Airflow environment's Python; returns the JSON it prints
        last."""
        self.ready()
        env = {**self.env, **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()}}
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
