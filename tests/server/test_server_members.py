"""Namespaces and members through the HTTP API of a real server (what the web UI's
namespace switcher and Members page use), and the permission table it publishes:
each route works, bad input is a clear 4xx that changes nothing, non-admins get 403."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import Standalone, start_standalone

from headwater.server._access import ROLE_PERMISSIONS

API = "/api/v1"
HEADER = "X-Headwater-Namespace"
PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
_SECRET = re.compile(r"hw_[A-Za-z0-9_-]{43}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    with start_standalone(tmp_path_factory.mktemp("members")) as running:
        made = running.cli("namespaces", "create", "ml")
        assert made.returncode == 0, made.stderr
        yield running


def _user(server: Standalone, name: str, role: str, namespace: str) -> httpx.Client:
    made = server.cli("users", "create", name, "--role", role, "--namespace", namespace)
    assert made.returncode == 0, made.stdout + made.stderr
    [secret] = _SECRET.findall(made.stdout)
    headers = {"Authorization": f"Bearer {secret}", HEADER: namespace}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_the_permission_table_is_published(server: Standalone) -> None:
    got = server.http.get(f"{API}/permissions")
    assert got.status_code == 200, got.text
    assert {role: set(p) for role, p in got.json().items()} == {
        role: {p.value for p in granted} for role, granted in ROLE_PERMISSIONS.items()
    }
    assert got.json()["viewer"] == ["read"]
    assert server.anonymous().get(f"{API}/permissions").status_code == 401


def test_an_admin_manages_the_members_of_their_namespace(server: Standalone) -> None:
    admin = _user(server, "adm", "admin", "ml")
    viewer = _user(server, "vic", "viewer", "ml")
    newbie = _user(server, "newbie", "viewer", "default")
    added = admin.put(f"{API}/members/newbie", json={"role": "editor"})
    assert added.status_code == 200, added.text
    assert added.json()["role"] == "editor" and added.json()["namespace"] == "ml"
    listed = viewer.get(f"{API}/members")
    assert listed.status_code == 200, listed.text
    assert {m["user"]: m["role"] for m in listed.json()} == {
        "adm": "admin",
        "newbie": "editor",
        "vic": "viewer",
    }
    changed = admin.put(f"{API}/members/newbie", json={"role": "viewer"})
    assert changed.json()["role"] == "viewer"
    assert admin.delete(f"{API}/members/newbie").status_code == 204
    assert "newbie" not in [m["user"] for m in admin.get(f"{API}/members").json()]
    # newbie keeps their other namespace.
    assert newbie.get(f"{API}/me").json()["namespaces"] == {"default": "viewer"}


def test_bad_member_changes_are_refused_clearly(server: Standalone) -> None:
    admin = _user(server, "adm2", "admin", "ml")
    before = server.snapshot()
    ghost = admin.put(f"{API}/members/ghost", json={"role": "editor"})
    assert ghost.status_code == 404 and "no user 'ghost'" in ghost.json()["error"]
    bad = admin.put(f"{API}/members/adm2", json={"role": "king"})
    assert bad.status_code == 422, bad.text
    assert "'king' is not a namespace role" in bad.json()["error"]
    assert "viewer, editor, admin" in bad.json()["hint"]
    owner = admin.put(f"{API}/members/adm2", json={"role": "owner"})
    assert owner.status_code == 422
    missing = admin.put(f"{API}/members/adm2", json={})
    assert missing.status_code == 422 and "role" in missing.json()["error"]
    gone = admin.delete(f"{API}/members/ghost")
    assert gone.status_code == 404 and "no member of namespace 'ml'" in gone.json()["error"]
    assert server.snapshot() == before


def test_non_admins_may_not_change_members(server: Standalone) -> None:
    editor = _user(server, "edd", "editor", "ml")
    before = server.snapshot()
    for r in (
        editor.put(f"{API}/members/edd", json={"role": "admin"}),
        editor.delete(f"{API}/members/edd"),
        editor.post(f"{API}/namespaces", json={"name": "mine"}),
        editor.delete(f"{API}/namespaces/ml"),
    ):
        assert r.status_code == 403, r.text
        assert "editor in namespace 'ml'" in r.json()["error"] and "--role" in r.json()["hint"]
    assert server.snapshot() == before


def test_namespaces_list_create_and_delete(server: Standalone) -> None:
    owner = server.http
    made = owner.post(f"{API}/namespaces", json={"name": "vision", "description": "cv"})
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "vision" and made.json()["role"] == "owner"
    names = [n["name"] for n in owner.get(f"{API}/namespaces").json()]
    assert {"default", "ml", "vision"} <= set(names)
    # A member sees only their own namespaces, with their role in each.
    member = _user(server, "mona", "editor", "vision")
    assert member.get(f"{API}/namespaces").json()[0]["name"] == "vision"
    assert [(n["name"], n["role"]) for n in member.get(f"{API}/namespaces").json()] == [
        ("vision", "editor")
    ]
    again = owner.post(f"{API}/namespaces", json={"name": "vision"})
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    bad = owner.post(f"{API}/namespaces", json={"name": "Bad Name"})
    assert bad.status_code == 422 and "is not a valid name" in bad.json()["error"]
    # A namespace that holds a pipeline is not deleted.
    deployed = server.cli(
        "--namespace", "vision", "deploy", f"{PIPELINES / 'server_api.py'}:server_report"
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    full = owner.delete(f"{API}/namespaces/vision")
    assert full.status_code == 409 and "is not empty" in full.json()["error"]
    assert owner.post(f"{API}/namespaces", json={"name": "scratch"}).status_code == 201
    assert owner.delete(f"{API}/namespaces/scratch").status_code == 204
    unknown = owner.delete(f"{API}/namespaces/scratch")
    assert unknown.status_code == 404 and "no namespace 'scratch'" in unknown.json()["error"]
    default = owner.delete(f"{API}/namespaces/default")
    assert default.status_code == 409
