"""Which URIs a confined run may read (UriPolicy), on real folders and symbolic links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater.errors import UriNotAllowed
from headwater.runtime import UriPolicy, locate, normalize_root


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A Headwater home (database, logs, artifact root), an allowed data folder, and a
    folder outside every root."""
    home = tmp_path / "home"
    (home / "artifacts" / "run1").mkdir(parents=True)
    (home / "logs").mkdir()
    (home / "headwater.db").write_text("db")
    (home / "headwater.db-wal").write_text("wal")
    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    return {"home": home, "data": data, "outside": outside, "root": tmp_path}


def policy_of(layout: dict[str, Path], *roots: str) -> UriPolicy:
    home = layout["home"]
    artifacts = str(home / "artifacts")
    return UriPolicy(
        namespace="default",
        roots=(artifacts, *roots),
        artifact_root=artifacts,
        home=str(home),
        database=str(home / "headwater.db"),
    )


def refusal(policy: UriPolicy, uri: str) -> str:
    with pytest.raises(UriNotAllowed) as caught:
        policy.check(uri)
    return str(caught.value)


def test_paths_under_a_root_are_allowed(layout: dict[str, Path]) -> None:
    policy = policy_of(layout, str(layout["data"]))
    assert policy.check(str(layout["data"] / "table.csv")).path == str(
        (layout["data"] / "table.csv").resolve()
    )
    assert policy.check(f"file://{layout['data']}").path == str(layout["data"].resolve())
    assert policy.check(str(layout["home"] / "artifacts" / "run1")).local


@pytest.mark.parametrize(
    "uri",
    ["/etc", "/etc/hostname", "file:///etc/hostname", "{outside}/secret.txt"],
)
def test_paths_outside_every_root_are_refused_with_the_roots_and_the_fix(
    layout: dict[str, Path], uri: str
) -> None:
    policy = policy_of(layout, str(layout["data"]))
    text = refusal(policy, uri.format(outside=layout["outside"]))
    assert "outside the roots that runs in namespace 'default' may read" in text
    assert str(layout["data"]) in text and str(layout["home"] / "artifacts") in text
    assert "headwater roots add PATH" in text


@pytest.mark.parametrize(
    "name", ["headwater.db", "headwater.db-wal", "headwater.db-shm", "headwater.db-journal"]
)
def test_the_database_and_its_companions_are_never_readable(
    layout: dict[str, Path], name: str
) -> None:
    # Even with the whole home's parent allowed by an operator.
    policy = policy_of(layout, str(layout["root"]))
    text = refusal(policy, str(layout["home"] / name))
    assert "Headwater's" in text and "never read" in text


def test_the_whole_filesystem_is_refused_even_under_a_root_of_slash(
    layout: dict[str, Path],
) -> None:
    policy = policy_of(layout, "/")
    for uri in ("/", "file:///"):
        text = refusal(policy, uri)
        assert "holds Headwater's metadata database" in text
        assert "never read Headwater's own files" in text
    assert policy.check("/etc").local  # the operator allowed everything else


def test_the_home_is_refused_except_its_artifact_root(layout: dict[str, Path]) -> None:
    policy = policy_of(layout, str(layout["root"]))
    for inside in ("logs", "work", "logs/run1/task.log"):
        assert "inside Headwater's home" in refusal(policy, str(layout["home"] / inside))
    assert "metadata database" in refusal(policy, str(layout["home"]))
    # A folder that holds the home would hash the database with the rest.
    db_elsewhere = UriPolicy(
        "default", (str(layout["root"]),), str(layout["home"] / "artifacts"), str(layout["home"])
    )
    assert "holds Headwater's home" in refusal(db_elsewhere, str(layout["root"]))
    assert "inside Headwater's home" in refusal(db_elsewhere, str(layout["home"] / "logs"))
    assert policy.check(str(layout["home"] / "artifacts" / "run1")).local


