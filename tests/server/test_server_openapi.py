"""The OpenAPI document is served and valid, and a schemathesis fuzz of every operation
gets no 5xx, on SQLite and on PostgreSQL; every 4xx it gets leaves the database as it
was, and the lists still answer for another user after the fuzz.

The fuzz talks to ``headwater server`` (the API without a scheduler), so the runs it
triggers, the schedules it edits and the tasks it clears stay rows: nothing executes.
The store holds a finished run (``headwater run``, with artifacts, logs, metrics and an
asset event) and deployed pipelines; path parameters are often drawn from their real
ids and names, so requests get past the 404s into each route's logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from server_helpers import Standalone, home_of, run_cli, start_standalone, version_id

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
EXAMPLES_PER_OPERATION = 4
SCHEDULED = """
from headwater import component, pipeline


@component
def stamp(day: str) -> str:
    return day


@pipeline(schedule="@daily", start_date="2024-01-01", end_date="2024-02-01", catchup=True)
def fuzz_daily(day: str = "{{ ds }}"):
    stamp(day=day)
"""


@dataclass
class Fuzzed:
    """An API-only server with data, the ids and names the fuzz may use, and another
    user's token."""

    api: Standalone
    values: dict[str, list[str]]
    watcher: str


def _cli(env: dict[str, str], *args: str | Path) -> str:
    done = run_cli(env, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    database_url = (
        request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    )
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    _, env = home_of(folder, database_url)
    token = _cli(env, "users", "create", "fuzzer", "--role", "admin").split()[-1]
    watcher = _cli(env, "users", "create", "watcher").split()[-1]
    (folder / "fuzz_daily.py").write_text(SCHEDULED)
    versions = [version_id(run_cli(env, "deploy", folder / "fuzz_daily.py"))]
    # A run of a file (not deployed): triggers of server_report then use its version.
    _cli(env, "run", f"{PIPELINES / 'server_api.py'}:server_report", "-p", "n=3")
    with start_standalone(folder, database_url=database_url, command="server", token=token) as api:
        run = api.http.get("/api/v1/runs", params={"pipeline": "server_report"}).json()["items"][0]
        versions.append(run["version_id"])
        artifacts = api.http.get("/api/v1/artifacts", params={"run_id": run["id"]}).json()
        api.http.put("/api/v1/pools/fuzz-pool", json={"slots": 2})
        yield Fuzzed(
            api,
            {
                "runs": [run["id"]],
                "artifacts": [a["id"] for a in artifacts["items"]],
                "tasks": ["make_report", "summarize"],
                "versions": versions,
                "names": ["server_report", "fuzz-pool"],
                "schedules": ["fuzz_daily"],
                "paths": ["part-0.csv", "escape", "../x"],
            },
            watcher,
        )


def test_the_openapi_document_is_served_and_valid(fuzzed: Fuzzed) -> None:
    r = fuzzed.api.http.get("/api/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    document = r.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Headwater"
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI meta-schema
    assert len(list(schema.get_all_operations())) >= 30
    docs = fuzzed.api.http.get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def _config(fuzzed: Fuzzed) -> SchemathesisConfig:
    bind = {"probability": 0.7}
    schedule_ops = ["GET /api/v1/schedules/{pipeline}", "PATCH /api/v1/schedules/{pipeline}"]
    return SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {fuzzed.api.token}"},
            "request-timeout": 30,
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "dictionaries": {k: {"values": v} for k, v in fuzzed.values.items()},
            "parameters": {
                "path.run_id": {"dictionary": "runs", **bind},
                "query.run_id": {"dictionary": "runs", **bind},
                "path.artifact_id": {"dictionary": "artifacts", **bind},
                "path.task": {"dictionary": "tasks", **bind},
                "path.version_id": {"dictionary": "versions", **bind},
                "path.name": {"dictionary": "names", **bind},
                "query.path": {"dictionary": "paths", "probability": 0.5},
                "query.pipeline": {"dictionary": "names", **bind},
            },
            # Backfills stay unbound: a fuzzed window over a bound schedule could ask
            # for millions of intervals (see the report on plan_backfill).
            "operations": [
                {
                    "include-name": schedule_ops,
                    "parameters": {"path.pipeline": {"dictionary": "schedules", **bind}},
                }
            ],
        }
    )


def _is_json(headers: dict[str, Any]) -> bool:
    found = {k.lower(): v for k, v in headers.items()}.get("content-type", [""])
    return str(found[0] if isinstance(found, list) else found).startswith("application/json")


def _problems(case: Any, api: Standalone) -> list[str]:
    """What is wrong with the answer to ``case``: a 5xx, an error not in the API's shape
    ({"error", "hint", ...}), or a 4xx that created, changed or deleted something."""
    before = api.snapshot()
    response = case.call(timeout=30)
    request = f"{case.operation.label} -> {response.status_code}: {case.as_curl_command()}"
    if response.status_code >= 500:
        return [f"{request}\n{response.text[:500]}"]
    if response.status_code >= 400:
        after = api.snapshot()
        changed = sorted(k for k in after if after[k] != before.get(k))
        if changed:
            return [f"{request}\nrefused, yet it changed the tables {changed}"]
    if response.status_code >= 400 and _is_json(response.headers):
        body = response.json()
        if not isinstance(body, dict) or not body.get("error"):
            return [f"{request}\nno 'error' in {response.text[:500]}"]
    return []


def _fuzz(operation: Any, mode: GenerationMode, failures: list[str], api: Standalone) -> int:
    """Send up to EXAMPLES_PER_OPERATION cases of ``operation``; returns how many."""
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        nonlocal sent
        sent += 1
        failures.extend(_problems(case, api))

    try:
        send()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return sent


def test_no_request_gets_a_server_error(fuzzed: Fuzzed) -> None:
    """Every operation, valid and (where it takes a query or a body) invalid requests;
    each 5xx is reported with the request that caused it, as a curl command."""
    schema = schemathesis.openapi.from_url(
        f"{fuzzed.api.url}/api/openapi.json", config=_config(fuzzed)
    )
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        sent += _fuzz(operation, GenerationMode.POSITIVE, failures, fuzzed.api)
        if operation.query or operation.body:  # a plain string path has no invalid value
            sent += _fuzz(operation, GenerationMode.NEGATIVE, failures, fuzzed.api)
    print(f"fuzz: {sent} requests")
    assert sent >= 100, f"only {sent} requests were generated"
    assert not failures, "\n\n".join(failures[:20])
    with fuzzed.api.anonymous(fuzzed.watcher) as watcher:
        for route in ("/runs", "/pipelines", "/schedules", "/grid?pipeline=server_report"):
            r = watcher.get("/api/v1" + route)
            assert r.status_code == 200, (route, r.text[:500])
