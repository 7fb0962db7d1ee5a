"""The audit log against a real ``headwater standalone``, on SQLite and PostgreSQL: every
mutating call is recorded with who, what and how it ended; secrets and large bodies are
not kept; a failing audit write fails no request; old rows are purged; the log is read
through ``GET /api/v1/audit`` and ``headwater audit list``.

Each database gets its own server (this module drops the audit table at its end), whose
database holds, before it starts, one audit row past the retention and one within it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from server_helpers import Standalone, start_standalone

from headwater.store import MetadataStore, NewAuditEvent

API = "/api/v1"
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
RETENTION_DAYS = 30


def _seed(url: str) -> None:
    """An old row (past the retention) and a recent one, written before the server starts."""
    store = MetadataStore.open(url)
    try:
        ages = ((RETENTION_DAYS + 5, "seed-old"), (RETENTION_DAYS - 5, "seed-new"))
        for days, request_id in ages:
            store.audit.record(
                NewAuditEvent(
                    at=datetime.now(UTC) - timedelta(days=days),
                    user_id=None,
                    user="seed",
                    method="POST",
                    route="/api/v1/seeded",
                    status=200,
                    request_id=request_id,
                    duration_ms=1.0,
                )
            )
    finally:
        store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def audited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standalone]:
    folder = tmp_path_factory.mktemp(f"audit-{request.param}")
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        database_url: str | None = url
    else:
        (folder / "home").mkdir()
        url, database_url = f"sqlite:///{folder / 'home' / 'headwater.db'}", None
    _seed(url)
    with start_standalone(
        folder,
        database_url=database_url,
        env={"HEADWATER_AUDIT_RETENTION_DAYS": str(RETENTION_DAYS)},
    ) as running:
        running.deploy(PIPELINES / "server_api.py", "server_sleepy")
        yield running


def _audit(server: Standalone, **params: Any) -> dict[str, Any]:
    r = server.http.get(f"{API}/audit", params=params)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def _row(server: Standalone, request_id: str) -> dict[str, Any]:
    """The audit row of ``request_id`` (written just after the response: wait for it)."""

    def written() -> dict[str, Any] | None:
        rows = [r for r in _audit(server, limit=500)["items"] if r["request_id"] == request_id]
        return rows[0] if rows else None

    found: dict[str, Any] = server.wait_for(written, f"the audit row of {request_id}")
    return found


def test_a_trigger_and_a_cancel_are_recorded_with_who_and_what(audited: Standalone) -> None:
    r = audited.http.post(
        f"{API}/pipelines/server_sleepy/runs", json={"parameters": {"seconds": 60}}
    )
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    trigger = _row(audited, r.headers["x-request-id"])
    me = audited.http.get(f"{API}/me").json()
    assert me["user"] == "admin"
    assert trigger["user"] == "admin" and trigger["user_id"]
    assert trigger["method"] == "POST"
    assert trigger["route"] == "/api/v1/pipelines/{name}/runs"
    assert trigger["path_params"] == {"name": "server_sleepy"}
    assert trigger["body"] == {"parameters": {"seconds": 60}}
    assert (trigger["status"], trigger["outcome"], trigger["error"]) == (201, "ok", None)
    assert trigger["namespace"] == "default"
    assert trigger["client"] == "127.0.0.1"
    assert trigger["duration_ms"] >= 0

    r = audited.http.post(
        f"{API}/runs/{run_id}/cancel", headers={"X-Request-ID": "cancel-of-the-nap"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "cancel-of-the-nap"
    cancel = _row(audited, "cancel-of-the-nap")
    assert cancel["route"] == "/api/v1/runs/{run_id}/cancel"
    assert cancel["path_params"] == {"run_id": run_id}
    assert (cancel["user"], cancel["status"], cancel["body"]) == ("admin", 200, None)


def test_failed_requests_are_recorded_with_their_error(audited: Standalone) -> None:
    missing = audited.http.post(f"{API}/runs/nosuchrun/cancel")
    unknown_route = audited.http.post(f"{API}/no/such/route", json={})
    invalid = audited.http.post(f"{API}/pipelines/server_sleepy/runs", json={"parameters": 3})
    with audited.anonymous() as nobody:
        refused = nobody.post(f"{API}/runs/nosuchrun/cancel")
    with audited.anonymous("hw_not_a_token") as stranger:
        bad_token = stranger.delete(f"{API}/pools/gpu")
    assert [x.status_code for x in (missing, unknown_route, invalid, refused, bad_token)] == [
        404,
        404,
        422,
        401,
        401,
    ]

    row = _row(audited, missing.headers["x-request-id"])
    assert (row["user"], row["status"], row["outcome"]) == ("admin", 404, "error")
    assert row["route"] == "/api/v1/runs/{run_id}/cancel"
    assert row["error"] == missing.json()["error"]

    row = _row(audited, unknown_route.headers["x-request-id"])
    assert (row["route"], row["status"], row["path_params"]) == ("/api/v1/no/such/route", 404, {})

    row = _row(audited, invalid.headers["x-request-id"])
    assert (row["status"], row["body"]) == (422, {"parameters": 3})
    assert row["error"].startswith("invalid request: parameters")

    for response in (refused, bad_token):
        row = _row(audited, response.headers["x-request-id"])
        assert (row["user"], row["user_id"], row["status"]) == ("anonymous", None, 401)
        assert row["error"] == response.json()["error"]
    assert _row(audited, bad_token.headers["x-request-id"])["route"] == "/api/v1/pools/{name}"


def test_secrets_in_a_body_are_never_recorded(audited: Standalone) -> None:
    secrets = {
        "password": "hunter2-password",
        "nested": {"api_token": "tok-value-1", "client_secret": "shh-value-2", "keep": 7},
        "note": "hw_lookslikeatoken",
    }
    r = audited.http.post(f"{API}/pipelines/server_sleepy/runs", json={"parameters": secrets})
    row = _row(audited, r.headers["x-request-id"])
    assert row["body"] == {
        "parameters": {
            "password": "[redacted]",
            "nested": {"api_token": "[redacted]", "client_secret": "[redacted]", "keep": 7},
            "note": "[redacted]",
        }
    }
    everything = json.dumps(_audit(audited, limit=500))
    for value in ("hunter2-password", "tok-value-1", "shh-value-2", "hw_lookslikeatoken"):
        assert value not in everything
    assert audited.token is not None and audited.token not in everything


def test_a_huge_body_is_summarised_within_bounds(audited: Standalone) -> None:
    big = {"blob": "x" * 500_000, "items": list(range(10_000)), "deep": {"a": {"b": {"c": {}}}}}
    r = audited.http.post(f"{API}/pipelines/server_sleepy/runs", json={"parameters": big})
    row = _row(audited, r.headers["x-request-id"])
    kept = row["body"]["parameters"]
    assert kept["blob"] == "<500000 characters>"
    assert kept["items"][:3] == [0, 1, 2] and kept["items"][-1] == "<9980 more items>"
    assert kept["deep"] == {"a": {"b": "<object of 1 keys>"}}  # four levels kept
    assert len(json.dumps(row["body"])) <= 4096

    wide = {f"key{i}": "v" * 199 for i in range(20)}
    r = audited.http.post(f"{API}/pipelines/server_sleepy/runs", json={"parameters": wide})
    row = _row(audited, r.headers["x-request-id"])
    assert row["body"]["summary"] == "too large to summarise"
    assert row["body"]["keys"] == ["parameters"]

    upload = audited.http.post(
        f"{API}/runs/nosuchrun/cancel",
        content=b"\x00\x01" * 1000,
        headers={"Content-Type": "application/octet-stream"},
    )
    row = _row(audited, upload.headers["x-request-id"])
    assert row["body"] == {"content_type": "application/octet-stream", "bytes": 2000}


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b'{"parameters": {"n\\u0000ul": "a\\u0000b"}}', {"parameters": {"n\ufffdul": "a\ufffdb"}}),
        (b'{"parameters": {"s": "\\udcff"}}', {"parameters": {"s": "?"}}),
        (b'{"parameters": {"x": NaN}}', {"parameters": {"x": "nan"}}),
        (
            b"[" * 100_000 + b"]" * 100_000,
            {"bytes": 200_000, "summary": "nested too deeply to summarise"},
        ),
        (b"{not json", {"bytes": 9, "summary": "not JSON"}),
    ],
)
def test_a_hostile_body_is_refused_and_still_recorded(
    audited: Standalone, raw: bytes, kept: Any
) -> None:
    r = audited.http.post(
        f"{API}/pipelines/server_sleepy/runs",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
    row = _row(audited, r.headers["x-request-id"])
    assert (row["status"], row["body"], row["error"]) == (r.status_code, kept, r.json()["error"])


def test_old_rows_are_purged_and_recent_ones_kept(audited: Standalone) -> None:
    audited.http.post(f"{API}/runs/nosuchrun/cancel")
    with audited.store() as store:

        def purged() -> bool:
            rows, _ = store.audit.page(limit=500)
            return "seed-old" not in {r.request_id for r in rows}

        audited.wait_for(purged, "the row past the retention to be purged")
        rows, _ = store.audit.page(limit=500)
    assert "seed-new" in {r.request_id for r in rows}


def test_filters_select_the_rows_asked_for(audited: Standalone) -> None:
    ok = audited.http.put(f"{API}/pools/audit-pool", json={"slots": 2})
    gone = audited.http.delete(f"{API}/pools/audit-pool")
    assert (ok.status_code, gone.status_code) == (200, 204), gone.text
    _row(audited, gone.headers["x-request-id"])

    deletes = _audit(audited, method="DELETE", route="/api/v1/pools/")["items"]
    assert deletes and {(r["method"], r["route"]) for r in deletes} == {
        ("DELETE", "/api/v1/pools/{name}")
    }
    assert all(r["outcome"] == "error" for r in _audit(audited, outcome="error")["items"])
    assert all(r["status"] < 400 for r in _audit(audited, outcome="ok")["items"])
    assert {r["user"] for r in _audit(audited, user="anonymous", limit=500)["items"]} <= {
        "anonymous"
    }
    assert _audit(audited, user="nobody-at-all")["total"] == 0

    everything = _audit(audited, limit=500)
    ids = [r["id"] for r in everything["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    first = _audit(audited, limit=2)
    assert [r["id"] for r in first["items"]] == ids[:2] and first["next_offset"] == 2
    second = _audit(audited, limit=2, offset=2)
    assert [r["id"] for r in second["items"]] == ids[2:4]

    seeded = _audit(audited, route="/api/v1/seeded")["items"]
    assert [r["request_id"] for r in seeded] == ["seed-new"]
    at = datetime.fromisoformat(seeded[0]["at"])
    window = {"since": (at - timedelta(seconds=1)).isoformat()}
    assert "seed-new" in {r["request_id"] for r in _audit(audited, limit=500, **window)["items"]}
    window["until"] = (at + timedelta(seconds=1)).isoformat()
    assert [r["request_id"] for r in _audit(audited, **window)["items"]] == ["seed-new"]
    later = {"since": (at + timedelta(seconds=1)).isoformat(), "route": "/api/v1/seeded"}
    assert _audit(audited, **later)["total"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"method": "GET"}, "method"),
        ({"since": "yesterday"}, "since"),
        ({"route": "runs"}, "query.route: 'runs' is not a route prefix"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "is not before"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_are_refused_with_what_is_wrong(
    audited: Standalone, params: dict[str, Any], expected: str
) -> None:
    r = audited.http.get(f"{API}/audit", params=params)
    assert r.status_code == 422, r.text
    assert expected in r.json()["error"] and r.json()["hint"]


def test_the_cli_lists_the_log_here_and_on_the_server(audited: Standalone) -> None:
    r = audited.http.post(f"{API}/runs/cli-missing/cancel")
    _row(audited, r.headers["x-request-id"])

    here = audited.cli("audit", "list", "--failed", "--since", "1h", "--format", "json")
    assert here.returncode == 0, here.stderr
    rows = json.loads(here.stdout)["items"]
    assert any(r["path_params"] == {"run_id": "cli-missing"} for r in rows)
    assert all(r["status"] >= 400 for r in rows)

    remote = audited.cli(
        "audit", "list", "--server", audited.url, "--token", str(audited.token), "--user", "admin"
    )
    assert remote.returncode == 0, remote.stderr
    assert "/api/v1/runs/cli-missing/cancel" in remote.stdout and "admin" in remote.stdout

    bad = audited.cli("audit", "list", "--since", "last tuesday")
    assert bad.returncode != 0
    assert "--since 'last tuesday' is neither a duration nor a date" in bad.stdout + bad.stderr


def test_a_failing_audit_write_fails_no_request(audited: Standalone) -> None:
    """Last: the audit table is dropped under the running server."""
    engine = sa.create_engine(audited.database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE audit_events"))
    finally:
        engine.dispose()

    missing = audited.http.post(f"{API}/runs/nosuchrun/cancel")
    assert missing.status_code == 404 and missing.json()["error"], missing.text
    created = audited.http.put(f"{API}/pools/after-drop", json={"slots": 1})
    assert created.status_code == 200, created.text
    assert audited.http.get(f"{API}/pools").status_code == 200

    def logged() -> bool:
        return created.headers["x-request-id"] in audited.log.read_text(errors="replace")

    audited.wait_for(logged, "the failed audit write to be logged")
    lines = [
        line
        for line in audited.log.read_text(errors="replace").splitlines()
        if created.headers["x-request-id"] in line
    ]
    assert len(lines) == 1 and lines[0].startswith("audit: could not record PUT"), lines
    with httpx.Client(base_url=audited.url, timeout=30) as plain:
        assert plain.get(f"{API}/health").json()["database"] == "ok"
