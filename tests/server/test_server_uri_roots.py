"""What a run created through the server may read, against a real ``headwater standalone``:
importer URIs outside the namespace's roots are refused when the run is triggered (403,
nothing created), however they are written or reached (links, '..', file:// URLs, the
database, the whole filesystem, constants, loops, nested pipelines, backfills, schedules,
retry and clear); allowed roots work; a URI only known at run time is refused by the task;
artifacts outside the roots, or that are links, are never served."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Standalone, start_standalone

from headwater.store import NewArtifact

API = "/api/v1"
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines" / "importers.py"
DEPLOYED = (
    "import_uri",
    "import_from_output",
    "import_constant",
    "import_each",
    "import_nested",
    "import_daily",
    "link_output",
)


class Setup:
    def __init__(self, server: Standalone, allowed: Path, outside: Path) -> None:
        self.server = server
        self.allowed = allowed
        self.outside = outside
        self.home = server.home


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("roots")
    allowed = folder / "allowed"
    (allowed / "folder").mkdir(parents=True)
    (allowed / "table.csv").write_text("a,b\n1,2\n")
    (allowed / "folder" / "part-0.csv").write_text("a\n1\n")
    outside = folder / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"TOPSECRET-{secrets.token_hex(8)}")
    (allowed / "to-etc").symlink_to("/etc")
    (allowed / "to-secret").symlink_to(outside / "secret.txt")
    with start_standalone(folder) as server:
        for name in DEPLOYED:
            server.deploy(PIPELINES, name)
        added = server.cli("roots", "add", allowed, "--description", "test data")
        assert added.returncode == 0, added.stdout + added.stderr
        (allowed / "escape-dir").mkdir()
        (allowed / "escape-dir" / "db").symlink_to(server.home / "headwater.db")
        yield Setup(server, allowed, outside)


def _trigger(server: Standalone, pipeline: str, **parameters: Any) -> Any:
    return server.http.post(f"{API}/pipelines/{pipeline}/runs", json={"parameters": parameters})


def _refused(setup: Setup, pipeline: str, **parameters: Any) -> dict[str, Any]:
    """POST the trigger; assert a 403 that explains itself and that no run was created."""
    before = setup.server.count_runs(pipeline)
    r = _trigger(setup.server, pipeline, **parameters)
    assert r.status_code == 403, r.text
    body: dict[str, Any] = r.json()
    assert setup.server.count_runs(pipeline) == before
    assert body["where"]["pipeline"] == pipeline
    return body


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("/etc", "outside the roots"),
        ("file:///etc/hostname", "outside the roots"),
        ("/", "metadata database"),
        ("{home}/headwater.db", "metadata database"),
        ("{home}/headwater.db-wal", "metadata database"),
        ("file://{home}/headwater.db-shm", "metadata database"),
        ("{home}/logs", "inside Headwater's home"),
        ("{home}", "metadata database"),
        ("{allowed}/to-etc/hostname", "outside the roots"),
        ("{allowed}/to-secret", "outside the roots"),
        ("{allowed}/escape-dir/db", "metadata database"),
        ("{allowed}/../outside/secret.txt", "outside the roots"),
        ("relative/table.csv", "relative path"),
        ("file://otherhost/etc/hostname", "names a host"),
        ("s3://bucket/data.csv", "outside the roots"),
        ("simplecache::file:///etc/hostname", "chained URL"),
    ],
)
def test_a_uri_outside_the_roots_is_refused_at_trigger_and_nothing_is_created(
    setup: Setup, uri: str, says: str
) -> None:
    value = uri.format(home=setup.home, allowed=setup.allowed)
    body = _refused(setup, "import_uri", uri=value)

    assert body["where"]["task"] == "importer"
    assert f"would import {value!r} (parameter 'uri')" in body["error"]
    assert says in body["error"]
    if "outside the roots" in says:
        assert str(setup.allowed) in body["error"]  # the allowed roots are named
        assert str(setup.home / "artifacts") in body["error"]
        assert "headwater roots add PATH" in body["hint"]


def test_the_whole_shadow_file_attack_is_refused(setup: Setup) -> None:
    """The issue's attack: import /etc, then read ?path=shadow off the artifact."""
    _refused(setup, "import_uri", uri="/etc")
    r = setup.server.http.get(f"{API}/artifacts", params={"limit": 500})
    assert all(not a["uri"].startswith("/etc") for a in r.json()["items"])