def test_a_database_outside_the_home_is_refused_and_so_is_a_folder_holding_it(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "db"
    elsewhere.mkdir()
    (elsewhere / "hw.db").write_text("db")
    policy = UriPolicy(
        "default", (str(tmp_path),), str(tmp_path / "art"), None, str(elsewhere / "hw.db")
    )
    assert "metadata database" in refusal(policy, str(elsewhere / "hw.db"))
    assert "metadata database" in refusal(policy, str(elsewhere))


def test_links_and_dots_are_resolved_before_the_check(layout: dict[str, Path]) -> None:
    data = layout["data"]
    (data / "to-etc").symlink_to("/etc")
    (data / "to-secret").symlink_to(layout["outside"] / "secret.txt")
    (data / "to-db").symlink_to(layout["home"] / "headwater.db")
    policy = policy_of(layout, str(data))
    assert "outside the roots" in refusal(policy, str(data / "to-etc" / "hostname"))
    assert "outside the roots" in refusal(policy, str(data / "to-secret"))
    assert "metadata database" in refusal(policy, str(data / "to-db"))
    assert "outside the roots" in refusal(policy, f"{data}/../outside/secret.txt")
    assert "outside the roots" in refusal(policy, f"file://{data}/../outside")


def test_a_root_that_is_a_link_allows_what_it_leads_to(layout: dict[str, Path]) -> None:
    link = layout["root"] / "data-link"
    link.symlink_to(layout["data"])
    policy = policy_of(layout, str(link))
    assert policy.check(str(layout["data"] / "table.csv")).local
    assert policy.check(str(link / "table.csv")).local


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("relative/table.csv", "relative path"),
        ("", "empty URI"),
        ("file://otherhost/etc/hostname", "names a host"),
        ("simplecache::file:///etc/hostname", "chained URL"),
        ("s3://bucket/data/../secret", "'..' path segment"),
        ("s3://bucket/data/%2e%2e/secret", "percent-escapes"),
        ("s3://bucket/data?versionId=1", "query"),
        ("s3:///no-bucket", "no host or bucket"),
        ("/etc/host\x00name", "NUL"),
    ],
)
def test_forms_that_cannot_be_checked_are_refused(
    layout: dict[str, Path], uri: str, says: str
) -> None:
    policy = policy_of(layout, str(layout["data"]), "s3://bucket/data")
    assert says in refusal(policy, uri)


def test_remote_roots_allow_their_prefix_on_whole_segments(layout: dict[str, Path]) -> None:
    policy = policy_of(layout, "s3://bucket/data")
    assert (
        str(policy.check("s3://bucket/data/x/part-0.parquet"))
        == "s3://bucket/data/x/part-0.parquet"
    )
    assert policy.check("s3://bucket/data/").parts == ("data",)
    for uri in ("s3://bucket/database/x", "s3://other/data/x", "gs://bucket/data/x", "s3://bucket"):
        assert "outside the roots" in refusal(policy, uri), uri


def test_roots_are_normalized_when_added() -> None:
    assert normalize_root("/data/shared/") == "/data/shared"
    assert normalize_root("file:///data/x/../shared") == "/data/shared"
    assert normalize_root("s3://bucket/prefix/") == "s3://bucket/prefix"
    with pytest.raises(UriNotAllowed, match="relative path"):
        normalize_root("data/shared")


def test_the_policy_travels_as_json(layout: dict[str, Path]) -> None:
    policy = policy_of(layout, str(layout["data"]))
    assert UriPolicy.from_json(policy.to_json()) == policy


def test_checking_opens_no_file(layout: dict[str, Path], tmp_path: Path) -> None:
    """A FIFO blocks whoever opens it: a check that opened the path would hang here."""
    fifo = layout["data"] / "pipe"
    os.mkfifo(fifo)
    policy = policy_of(layout, str(layout["data"]))
    assert policy.check(str(fifo)).path == str(fifo.resolve())
    assert locate(str(fifo)).local
