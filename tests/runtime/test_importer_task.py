"""The importer task (what a task process runs for an importer): the same digest as task
outputs get, bounds that fail with the setting to raise, and the URI check again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import UriNotAllowed
from headwater.runtime import UriPolicy, execute
from headwater.runtime._digest import digest_path
from headwater.runtime._importer import bounded_digest
from headwater.runtime._protocol import TaskError

BIG = 1 << 40


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Names whose order differs as strings and as path parts ('a-b/c' vs 'a/b')."""
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a-b").mkdir()
    (root / "a" / "b").write_text("one")
    (root / "a-b" / "c").write_text("two")
    (root / ".hidden").write_text("three")
    (root / "link-to-b").symlink_to(root / "a" / "b")
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "a-dir-link").symlink_to(root / "a")
    return root


def test_the_digest_is_the_one_task_outputs_get(folder: Path) -> None:
    assert bounded_digest(str(folder), "u", BIG, BIG) == digest_path(str(folder))
    one = folder / "a" / "b"
    found = bounded_digest(str(one), "u", BIG, BIG)
    assert found == digest_path(str(one))
    assert found is not None and found.digest == "sha256:" + hashlib.sha256(b"one").hexdigest()


def test_too_many_files_fail_naming_the_setting(folder: Path) -> None:
    with pytest.raises(TaskError) as caught:
        bounded_digest(str(folder), "/data", BIG, 3)
    assert "more than 3 files and folders" in str(caught.value)
    assert "HEADWATER_IMPORT_MAX_FILES" in str(caught.value)


def test_too_many_bytes_fail_naming_the_setting(folder: Path) -> None:
    with pytest.raises(TaskError) as caught:
        bounded_digest(str(folder), "/data", 5, BIG)
    assert "more than 5 bytes" in str(caught.value)
    assert "HEADWATER_IMPORT_MAX_BYTES" in str(caught.value)
    with pytest.raises(TaskError, match="more than 2 bytes"):
        bounded_digest(str(folder / "a" / "b"), "/data/a/b", 2, BIG)


def test_a_pipe_is_never_opened(tmp_path: Path) -> None:
    """Opening a FIFO blocks: the importer must skip it, alone or inside a folder."""
    (tmp_path / "f.txt").write_text("x")
    os.mkfifo(tmp_path / "pipe")
    assert bounded_digest(str(tmp_path / "pipe"), "u", BIG, BIG) is None
    assert bounded_digest(str(tmp_path), "u", BIG, BIG) == digest_path(str(tmp_path))


def test_a_confined_import_refuses_a_link_that_leads_out_of_the_roots(
    folder: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    (folder / "escape").symlink_to(secret)
    policy = UriPolicy("default", (str(folder),), str(tmp_path / "artifacts"))
    with pytest.raises(UriNotAllowed) as caught:
        bounded_digest(str(folder), str(folder), BIG, BIG, policy)
    assert "holds a link 'escape'" in str(caught.value)
    assert "outside the roots" in str(caught.value)
    (folder / "escape").unlink()
    assert bounded_digest(str(folder), str(folder), BIG, BIG, policy) == digest_path(str(folder))


def _attempt(tmp_path: Path, uri: str, policy: UriPolicy | None) -> tuple[int, dict[str, Any]]:
    task = {
        "schemaVersion": "headwater.task/v1",
        "inputs": {"parameterValues": {"uri": uri}, "artifacts": {}},
        "outputs": {"parameters": {}, "artifacts": {}, "outputFile": str(tmp_path / "out.json")},
        "headwater": {
            "runId": "r",
            "taskRunId": "t",
            "taskPath": "importer",
            "attempt": 1,
            "importer": {
                "artifactType": "headwater.Dataset",
                "metadata": {"source": "tests"},
                "maxBytes": BIG,
                "maxFiles": BIG,
                "policy": policy.to_json() if policy else None,
            },
        },
    }
    (tmp_path / "in.json").write_text(json.dumps(task))
    code = execute(str(tmp_path / "in.json"))
    return code, json.loads((tmp_path / "out.json").read_text())


def test_an_importer_attempt_reports_its_artifact(folder: Path, tmp_path: Path) -> None:
    code, out = _attempt(tmp_path, f"file://{folder}", None)
    assert code == 0, out
    [entry] = out["artifacts"]["artifact"]["artifacts"]
    assert entry["uri"] == f"file://{folder}"
    assert entry["digest"] == digest_path(str(folder)).digest
    assert entry["metadata"] == {"source": "tests"}


def test_an_importer_attempt_refuses_what_its_run_may_not_read(tmp_path: Path) -> None:
    policy = UriPolicy("default", (str(tmp_path),), str(tmp_path / "artifacts"))
    code, out = _attempt(tmp_path, "/etc/hostname", policy)
    assert code == 1
    error = out["headwater"]["error"]
    assert error["type"] == "UriNotAllowed"
    assert "'/etc/hostname' is outside the roots" in error["message"]
    assert out["artifacts"] == {}


def test_a_remote_uri_under_a_remote_root_is_recorded_without_a_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local file at the URI's path, relative to where the task runs, is not it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("local, not remote")
    policy = UriPolicy("default", ("s3://bucket/data",), str(tmp_path / "artifacts"))
    code, out = _attempt(tmp_path, "s3://bucket/data/x.csv", policy)
    assert code == 0, out
    [entry] = out["artifacts"]["artifact"]["artifacts"]
    assert entry["uri"] == "s3://bucket/data/x.csv"
    assert entry["digest"] is None and entry["size"] is None
