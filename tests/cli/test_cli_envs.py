"""``headwater envs list`` and ``headwater envs prune`` on environments that real runs
built and used."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def own_envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home and an environments folder of this test's own (set before the CLI runs)."""
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEADWATER_ENVS_DIR", str(tmp_path / "envs"))
    return tmp_path / "envs"


def test_list_shows_what_runs_built_and_prune_removes_what_is_unused(
    own_envs: Path, headwater: Run
) -> None:
    ran = headwater("run", f"{PIPELINES / 'envs_flow.py'}:envs_two_pins")
    assert ran.returncode == 0, ran.stdout + ran.stderr

    listed = headwater("envs", "list")
    assert listed.returncode == 0, listed.stderr
    assert "tabulate==0.9.0" in listed.stdout and "tabulate==0.8.10" in listed.stdout
    assert "cpython-" in listed.stdout
    assert "2 environment(s)" in listed.stdout
    built = [p for p in own_envs.iterdir() if len(p.name) == 64]
    assert len(built) == 2

    kept = headwater("envs", "prune", "--older-than", "1")
    assert "removed 0 environment(s)" in kept.stdout  # used a moment ago

    dry = headwater("envs", "prune", "--older-than", "0", "--dry-run")
    assert dry.stdout.count("would remove sha256:") == 2
    assert all(p.exists() for p in built)

    time.sleep(0.05)
    pruned = headwater("envs", "prune", "--older-than", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert "removed 2 environment(s)" in pruned.stdout
    assert not any(p.exists() for p in built)
    assert "0 environment(s)" in headwater("envs", "list").stdout


def test_prune_keeps_an_environment_a_running_run_uses(own_envs: Path, headwater: Run) -> None:
    from headwater import envs

    venv = envs.build(envs.resolve(["tabulate==0.9.0"]))
    lease = envs.Lease(venv)  # as a running run's executor holds it
    try:
        result = headwater("envs", "prune", "--older-than", "0")
        assert "kept sha256:" in result.stdout and "in use" in result.stdout
        assert venv.path.exists()
        assert [e.users for e in envs.list_envs()] == [1]
    finally:
        lease.release()
