"""The artifact store (local folders and fsspec URLs) and content digests of artifacts."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from headwater.runtime._digest import digest_path
from headwater.store import ArtifactStore


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------- layout


def test_a_local_root_is_created_and_uris_sit_under_it(tmp_path: Path) -> None:
    root = tmp_path / "new" / "root"
    store = ArtifactStore(str(root) + "/")

    assert root.is_dir()
    assert store.local
    assert store.staging_uri("att1", "model") == f"{root}/.staging/att1/model"
    assert store.final_uri("run1", "sweep[0].fit", "model") == f"{root}/run1/sweep[0].fit/model"
    assert store.local_path(store.final_uri("r", "p", "n")) == f"{root}/r/p/n"


def test_a_file_url_root_is_local(tmp_path: Path) -> None:
    store = ArtifactStore(f"file://{tmp_path}/arts")

    assert store.local
    assert (tmp_path / "arts").is_dir()
    staging = store.staging_uri("att", "data.csv")
    assert staging.startswith("file://")
    local = store.local_path(staging)
    assert local == f"{tmp_path}/arts/.staging/att/data.csv"

    Path(local).parent.mkdir(parents=True)
    Path(local).write_text("a,b\n")
    final = store.final_uri("run", "load", "data.csv")
    store.commit(staging, final)

    assert Path(f"{tmp_path}/arts/run/load/data.csv").read_text() == "a,b\n"
    assert store.exists(final) and not store.exists(staging)


# ---------------------------------------------------------------------- commit / discard


def test_commit_moves_a_staged_file_into_place(artifacts: ArtifactStore) -> None:
    staging = artifacts.staging_uri("attempt-1", "model.bin")
    final = artifacts.final_uri("run-1", "train", "model.bin")
    Path(staging).parent.mkdir(parents=True)
    Path(staging).write_bytes(b"\x00weights\xff")

    assert not os.path.exists(final)
    assert not artifacts.exists(final)

    artifacts.commit(staging, final)

    assert Path(final).read_bytes() == b"\x00weights\xff"
    assert not os.path.exists(staging)
    assert artifacts.exists(final) and not artifacts.exists(staging)


def test_commit_moves_a_staged_folder_into_place(artifacts: ArtifactStore) -> None:
    staging = Path(artifacts.staging_uri("attempt-1", "dataset"))
    final = Path(artifacts.final_uri("run-1", "load", "dataset"))
    files = {"part-0.parquet": b"zero", "part-1.parquet": b"one", "meta/schema.json": b"{}"}
    write_tree(staging, files)

    assert not final.exists()
    artifacts.commit(str(staging), str(final))

    assert final.is_dir()
    assert read_tree(final) == files
    assert not staging.exists()


def test_commit_replaces_what_an_earlier_attempt_committed(artifacts: ArtifactStore) -> None:
    final = Path(artifacts.final_uri("run-1", "load", "dataset"))
    write_tree(final, {"old.txt": b"old", "stale/x": b"x"})
    staging = Path(artifacts.staging_uri("attempt-2", "dataset"))
    write_tree(staging, {"new.txt": b"new"})

    artifacts.commit(str(staging), str(final))

    assert read_tree(final) == {"new.txt": b"new"}
    assert not staging.exists()


def test_commit_of_nothing_staged_fails_and_creates_nothing(artifacts: ArtifactStore) -> None:
    staging = artifacts.staging_uri("attempt-1", "missing")
    final = artifacts.final_uri("run-1", "train", "missing")

    with pytest.raises(FileNotFoundError):
        artifacts.commit(staging, final)
    assert not os.path.exists(final)


def test_commit_refuses_a_staged_output_that_is_a_link(
    artifacts: ArtifactStore, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the output")
    staging = Path(artifacts.staging_uri("attempt-1", "model.bin"))
    staging.parent.mkdir(parents=True)
    staging.symlink_to(secret)
    final = artifacts.final_uri("run-1", "train", "model.bin")

    with pytest.raises(ValueError, match="symbolic link"):
        artifacts.commit(str(staging), final)
    assert not os.path.lexists(final)


def test_links_inside_a_folder_move_as_links_and_nothing_outside_is_copied(
    artifacts: ArtifactStore, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the output")
    staging = write_tree(Path(artifacts.staging_uri("attempt-1", "dataset")), {"a.csv": b"a"})
    (staging / "escape").symlink_to(secret)
    final = Path(artifacts.final_uri("run-1", "load", "dataset"))

    artifacts.commit(str(staging), str(final))

    assert (final / "escape").is_symlink() and os.readlink(final / "escape") == str(secret)
    assert secret.read_text() == "outside the output"


def test_discard_removes_only_that_attempts_staging(artifacts: ArtifactStore) -> None:
    doomed = Path(artifacts.staging_uri("attempt-1", "dataset"))
    kept = Path(artifacts.staging_uri("attempt-2", "dataset"))
    write_tree(doomed, {"a": b"a", "b/c": b"c"})
    write_tree(kept, {"a": b"a"})
    (doomed.parent / "model.bin").write_bytes(b"m")

    artifacts.discard("attempt-1")

    assert not doomed.parent.exists()
    assert read_tree(kept) == {"a": b"a"}
    artifacts.discard("attempt-1")  # nothing left: no error
    artifacts.discard("never-ran")


def test_exists_for_files_folders_and_missing_paths(
    artifacts: ArtifactStore, tmp_path: Path
) -> None:
    file = Path(artifacts.final_uri("r", "t", "file"))
    folder = Path(artifacts.final_uri("r", "t", "folder"))
    write_tree(file.parent, {"file": b"1"})
    write_tree(folder, {"x": b"2"})

    assert artifacts.exists(str(file))
    assert artifacts.exists(str(folder))
    assert artifacts.exists(f"file://{file}")
    assert not artifacts.exists(artifacts.final_uri("r", "t", "nothing"))
    assert not artifacts.exists(f"file://{tmp_path}/nothing")


# ---------------------------------------------------------------------- fsspec roots


@pytest.fixture
def memory_root() -> Iterator[str]:
    root = f"memory://hw-test-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_a_remote_root_commits_discards_and_checks_through_fsspec(memory_root: str) -> None:
    store = ArtifactStore(memory_root)
    fs = fsspec.filesystem("memory")
    assert not store.local
    assert store.local_path(store.final_uri("r", "t", "x")) is None

    staging = store.staging_uri("attempt-1", "model.bin")
    final = store.final_uri("run-1", "train", "model.bin")
    fs.pipe(staging, b"weights")
    assert store.exists(staging) and not store.exists(final)

    store.commit(staging, final)

    assert fs.cat(final) == b"weights"
    assert store.exists(final) and not store.exists(staging)

    folder = store.staging_uri("attempt-2", "dataset")
    fs.pipe(f"{folder}/part-0", b"0")
    fs.pipe(f"{folder}/part-1", b"1")
    folder_final = store.final_uri("run-1", "load", "dataset")
    store.commit(folder, folder_final)
    assert fs.cat(f"{folder_final}/part-1") == b"1"
    assert store.exists(folder_final) and not store.exists(folder)

    fs.pipe(store.staging_uri("attempt-3", "junk"), b"j")
    store.discard("attempt-3")
    assert not store.exists(store.staging_uri("attempt-3", "junk"))
    store.discard("attempt-3")


# ---------------------------------------------------------------------- digests


def test_equal_files_have_equal_digests_and_sizes(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    b = tmp_path / "elsewhere" / "b.bin"
    b.parent.mkdir()
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    a.write_bytes(data)
    b.write_bytes(data)

    da, db = digest_path(str(a)), digest_path(str(b))
    assert da == db
    assert da.size == len(data)
    assert da.digest.startswith("sha256:") and len(da.digest) == len("sha256:") + 64


def test_different_files_have_different_digests(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.write_bytes(b"hello world")
    b.write_bytes(b"hello world!")

    assert digest_path(str(a)).digest != digest_path(str(b)).digest
    b.write_bytes(b"hello worle")
    assert digest_path(str(a)).digest != digest_path(str(b)).digest


def test_the_digest_of_an_empty_file_is_that_of_no_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")

    got = digest_path(str(empty))
    assert got.size == 0
    assert got.digest == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


FOLDER = {"train.csv": b"1,2\n3,4\n", "test.csv": b"5,6\n", "meta/schema.json": b'{"a": 1}'}


def test_equal_folders_have_equal_digests(tmp_path: Path) -> None:
    a = write_tree(tmp_path / "a", FOLDER)
    b = write_tree(tmp_path / "b", dict(reversed(list(FOLDER.items()))))  # other write order

    da, db = digest_path(str(a)), digest_path(str(b))
    assert da == db
    assert da.size == sum(len(v) for v in FOLDER.values())
    # Moving the folder, as commit does, keeps its digest.
    moved = tmp_path / "moved"
    shutil.move(str(b), str(moved))
    assert digest_path(str(moved)) == da


@pytest.mark.parametrize(
    "change",
    [
        "changed-bytes",
        "renamed-file",
        "moved-to-subfolder",
        "extra-file",
        "extra-empty-file",
        "missing-file",
        "contents-swapped",
    ],
)
def test_different_folders_have_different_digests(tmp_path: Path, change: str) -> None:
    base = digest_path(str(write_tree(tmp_path / "base", FOLDER))).digest
    other = dict(FOLDER)
    if change == "changed-bytes":
        other["test.csv"] = b"5,7\n"
    elif change == "renamed-file":
        other["test2.csv"] = other.pop("test.csv")
    elif change == "moved-to-subfolder":
        other["meta/test.csv"] = other.pop("test.csv")
    elif change == "extra-file":
        other["README"] = b"hi"
    elif change == "extra-empty-file":
        other["_SUCCESS"] = b""
    elif change == "missing-file":
        del other["test.csv"]
    elif change == "contents-swapped":
        other["train.csv"], other["test.csv"] = other["test.csv"], other["train.csv"]

    assert digest_path(str(write_tree(tmp_path / "other", other))).digest != base


def test_a_folder_and_the_file_it_holds_differ(tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "folder", {"only": b"content"})

    assert digest_path(str(folder)).digest != digest_path(str(folder / "only")).digest
