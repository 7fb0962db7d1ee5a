"""``headwater run --experiment``, ``headwater experiments`` and ``headwater runs
compare`` as a user types them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FLOW = Path(__file__).resolve().parent / "xp_flow.py"


def headwater(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, on the home in ``cwd`` that the module's runs share."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "HEADWATER_HOME": str(cwd / "home")})
    script = Path(sys.executable).parent / "headwater"
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-xp")


@pytest.fixture(scope="module")
def runs(folder: Path) -> dict[str, str]:
    """Two runs in experiment 'sweep' and one in the pipeline's own; ids by lr."""
    ids = {}
    for lr, experiment in (("0.05", "sweep"), ("0.1", "sweep"), ("0.3", None)):
        extra = ["--experiment", experiment] if experiment else []
        done = headwater("run", f"{FLOW}:xp_train", "-p", f"lr={lr}", *extra, cwd=folder)
        assert done.returncode == 0, done.stderr
        ids[lr] = done.stdout.split("run ", 1)[1].split()[0]
    return ids


def test_compare_an_experiment_as_json_csv_and_a_table(runs: dict[str, str], folder: Path) -> None:
    shown = headwater("runs", "compare", "--experiment", "sweep", "--format", "json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert {r["id"] for r in data["runs"]} == {runs["0.05"], runs["0.1"]}
    assert data["metrics"] == ["accuracy", "loss"]

    table = headwater("runs", "compare", "--experiment", "sweep", "-w", "accuracy>0.95", cwd=folder)
    assert table.returncode == 0, table.stderr
    assert runs["0.1"] in table.stdout and runs["0.05"] not in table.stdout
    assert "1 run(s) matching, of 2" in table.stdout

    flat = headwater(
        "runs", "compare", runs["0.3"], runs["0.05"], "--format", "csv",
        "--columns", "lr,accuracy", cwd=folder,
    )  # fmt: skip
    assert flat.returncode == 0, flat.stderr
    rows = list(csv.reader(io.StringIO(flat.stdout)))
    assert rows[0] == ["run", "pipeline", "status", "created_at", "params.lr", "accuracy"]
    assert [(r[0], r[4], r[5]) for r in rows[1:]] == [
        (runs["0.3"], "0.3", "0.78"),
        (runs["0.05"], "0.05", "0.93"),
    ]

    best = headwater(
        "experiments", "runs", "sweep", "--best", "loss", "--direction", "minimize",
        "--format", "json", cwd=folder,
    )  # fmt: skip
    assert [r["id"] for r in json.loads(best.stdout)["runs"]] == [runs["0.1"]]

    listed = headwater("experiments", "list", cwd=folder)
    assert "sweep" in listed.stdout and "xp_train" in listed.stdout
    only = headwater("runs", "list", "--experiment", "xp_train", cwd=folder)
    assert runs["0.3"] in only.stdout and runs["0.1"] not in only.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["runs", "compare"], "compare either the runs named or the runs of an experiment"),
        (["runs", "compare", "--experiment", "sweep", "-w", "loss"], "cannot read the filter"),
        (["runs", "compare", "--experiment", "sweep", "--sort", "speed"], "'speed' is no metric"),
        (["runs", "compare", "--experiment", "sweep", "--columns", "zz"], "no column 'zz'"),
        (["runs", "compare", "--experiment", "sweep", "--format", "xml"], "unknown format"),
        (["runs", "compare", "--experiment", "nope"], "no experiment 'nope'"),
        (["runs", "compare", "zzzzzzzzzz"], "no run 'zzzzzzzzzz'"),
        (["run", str(FLOW), "--experiment", "a b"], "experiment name 'a b' is not valid"),
    ],
)
def test_bad_input_is_a_clear_error(
    runs: dict[str, str], folder: Path, args: list[str], words: str
) -> None:
    done = headwater(*args, cwd=folder)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert words in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in done.stderr
