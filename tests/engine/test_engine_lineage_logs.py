"""Lineage of a model back to its data, and where a task's output and failures are shown."""

from __future__ import annotations

import re
from pathlib import Path

import engine_misc
from engine_helpers import Cli, write_pipeline

import headwater
from headwater.states import RunStatus


def test_lineage_of_a_model_lists_the_dataset_and_features_with_the_tasks_that_made_them(
    cli: Cli,
) -> None:
    run = headwater.run(engine_misc.engine_lineage, rows=4)
    assert run.status is RunStatus.SUCCEEDED
    model = run.outputs("train")["model"]
    table = run.outputs("features")["table"]
    dataset = run.outputs("make_dataset")["dataset"]
    assert model.read_text() == "4 rows seen"

    done = cli("lineage", model.record.id)

    assert done.returncode == 0, done.stderr
    text = done.stdout
    head, _, rest = text.partition("upstream")
    upstream, _, downstream = rest.partition("downstream")
    assert model.record.id in head and "made by train" in head, text
    for artifact, maker, hops in ((table, "features", "1"), (dataset, "make_dataset", "2")):
        line = next((row for row in upstream.splitlines() if artifact.record.id in row), None)
        assert line is not None, f"{artifact.record.name} is not upstream of the model:\n{text}"
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        assert cells[0] == hops, line
        assert maker in cells, f"the row of {artifact.record.name} does not name {maker}: {line}"
    assert table.record.id not in downstream and dataset.record.id not in downstream


def test_a_tasks_stdout_and_stderr_land_in_its_log_file() -> None:
    run = headwater.run(engine_misc.engine_chatty)

    assert run.status is RunStatus.SUCCEEDED
    log = run.tasks["chatty"].log_path
    assert log is not None
    text = Path(log).read_text()
    assert "hello on stdout" in text and "hello on stderr" in text
    assert run.logs("chatty") == text


FAILING = """
import sys

from headwater import component, pipeline

@component
def explode(row: int) -> int:
    print("reading rows")
    print("about to fail", file=sys.stderr)
    raise ValueError(f"bad input row {row}")

@pipeline
def engine_cli_failing(row: int = 7):
    explode(row=row)
"""


def test_a_failed_run_names_the_task_the_reason_and_the_log_and_the_log_can_be_printed(
    tmp_path: Path, cli: Cli
) -> None:
    file = write_pipeline(tmp_path, "engine_cli_failing", FAILING)
    done = cli("run", file)

    assert done.returncode == 1, done.stdout + done.stderr
    err = done.stderr
    assert "task explode failed" in err
    assert "ValueError: bad input row 7" in err
    match = re.search(r"log: (\S+attempt-1\.log)", err)
    assert match, err
    log = Path(match.group(1))
    assert "reading rows" in log.read_text() and "about to fail" in log.read_text()
    run_id = re.search(r"run (\w+) of engine_cli_failing", done.stdout)
    assert run_id, done.stdout

    logs = cli("tasks", "logs", run_id.group(1), "explode")

    assert logs.returncode == 0, logs.stderr
    assert "reading rows" in logs.stdout
    assert "about to fail" in logs.stdout
    assert "ValueError: bad input row 7" in logs.stdout


def test_logs_of_an_unknown_task_is_a_clear_error(tmp_path: Path, cli: Cli) -> None:
    run = headwater.run(engine_misc.engine_chatty)
    done = cli("tasks", "logs", run.id, "nope")
    assert done.returncode == 1
    assert "has no task 'nope'" in done.stderr and "chatty" in done.stderr
