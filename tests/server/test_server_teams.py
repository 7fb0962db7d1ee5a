"""Teams on one server: namespaces that isolate and roles enforced on every route,
against a real ``headwater standalone`` with two namespaces, on SQLite and PostgreSQL.

- ``ml`` and ``data`` each get the test pipelines deployed and one run, driven by the one
  scheduler (each namespace's artifacts under its own folder of the artifact root);
- users: ``ann`` (editor in ml), ``bob`` (editor in data), ``val`` (viewer in ml, editor
  in data), and ``v``/``e``/``a`` (viewer, editor, admin in ml); ``admin`` owns the server;
- every route of the OpenAPI document declares a permission, and every role gets exactly
  what the permission table grants it (403 otherwise);
- nothing of the other namespace can be read, written or downloaded, by name or by id:
  each attempt answers 404 (or 403), and the database is unchanged afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import Standalone, start_standalone

from headwater.server._access import PERMISSION_KEY, ROLE_PERMISSIONS

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
_SECRET = re.compile(r"hw_[A-Za-z0-9_-]{43}")
HEADER = "X-Headwater-Namespace"


class Team:
    """The running server, its users' tokens, and a finished run in each namespace."""

    def __init__(self, server: Standalone) -> None:
        self.server = server
        self.tokens: dict[str, str] = {"admin": server.token or ""}
        self.runs: dict[str, dict[str, Any]] = {}

    def user(self, name: str, role: str, namespace: str) -> None:
        made = self.server.cli("users", "create", name, "--role", role, "--namespace", namespace)
        assert made.returncode == 0, made.stdout + made.stderr
        [secret] = _SECRET.findall(made.stdout)
        self.tokens[name] = secret

    def client(self, user: str, namespace: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if namespace is not None:
            headers[HEADER] = namespace
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


def _team(server: Standalone) -> Team:
    team = Team(server)
    for namespace in ("ml", "data"):
        made = server.cli("namespaces", "create", namespace)
        assert made.returncode == 0, made.stderr
        deployed = server.cli(
            "--namespace", namespace, "deploy", f"{PIPELINES / 'server_api.py'}:server_report"
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    team.user("ann", "editor", "ml")
    team.user("bob", "editor", "data")
    team.user("val", "viewer", "ml")
    added = server.cli("members", "add", "val", "--role", "editor", "--namespace", "data")
    assert added.returncode == 0, added.stderr
    for name, role in (("v", "viewer"), ("e", "editor"), ("a", "admin")):
        team.user(name, role, "ml")
    for namespace, user in (("ml", "ann"), ("data", "bob")):
        with team.client(user, namespace) as http:
            r = http.post("/api/v1/pipelines/server_report/runs", json={"parameters": {"n": 2}})
            assert r.status_code == 201, r.text
            run_id = r.json()["id"]

            def done(http: httpx.Client = http, run_id: str = run_id) -> dict[str, Any] | None:
                found = http.get(f"/api/v1/runs/{run_id}").json()
                return found if found["status"] in ("succeeded", "failed", "cancelled") else None

            run = server.wait_for(done, f"run {run_id} in {namespace}")
            assert run["status"] == "succeeded", run
            team.runs[namespace] = run
    # data keeps a variable, a secret and a connection of its own.
    with team.client("admin", "data") as http:
        for route, body in (
            ("/api/v1/variables", {"name": "threshold", "value": {"min": 0.9}}),
            ("/api/v1/secrets", {"name": "warehouse", "value": "s3cr3t-of-data"}),
            ("/api/v1/connections", {"name": "lake", "uri": "postgresql://u:pw@db:5432/x"}),
        ):
            r = http.put(route, json=body)
            assert r.status_code in (200, 201), r.text
    return team


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def team(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Team]:
    if request.param == "sqlite":
        with start_standalone(tmp_path_factory.mktemp("teams")) as server:
            yield _team(server)
        return
    url = request.getfixturevalue("postgres_url")
    with start_standalone(tmp_path_factory.mktemp("teams-pg"), database_url=url) as server:
        yield _team(server)


def _artifact(team: Team, namespace: str) -> dict[str, Any]:
    with team.client("admin", namespace) as http:
        r = http.get("/api/v1/artifacts", params={"run_id": team.runs[namespace]["id"]})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert items, r.json()
        return dict(items[0])


def test_each_namespace_runs_its_own_pipelines_with_its_own_artifacts(team: Team) -> None:
    home = team.server.home
    for namespace in ("ml", "data"):
        artifact = _artifact(team, namespace)
        assert f"/namespaces/{namespace}/" in artifact["uri"], artifact
        assert str(home) in artifact["uri"]
    # Each namespace lists only its own runs and pipelines.
    for user, namespace in (("ann", "ml"), ("bob", "data")):
        with team.client(user, namespace) as http:
            runs = http.get("/api/v1/runs").json()["items"]
            assert [r["id"] for r in runs] == [team.runs[namespace]["id"]]
    with team.client("admin") as http:  # the default namespace has neither
        assert http.get("/api/v1/runs").json()["total"] == 0
        me = http.get("/api/v1/me").json()
        assert me["namespaces"] == {"data": "owner", "default": "owner", "ml": "owner"}
    with team.client("val") as http:
        me = http.get("/api/v1/me").json()
        assert me["role"] == "member" and me["namespaces"] == {"data": "editor", "ml": "viewer"}
        # Member of two namespaces and none named: the server asks which.
        r = http.get("/api/v1/runs")
        assert r.status_code == 400 and HEADER in r.json()["hint"], r.text
    with team.client("ann") as http:  # ann's only namespace is the one she works in
        assert http.get("/api/v1/runs").json()["items"][0]["id"] == team.runs["ml"]["id"]


def _routes(team: Team) -> list[tuple[str, str, str]]:
    document = team.server.http.get("/api/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            found.append((method.upper(), path, operation.get(PERMISSION_KEY)))
    return found


def test_every_route_declares_a_permission(team: Team) -> None:
    undeclared = [
        (m, p) for m, p, permission in _routes(team) if permission is None and p != "/api/v1/health"
    ]
    assert undeclared == []


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "nothing-here", path)


@pytest.mark.parametrize("role", ["v", "e", "a", "admin"])
def test_every_role_gets_exactly_what_the_permission_table_grants(team: Team, role: str) -> None:
    granted = ROLE_PERMISSIONS[{"v": "viewer", "e": "editor", "a": "admin"}.get(role, "owner")]
    wrong = []
    with team.client(role, "ml") as http:
        for method, path, permission in _routes(team):
            if permission in (None, "authenticated"):
                continue
            body = {} if method in ("POST", "PUT", "PATCH") else None
            r = http.request(method, _fill(path), json=body)
            allowed = permission in granted
            if (r.status_code == 403) == allowed:
                wrong.append((method, path, permission, r.status_code, r.text[:200]))
            if r.status_code == 403:
                said = r.json()
                assert "namespace 'ml'" in said["error"] and "--role" in said["hint"], said
            assert r.status_code < 500, (method, path, r.text)
    assert wrong == []


def _other(team: Team) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Reads and writes of the data namespace's objects, by id and by name."""
    run = team.runs["data"]
    artifact = _artifact(team, "data")
    rid, aid = run["id"], artifact["id"]
    return [
        ("GET", f"/api/v1/runs/{rid}", None),
        ("GET", f"/api/v1/runs/{rid}/tasks", None),
        ("GET", f"/api/v1/runs/{rid}/tasks/make_report/logs", None),
        ("GET", f"/api/v1/runs/{rid}/metrics", None),
        ("GET", f"/api/v1/artifacts/{aid}", None),
        ("GET", f"/api/v1/artifacts/{aid}/files", None),
        ("GET", f"/api/v1/artifacts/{aid}/preview", None),
        ("GET", f"/api/v1/artifacts/{aid}/lineage", None),
        ("POST", f"/api/v1/runs/{rid}/retry", {}),
        ("POST", f"/api/v1/runs/{rid}/cancel", {}),
        ("POST", f"/api/v1/runs/{rid}/tasks/make_report/clear", {}),
        ("GET", f"/api/v1/versions/{run['version_id']}", None),
        ("GET", f"/api/v1/versions/{run['version_id']}/source", None),
        ("GET", "/api/v1/variables/threshold", None),
        ("DELETE", "/api/v1/variables/threshold", None),
        ("DELETE", "/api/v1/secrets/warehouse", None),
        ("GET", "/api/v1/connections/lake", None),
        ("DELETE", "/api/v1/connections/lake", None),
    ]


def test_nothing_of_another_namespace_can_be_read_or_changed(team: Team) -> None:
    before = team.server.snapshot()
    refused = []
    # ann (editor in ml) asks for data's objects in her namespace, and in data itself.
    for namespace in ("ml", "data"):
        with team.client("ann", namespace) as http:
            for method, path, body in _other(team):
                r = http.request(method, path, json=body)
                if r.status_code not in (403, 404):
                    refused.append((namespace, method, path, r.status_code, r.text[:200]))
            if namespace == "data":
                r = http.post("/api/v1/pipelines/server_report/runs", json={"parameters": {"n": 1}})
                assert r.status_code == 404 and "no namespace 'data'" in r.json()["error"]
    # Names mean the caller's namespace: ml has no variable, secret or connection.
    with team.client("admin", "ml") as http:
        assert http.get("/api/v1/variables").json() == []
        assert http.get("/api/v1/secrets").json() == []
        assert http.get("/api/v1/connections").json() == []
    with team.client("val", "data") as http:  # data's own members see its names, no values
        listed = http.get("/api/v1/secrets")
        assert listed.status_code == 200 and [x["name"] for x in listed.json()] == ["warehouse"]
        assert "s3cr3t-of-data" not in listed.text
    # A namespace that does not exist answers exactly as one she is no member of.
    with team.client("ann", "ghost") as http:
        ghost = http.get("/api/v1/runs")
    with team.client("ann", "data") as http:
        member_of_none = http.get("/api/v1/runs")
    assert ghost.status_code == member_of_none.status_code == 404
    assert ghost.json()["error"].replace("ghost", "X") == member_of_none.json()["error"].replace(
        "data", "X"
    )
    # Names mean the object of the caller's namespace: a pipeline only data has is unknown.
    with team.client("bob", "data") as http:
        assert http.get("/api/v1/pipelines/server_report/versions").status_code == 200
    with team.client("val", "ml") as http:  # a viewer in ml may not trigger there
        r = http.post("/api/v1/pipelines/server_report/runs", json={"parameters": {"n": 1}})
        assert r.status_code == 403 and "viewer in namespace 'ml'" in r.json()["error"]
    assert refused == []
    assert team.server.snapshot() == before


def test_a_bad_namespace_header_is_refused(team: Team) -> None:
    bad_values: list[str | bytes] = ["ML", "a b", "x" * 200, "../etc", "ümlaut".encode()]
    for bad in bad_values:
        with team.client("admin") as http:
            r = http.get("/api/v1/runs", headers={HEADER: bad})
        assert r.status_code == 400, (bad, r.text)
        assert "is not a namespace name" in r.json()["error"]


def test_the_docs_show_the_permission_table_of_the_code() -> None:
    from headwater.server._access import permission_table

    docs = (Path(__file__).resolve().parents[2] / "docs" / "teams-and-security.md").read_text()
    shown = docs.split("<!-- permissions:start -->\n")[1].split("\n<!-- permissions:end -->")[0]
    assert shown == permission_table()


def test_an_app_with_a_route_that_declares_no_permission_is_refused() -> None:
    from fastapi import APIRouter, FastAPI

    from headwater.server._access import Permission, needs
    from headwater.server._app import _every_route_declares_a_permission

    public, router = APIRouter(prefix="/api/v1"), APIRouter(prefix="/api/v1")

    @public.get("/health")
    def health() -> None: ...

    @router.get("/things", **needs(Permission.READ))
    def things() -> None: ...

    @router.post("/things/{name}/burn")
    def burn(name: str) -> None: ...

    app = FastAPI()
    app.include_router(public)
    app.include_router(router)
    with pytest.raises(RuntimeError, match=r"POST /api/v1/things/\{name\}/burn declares no perm"):
        _every_route_declares_a_permission(app, public=public)
    router.routes.pop()  # without it, the app is accepted
    fine = FastAPI()
    fine.include_router(public)
    fine.include_router(router)
    _every_route_declares_a_permission(fine, public=public)
