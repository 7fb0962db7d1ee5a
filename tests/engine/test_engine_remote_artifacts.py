"""A remote artifact store: a real FTP server on loopback, reached through fsspec.

Task processes upload their outputs to staging and download their inputs; the engine
moves finished outputs into place; the cache checks that outputs still exist remotely.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ftp_helpers import ftp_server

import headwater
from headwater import Dataset, Input, Model, Output, component, pipeline
from headwater.states import RunStatus, TaskStatus


@pytest.fixture
def ftp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An FTP server serving a fresh folder; HEADWATER_ARTIFACT_ROOT points at it."""
    folder = tmp_path / "ftp"
    folder.mkdir()
    with ftp_server(folder) as port:
        monkeypatch.setenv("HEADWATER_ARTIFACT_ROOT", f"ftp://127.0.0.1:{port}/artifacts")
        yield folder


@component
def write_words(words: Output[Dataset]) -> None:
    with open(words.path, "w") as f:
        f.write("remote artifacts work")


@component
def shout(words: Input[Dataset], loud: Output[Model]) -> int:
    with open(words.path) as f:
        text = f.read()
    with open(loud.path, "w") as f:
        f.write(text.upper())
    return len(text.split())


@pipeline
def remote_store():
    written = write_words()
    shout(words=written.outputs["words"])


def test_outputs_live_on_the_remote_store_and_feed_downstream_tasks(ftp_root: Path) -> None:
    run = headwater.run(remote_store)
    assert run.status is RunStatus.SUCCEEDED, {p: t.error for p, t in run.tasks.items()}
    assert run.outputs("shout")["output"] == 3
    loud = run.outputs("shout")["loud"]
    assert loud.uri.startswith("ftp://127.0.0.1:")
    assert loud.path is None  # not on this machine's disk
    assert loud.read_text() == "REMOTE ARTIFACTS WORK"
    on_server = sorted(
        p.relative_to(ftp_root).as_posix() for p in ftp_root.rglob("*") if p.is_file()
    )
    assert on_server == [
        f"artifacts/{run.id}/shout/loud-1",
        f"artifacts/{run.id}/write_words/words-1",
    ]
    # Staging is emptied once outputs are in place.
    assert not any((ftp_root / "artifacts" / ".staging").rglob("*-1"))
    assert loud.record.digest and loud.record.size == len("REMOTE ARTIFACTS WORK")


def test_cache_hits_need_the_remote_outputs_to_still_exist(ftp_root: Path) -> None:
    first = headwater.run(remote_store)
    assert first.status is RunStatus.SUCCEEDED
    second = headwater.run(remote_store)
    assert {t.status for t in second.tasks.values()} == {TaskStatus.CACHED}

    (ftp_root / "artifacts" / first.id / "shout" / "loud-1").unlink()
    third = headwater.run(remote_store)
    assert third.tasks["write_words"].status is TaskStatus.CACHED
    assert third.tasks["shout"].status is TaskStatus.SUCCEEDED


@component
def folder_with_link(secret: str, parts: Output[Dataset]) -> None:
    import os

    os.makedirs(parts.path)
    with open(os.path.join(parts.path, "part-0.csv"), "w") as f:
        f.write("a\n1\n")
    os.symlink(secret, os.path.join(parts.path, "escape"))


@pipeline
def remote_link(secret: str):
    folder_with_link(secret=secret)


def test_an_upload_never_copies_what_a_link_out_of_the_output_names(
    ftp_root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    run = headwater.run(remote_link, secret=str(secret))

    assert run.tasks["folder_with_link"].status is TaskStatus.FAILED
    error = run.tasks["folder_with_link"].error or ""
    assert "holds a link 'escape'" in error and "outside the output" in error
    assert not any("TOPSECRET" in p.read_text() for p in ftp_root.rglob("*") if p.is_file())
