"""Bearer tokens: every route but health needs one; unknown, revoked and expired tokens
are refused with the reason; tokens made by the CLI work; the store keeps only hashes."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from server_helpers import Standalone, start_standalone

from headwater.store import MetadataStore
from headwater.store._schema import api_tokens

_METHODS = ("get", "post", "put", "patch", "delete")
_SECRET = re.compile(r"hw_[A-Za-z0-9_-]{20,}")


def _assert_refused(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert reason in body["error"], body
    assert body["hint"], body


def test_every_route_but_health_refuses_a_request_without_a_token(server: Standalone) -> None:
    with server.anonymous() as anon:
        spec = anon.get("/api/openapi.json").json()
        operations = [
            (method, path)
            for path, item in spec["paths"].items()
            for method in item
            if method in _METHODS
        ]
        assert ("get", "/api/v1/runs") in operations and len(operations) > 25
        for method, path in operations:
            url = re.sub(r"\{[^}]+\}", "x", path)
            body = {} if method in ("post", "put", "patch") else None
            r = anon.request(method.upper(), url, json=body)
            if path == "/api/v1/health":
                assert r.status_code == 200, r.text
                assert r.json()["database"] == "ok"
                continue
            assert r.status_code == 401, f"{method.upper()} {path}: {r.status_code} {r.text}"
            assert r.headers["www-authenticate"] == "Bearer", (method, path)
            body = r.json()
            assert body["error"] == "this route needs a bearer token", (method, path, body)
            assert "Authorization: Bearer" in body["hint"]


def test_auth_comes_before_checking_the_request(server: Standalone) -> None:
    with server.anonymous() as anon:
        r = anon.post("/api/v1/pipelines/server_sleepy/runs", json={"parameters": "not a dict"})
        _assert_refused(r, "needs a bearer token")
        r = anon.get("/api/v1/runs", params={"status": "bogus", "limit": 0})
        _assert_refused(r, "needs a bearer token")


def test_an_unknown_token_or_another_scheme_is_refused(server: Standalone) -> None:
    with server.anonymous("hw_" + "x" * 43) as stranger:
        _assert_refused(stranger.get("/api/v1/runs"), "the token is not known")
    with server.anonymous() as anon:
        r = anon.get("/api/v1/runs", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        _assert_refused(r, "needs a bearer token")
        r = anon.get("/api/v1/runs", headers={"Authorization": "Bearer"})
        _assert_refused(r, "needs a bearer token")


def test_the_admin_token_printed_by_standalone_works(server: Standalone) -> None:
    assert server.token is not None and server.token.startswith("hw_")
    me = server.http.get("/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["user"] == "admin" and me.json()["role"] == "owner"
    assert me.json()["namespaces"] == {"default": "owner"}
    assert server.token.startswith(me.json()["token"]["prefix"])


def test_users_create_prints_a_token_that_works(server: Standalone) -> None:
    made = server.cli("users", "create", "alice")
    assert made.returncode == 0, made.stderr
    assert "user alice (editor in namespace default) created" in made.stdout
    secrets = _SECRET.findall(made.stdout)
    assert len(secrets) == 1, made.stdout
    with server.anonymous(secrets[0]) as alice:
        me = alice.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"] == "alice" and me.json()["role"] == "member"
        assert me.json()["namespaces"] == {"default": "editor"}
        assert alice.get("/api/v1/runs").status_code == 200
    again = server.cli("users", "create", "alice")
    assert again.returncode == 1 and "user 'alice' already exists" in again.stderr


def test_a_revoked_token_is_refused_and_says_so(server: Standalone) -> None:
    made = server.cli("tokens", "create", "--user", "admin", "--name", "ci")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    token_id = re.search(r"token (\w+) for admin", made.stderr)
    assert _SECRET.fullmatch(secret) and token_id, (made.stdout, made.stderr)
    with server.anonymous(secret) as ci:
        assert ci.get("/api/v1/me").status_code == 200
        revoked = server.cli("tokens", "revoke", token_id.group(1))
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked" in revoked.stdout
        r = ci.get("/api/v1/me")
        _assert_refused(r, "was revoked")
        assert secret[:9] in r.json()["error"]  # names it by its prefix, never in full
        assert secret not in r.text
    listed = server.cli("tokens", "list")
    assert listed.returncode == 0 and "revoked" in listed.stdout
    # the admin token is untouched
    assert server.http.get("/api/v1/me").status_code == 200


def test_an_expired_token_is_refused(server: Standalone) -> None:
    with server.store() as store:
        _, secret = store.auth.create_token(
            "admin", "old", expires_at=datetime.now(UTC) - timedelta(minutes=5)
        )
    with server.anonymous(secret) as old:
        _assert_refused(old.get("/api/v1/runs"), "expired")


def test_a_token_with_an_expiry_works_until_then(server: Standalone) -> None:
    made = server.cli("tokens", "create", "--user", "admin", "--expires-in-days", "30")
    assert made.returncode == 0, made.stderr
    with server.anonymous(made.stdout.strip()) as ci:
        me = ci.get("/api/v1/me")
        assert me.status_code == 200, me.text
    expires = datetime.fromisoformat(me.json()["token"]["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


def test_a_token_cannot_be_made_to_expire_at_once_or_in_the_past(server: Standalone) -> None:
    made = server.cli("tokens", "create", "--user", "admin", "--expires-in-days", "0")
    assert made.returncode != 0, f"made a token: {made.stdout}"


def test_tokens_are_stored_hashed(server: Standalone) -> None:
    made = server.cli("tokens", "create", "--user", "admin", "--name", "hashed")
    secret = made.stdout.strip()
    assert _SECRET.fullmatch(secret), made.stdout
    with server.store() as store, store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(api_tokens))]
    assert rows
    for row in rows:
        for column, value in row.items():
            assert secret not in str(value), f"api_tokens.{column} holds the secret"
    mine = [r for r in rows if r["name"] == "hashed"]
    assert len(mine) == 1
    assert mine[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert mine[0]["prefix"] == secret[:9]


def test_the_admin_token_is_printed_on_the_first_start_only(tmp_path: Path) -> None:
    with start_standalone(tmp_path) as first:
        assert first.token is not None
        token = first.token
    with start_standalone(tmp_path) as second:
        assert second.token is None
        assert token not in second.log.read_text()
        with second.anonymous(token) as admin:
            assert admin.get("/api/v1/me").json()["user"] == "admin"


def test_a_token_is_server_wide_and_its_namespaces_come_from_memberships(
    server: Standalone,
) -> None:
    """Users and tokens belong to the server, not to a namespace: a store handle scoped
    to another namespace knows the same token (what it may do there is its user's role,
    tests/server/test_server_teams.py)."""
    assert server.token is not None
    other = MetadataStore.open(server.database_url, namespace="team-b")
    try:
        found = other.auth.authenticate(server.token)
        assert not isinstance(found, str) and found.user.name == "admin"
        assert found.user.role == "owner"
    finally:
        other.close()
