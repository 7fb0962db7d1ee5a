"""An importer pointed at the server's own SQLite file, against a real ``headwater standalone``.

SQLite's POSIX locks belong to a process: a server that opened and closed its own database
file (to hash it for an importer) silently dropped its locks, and the next ordinary
connect/close by another process deleted the WAL the server was still writing to, so the
API's writes were invisible to the CLI and lost when the server stopped. Runs created
through the server may not name the database at all; and since importers hash in a task
process, even a run the server's scheduler drives for a user (who may read the file)
(a local backfill the scheduler adopted) leaves the server's locks alone.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server_helpers import start_standalone

from headwater.states import RunStatus
from headwater.store import MetadataStore

API = "/api/v1"
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines" / "importers.py"


def test_importing_the_database_never_costs_the_server_its_writes(tmp_path: Path) -> None:
    with start_standalone(tmp_path) as server:
        server.deploy(PIPELINES, "import_uri")
        db = server.home / "headwater.db"

        # Through the server: refused before a run exists.
        r = server.http.post(
            f"{API}/pipelines/import_uri/runs", json={"parameters": {"uri": str(db)}}
        )
        assert r.status_code == 403, r.text
        assert "metadata database" in r.json()["error"]
        assert server.count_runs("import_uri") == 0

        # A user's own run (not confined: a 'headwater backfill' whose process stopped),
        # driven by the server's scheduler: its importer hashes the database file, which
        # that user may read, in a task process.
        with server.store() as store:
            version = store.pipelines.list_versions("import_uri")[0]
            users = store.runs.create_run(
                version, {"uri": str(db), "log": ""}, trigger="backfill-local", confined=False
            )
        assert server.wait(users.id)["status"] == "succeeded"

        # One ordinary connection from another process, opened and closed.
        outside = sqlite3.connect(db)
        outside.execute("select 1")
        outside.execute("select count(*) from runs")  # reads the database: opens the WAL
        outside.close()

        # The API's writes are seen by the CLI, and the CLI's by the API.
        data = server.home / "artifacts" / "data.csv"
        data.write_text("a\n1\n")
        r = server.http.post(
            f"{API}/pipelines/import_uri/runs", json={"parameters": {"uri": str(data)}}
        )
        assert r.status_code == 201, r.text
        api_run = r.json()["id"]
        listed = server.cli("runs", "list", "--pipeline", "import_uri")
        assert api_run in listed.stdout, listed.stdout + listed.stderr
        made = server.cli("pools", "set", "after-import", "--slots", "3")
        assert made.returncode == 0, made.stderr
        pools = server.http.get(f"{API}/pools").json()
        assert "after-import" in {p["name"] for p in pools}
        assert server.wait(api_run)["status"] == "succeeded"

    # And they outlive the server.
    store = MetadataStore.open(f"sqlite:///{db}")
    try:
        assert store.runs.get_run(api_run).status is RunStatus.SUCCEEDED
        assert store.runs.get_run(users.id).status is RunStatus.SUCCEEDED
    finally:
        store.close()
