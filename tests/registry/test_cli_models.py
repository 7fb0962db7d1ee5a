"""``headwater models`` as a user types it: list, show, versions, register, alias set and
delete, download and lineage; bad input is a clear error with exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FLOW = Path(__file__).resolve().parent / "reg_flow.py"


def headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "250", "HEADWATER_HOME": str(cwd / "home")})
    env.pop("HEADWATER_DATABASE_URL", None)
    script = Path(sys.executable).parent / "headwater"
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-models")
    done = headwater("run", f"{FLOW}:training", cwd=path)
    assert done.returncode == 0, done.stderr
    return path


def _ok(*args: str, cwd: Path) -> str:
    done = headwater(*args, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_list_show_versions_alias_and_download(folder: Path) -> None:
    listed = _ok("models", "list", cwd=folder)
    assert "churn" in listed and "challenger→1" in listed
    versions = json.loads(_ok("models", "versions", "churn", "--json", cwd=folder))
    [v1] = versions
    assert (v1["version"], v1["flavor"], v1["aliases"]) == (1, "sklearn", ["challenger"])
    # Register the same artifact again from the CLI, with an alias, tags and a text.
    said = _ok(
        "models", "register", v1["artifact_id"][:12], "--name", "churn", "--alias", "champion",
        "--tag", "by=cli", "--description", "again", cwd=folder,
    )  # fmt: skip
    assert "registered churn version 2 (@champion): sklearn" in said
    assert "churn@champion → version 1 (was version 2)" in _ok(
        "models", "alias", "set", "churn", "champion", "1", cwd=folder
    )
    shown = _ok("models", "show", "churn", cwd=folder)
    assert "@champion → version 1" in shown and "alias history" in shown
    v2 = json.loads(_ok("models", "versions", "churn", "--json", cwd=folder))[0]
    assert (v2["version"], v2["tags"], v2["description"]) == (2, {"by": "cli"}, "again")
    assert v2["created_by"].startswith("cli")
    lineage = _ok("models", "lineage", "churn@champion", cwd=folder)
    assert "headwater.Dataset" in lineage and "prepare" in lineage
    copied = _ok("models", "download", "churn/1", "-o", str(folder / "dl"), cwd=folder)
    assert "churn version 1" in copied
    [file] = list((folder / "dl").iterdir())
    assert file.read_bytes().startswith(b"\x80")  # joblib's pickle, copied as it is
    assert "removed churn@champion" in _ok(
        "models", "alias", "delete", "churn", "champion", cwd=folder
    )


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("models", "show", "nope"), "no registered model 'nope'"),
        (("models", "alias", "set", "churn", "champion", "9"), "has no version 9"),
        (("models", "alias", "set", "nope", "champion", "1"), "no registered model 'nope'"),
        (("models", "alias", "delete", "churn", "ghost"), "has no alias 'ghost'"),
        (("models", "register", "zzzzzz", "--name", "churn"), "no artifact 'zzzzzz'"),
        (("models", "register", "zzzzzz", "--name", "bad name"), "model name 'bad name'"),
        (("models", "register", "zzzzzz", "--name", "x", "--tag", "oops"), "not KEY=VALUE"),
        (("models", "download", "churn@ghost", "-o", "out"), "has no alias 'ghost'"),
        (("models", "download", "churn/x", "-o", "out"), "not a whole number"),
    ],
)
def test_bad_input_is_a_clear_error(folder: Path, args: tuple[str, ...], text: str) -> None:
    before = _ok("models", "versions", "churn", "--json", cwd=folder)
    done = headwater(*args, cwd=folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert text in done.stderr, done.stderr
    assert "fix:" in done.stderr
    assert _ok("models", "versions", "churn", "--json", cwd=folder) == before
