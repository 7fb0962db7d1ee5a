"""Settings from the environment that cannot be used give one clear error, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADWATER = Path(sys.executable).with_name("headwater")

PIPELINE = """
from headwater import component, pipeline


@component
def hello() -> str:
    return "hello"


@pipeline
def settings_errors():
    hello()
"""


def run_with(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "settings_errors.py").write_text(PIPELINE)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADWATER_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE")
    }
    env.update(NO_COLOR="1", COLUMNS="200", HEADWATER_HOME=str(tmp_path / "home"))
    env.update(settings)
    return subprocess.run(
        [str(HEADWATER), "run", "settings_errors.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("setting", ["HEADWATER_ARTIFACT_ROOT", "HEADWATER_HOME"])
def test_a_folder_setting_that_names_a_regular_file_is_a_clear_error(
    tmp_path: Path, setting: str
) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("a regular file")
    done = run_with(tmp_path, **{setting: str(a_file)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    message = " ".join(done.stderr.split())
    assert f"{setting}={a_file}" in message, message
    assert "is a file, not a folder" in message, message
    assert len(done.stderr.splitlines()) <= 4, done.stderr
    assert a_file.read_text() == "a regular file"