def test_a_uri_under_an_allowed_root_is_imported_and_served(setup: Setup) -> None:
    server = setup.server
    data = setup.allowed / "table.csv"
    r = _trigger(server, "import_uri", uri=str(data))
    assert r.status_code == 201, r.text
    run = server.wait(r.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["confined"] is True
    tasks = {t["path"]: t for t in run["tasks"]}
    artifact_id = tasks["importer"]["outputs"]["artifacts"]["artifact"]
    artifact = server.http.get(f"{API}/artifacts/{artifact_id}").json()
    assert artifact["digest"] == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()
    got = server.http.get(f"{API}/artifacts/{artifact_id}/download")
    assert got.status_code == 200 and got.text == data.read_text()
    # A folder under the root, and the same through a file:// URL.
    r = _trigger(server, "import_uri", uri=f"file://{setup.allowed}/folder")
    assert r.status_code == 201, r.text
    assert server.wait(r.json()["id"])["status"] == "succeeded"


def test_a_folder_holding_a_link_out_of_the_roots_fails_in_the_task(setup: Setup) -> None:
    """The trigger checks the folder itself; what is inside is checked by the task that
    walks it, which refuses the link."""
    r = _trigger(setup.server, "import_uri", uri=str(setup.allowed))
    assert r.status_code == 201, r.text
    run = setup.server.wait(r.json()["id"])
    assert run["status"] == "failed"
    error = {t["path"]: t for t in run["tasks"]}["importer"]["error"]
    assert "UriNotAllowed" in error and "holds a link" in error


def test_constants_loops_and_nested_pipelines_are_checked_at_trigger(setup: Setup) -> None:
    body = _refused(setup, "import_constant")
    assert "'/etc/hostname' (a constant in the pipeline)" in body["error"]

    good = str(setup.allowed / "table.csv")
    body = _refused(setup, "import_each", uris=[good, "/etc/passwd"])
    assert body["where"]["task"] == "loop-1[1].importer"
    assert "item 1 of parameter 'uris'" in body["error"]

    body = _refused(setup, "import_nested", uri="/etc/passwd")
    assert body["where"]["task"] == "prepare.importer"


def test_a_uri_only_known_at_run_time_is_refused_by_the_task(setup: Setup) -> None:
    r = _trigger(setup.server, "import_from_output", path="/etc/hostname")
    assert r.status_code == 201, r.text
    run = setup.server.wait(r.json()["id"])
    assert run["status"] == "failed"
    importer = {t["path"]: t for t in run["tasks"]}["importer"]
    assert importer["error"].startswith("UriNotAllowed: '/etc/hostname' is outside the roots")
    assert importer["outputs"] is None


def test_a_backfill_naming_a_uri_outside_the_roots_creates_nothing(setup: Setup) -> None:
    server = setup.server
    before = server.count_runs("import_daily")
    r = server.http.post(
        f"{API}/schedules/import_daily/backfills",
        json={"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"},
    )
    assert r.status_code == 403, r.text
    assert "'/etc' (parameter 'uri')" in r.json()["error"]
    assert server.count_runs("import_daily") == before == 0


def test_the_scheduler_creates_no_run_for_a_uri_outside_the_roots(setup: Setup) -> None:
    server = setup.server
    server.wait_for(
        lambda: "schedule of pipeline 'import_daily' created no run" in server.log_tail(100_000),
        "the scheduler to refuse import_daily's run",
    )
    assert server.count_runs("import_daily") == 0


def test_retry_and_clear_check_the_roots_again(setup: Setup) -> None:
    server = setup.server
    extra = setup.outside.parent / "extra"
    extra.mkdir(exist_ok=True)
    (extra / "data.csv").write_text("x\n")
    assert server.cli("roots", "add", extra).returncode == 0
    r = _trigger(server, "import_uri", uri=str(extra / "data.csv"))
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    assert server.wait(run_id)["status"] == "succeeded"

    assert server.cli("roots", "remove", extra).returncode == 0
    r = server.http.post(f"{API}/runs/{run_id}/tasks/importer/clear", json={})
    assert r.status_code == 403, r.text
    assert "outside the roots" in r.json()["error"]
    assert server.run(run_id)["status"] == "succeeded"  # nothing was requeued

    assert server.cli("roots", "add", extra).returncode == 0
    r = server.http.post(f"{API}/runs/{run_id}/tasks/importer/clear", json={})
    assert r.status_code == 200, r.text
    assert server.wait(run_id)["status"] == "succeeded"


def test_a_local_run_outside_the_roots_is_neither_served_nor_requeued_by_the_server(
    setup: Setup,
) -> None:
    """A user's own 'headwater run' may import what they can read; the server still
    serves none of it, and will not run it again for a token holder."""
    server = setup.server
    local = server.cli("run", f"{PIPELINES}:import_uri", "-p", f"uri={setup.outside}")
    assert local.returncode == 0, local.stdout + local.stderr
    with server.store() as store:
        run = store.runs.list_runs(pipeline="import_uri", limit=1)[0]
        assert not run.confined
        importer = [t for t in store.tasks.task_runs(run.id) if t.path == "importer"][-1]
    artifact_id = importer.outputs["artifacts"]["artifact"] if importer.outputs else None
    for route in ("download?path=secret.txt", "files", "preview?path=secret.txt"):
        r = server.http.get(f"{API}/artifacts/{artifact_id}/{route}")
        assert r.status_code == 403, (route, r.text)
        assert "is not served" in r.json()["error"] and "outside the roots" in r.json()["error"]
        assert "TOPSECRET" not in r.text
    r = server.http.post(f"{API}/runs/{run.id}/tasks/importer/clear", json={})
    assert r.status_code == 403, r.text


def test_an_artifact_that_is_a_link_is_never_served(setup: Setup) -> None:
    """An artifact file in the artifact root that is a symbolic link (as one stored
    before outputs were checked could be) is refused for download, listing and preview,
    wherever it leads."""
    server = setup.server
    folder = setup.home / "artifacts" / "planted"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "real.txt").write_text("inside the artifact root")
    # A file outside the root whose content cannot turn up in a response by chance (a
    # short one such as /etc/hostname can appear inside a random id).
    outside = setup.home.parent / "outside-the-root.txt"
    secret = f"secret-{secrets.token_hex(16)}"
    outside.write_text(secret)
    (folder / "to-hostname").symlink_to(outside)
    (folder / "to-real").symlink_to(folder / "real.txt")
    with server.store() as store:
        out = store.lineage.add_artifact(
            NewArtifact("out", "headwater.Dataset", str(folder / "to-hostname"), None, None, {})
        )
        inside = store.lineage.add_artifact(
            NewArtifact("in", "headwater.Dataset", str(folder / "to-real"), None, None, {})
        )
    for route in ("download", "files", "preview"):
        r = server.http.get(f"{API}/artifacts/{out.id}/{route}")
        assert r.status_code == 403, (route, r.text)
        assert secret not in r.text
        r = server.http.get(f"{API}/artifacts/{inside.id}/{route}")
        assert r.status_code == 403, (route, r.text)
        assert "is a symbolic link, and links are never served" in r.json()["error"]


def test_a_task_output_that_is_a_link_is_refused(setup: Setup) -> None:
    r = _trigger(setup.server, "link_output", target="/etc/hostname")
    assert r.status_code == 201, r.text
    run = setup.server.wait(r.json()["id"])
    assert run["status"] == "failed"
    error = {t["path"]: t for t in run["tasks"]}["link_out"]["error"]
    assert "is a symbolic link" in error
    listed = setup.server.http.get(f"{API}/artifacts", params={"run_id": run["id"]}).json()
    assert listed["total"] == 0


def test_the_roots_are_listed(setup: Setup) -> None:
    r = setup.server.http.get(f"{API}/uri-roots")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["namespace"] == "default"
    kinds = {root["root"]: root["kind"] for root in body["roots"]}
    assert kinds[str(setup.home / "artifacts")] == "artifact root"
    assert kinds[str(setup.allowed)] == "added"
    assert os.path.isabs(body["roots"][0]["root"])
