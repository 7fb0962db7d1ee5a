"""Input-based caching: hits without a process, opt-outs, expiry, identical upstream bytes,
and artifacts that vanished from disk."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import engine_cache
from engine_cache import executions
from engine_helpers import Cli, statuses, write_pipeline

import headwater
from headwater.engine import Run, Workspace
from headwater.states import RunStatus, TaskStatus

CHAIN = ("produce", "transform", "fit")


def _setup(tmp_path: Path, text: str = "some rows\n") -> tuple[str, str]:
    source = tmp_path / "source.txt"
    source.write_text(text)
    return str(source), str(tmp_path / "executions")


def _counts(log_dir: str, names: tuple[str, ...] = CHAIN) -> dict[str, int]:
    return {name: executions(log_dir, name) for name in names}


def _assert_hit(run: Run, path: str, first: Run) -> None:
    rec = run.tasks[path]
    assert rec.status is TaskStatus.CACHED, f"{path} is {rec.status}"
    assert rec.cached_from == first.tasks[path].id
    assert rec.pid is None and rec.log_path is None, f"{path} started a process"
    assert rec.outputs == first.tasks[path].outputs


def test_a_second_identical_run_is_all_cache_hits(tmp_path: Path) -> None:
    source, log_dir = _setup(tmp_path)
    first = headwater.run(engine_cache.engine_cache_chain, source=source, log_dir=log_dir)
    assert statuses(first) == dict.fromkeys(CHAIN, "succeeded")
    assert _counts(log_dir) == dict.fromkeys(CHAIN, 1)

    second = headwater.run(engine_cache.engine_cache_chain, source=source, log_dir=log_dir)

    assert second.status is RunStatus.SUCCEEDED
    for path in CHAIN:
        _assert_hit(second, path, first)
    assert _counts(log_dir) == dict.fromkeys(CHAIN, 1)
    assert second.outputs("fit")["output"] == first.outputs("fit")["output"]
    assert second.outputs("fit")["model"].read_text() == "model of 10 characters"


def test_cache_false_runs_every_task(tmp_path: Path) -> None:
    source, log_dir = _setup(tmp_path)
    headwater.run(engine_cache.engine_cache_chain, source=source, log_dir=log_dir)

    again = headwater.run(
        engine_cache.engine_cache_chain, cache=False, source=source, log_dir=log_dir
    )

    assert statuses(again) == dict.fromkeys(CHAIN, "succeeded")
    assert all(rec.cached_from is None for rec in again.tasks.values())
    assert _counts(log_dir) == dict.fromkeys(CHAIN, 2)


def test_no_cache_on_the_command_line_runs_every_task(tmp_path: Path, cli: Cli) -> None:
    log_dir = str(tmp_path / "executions")
    file = write_pipeline(
        tmp_path,
        "engine_cli_no_cache",
        """
        from headwater import component, pipeline

        @component
        def count(log_dir: str) -> int:
            from pathlib import Path

            Path(log_dir).mkdir(exist_ok=True)
            with open(Path(log_dir) / "executions.log", "a") as f:
                f.write("count\\n")
            return 1

        @pipeline
        def engine_cli_no_cache(log_dir: str):
            count(log_dir=log_dir)
        """,
    )
    for args, expected in ((), 1), ((), 1), (("--no-cache",), 2):
        done = cli("run", file, "-p", f"log_dir={log_dir}", *args)
        assert done.returncode == 0, done.stderr
        assert executions(log_dir, "count") == expected, (args, done.stdout)
    ws = Workspace.open()
    try:
        newest_first = [
            ws.store.tasks.task_runs(r.id)[0].status
            for r in ws.store.runs.list_runs(pipeline=file.stem)
        ]
    finally:
        ws.close()
    assert newest_first == [TaskStatus.SUCCEEDED, TaskStatus.CACHED, TaskStatus.SUCCEEDED]


def test_a_task_with_cache_false_runs_again_while_others_hit(tmp_path: Path) -> None:
    log_dir = str(tmp_path / "executions")
    headwater.run(engine_cache.engine_cache_per_task, log_dir=log_dir)

    again = headwater.run(engine_cache.engine_cache_per_task, log_dir=log_dir)

    assert statuses(again) == {"uncached": "succeeded", "cached": "cached"}
    assert _counts(log_dir, ("uncached", "cached")) == {"uncached": 2, "cached": 1}


def test_a_cache_entry_expires_after_its_ttl(tmp_path: Path) -> None:
    log_dir = str(tmp_path / "executions")
    first = headwater.run(engine_cache.engine_cache_ttl, log_dir=log_dir)
    soon = headwater.run(engine_cache.engine_cache_ttl, log_dir=log_dir)
    assert statuses(soon) == {"short_lived": "cached"}, "a hit within the 1 s TTL was missed"

    finished = first.tasks["short_lived"].finished_at
    assert finished is not None
    time.sleep(max(0.0, 1.2 - (datetime.now(UTC) - finished).total_seconds()))
    late = headwater.run(engine_cache.engine_cache_ttl, log_dir=log_dir)

    assert statuses(late) == {"short_lived": "succeeded"}
    assert executions(log_dir, "short_lived") == 2


def test_identical_bytes_from_a_rerun_upstream_make_every_downstream_task_a_hit(
    tmp_path: Path,
) -> None:
    source, log_dir = _setup(tmp_path)
    pipe = engine_cache.engine_cache_rerun_upstream
    first = headwater.run(pipe, source=source, log_dir=log_dir)

    second = headwater.run(pipe, source=source, log_dir=log_dir)

    assert statuses(second) == {"produce": "succeeded", "transform": "cached", "fit": "cached"}
    assert _counts(log_dir) == {"produce": 2, "transform": 1, "fit": 1}
    for path in ("transform", "fit"):
        _assert_hit(second, path, first)

    # Different bytes upstream are a miss downstream.
    Path(source).write_text("other rows\n")
    third = headwater.run(pipe, source=source, log_dir=log_dir)
    assert statuses(third) == dict.fromkeys(CHAIN, "succeeded")
    assert third.outputs("transform")["features"].read_text() == "OTHER ROWS\n"


def test_a_cached_output_deleted_from_disk_makes_its_task_run_again(tmp_path: Path) -> None:
    source, log_dir = _setup(tmp_path)
    first = headwater.run(engine_cache.engine_cache_chain, source=source, log_dir=log_dir)
    data = Path(first.outputs("produce")["data"].path)
    assert data.read_text() == "some rows\n"
    data.unlink()

    second = headwater.run(engine_cache.engine_cache_chain, source=source, log_dir=log_dir)

    assert second.status is RunStatus.SUCCEEDED
    assert statuses(second)["produce"] == "succeeded"
    assert executions(log_dir, "produce") == 2
    assert Path(second.outputs("produce")["data"].path).read_text() == "some rows\n"
    # The new copy has the same bytes, so what depends on it still hits the cache.
    _assert_hit(second, "transform", first)
    _assert_hit(second, "fit", first)
