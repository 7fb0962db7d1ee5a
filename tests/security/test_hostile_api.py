"""Every API route, taken from the server's OpenAPI document (a new route is covered
without a change here), fed hostile input: text that is not valid Unicode (lone
surrogate escapes in JSON, bytes that are not UTF-8 in bodies, query strings and path
segments), oversized bodies, huge and non-finite numbers, deep nesting and template
payloads. Every write must be refused with a 4xx in the API's error shape, no request
may get a 5xx, nothing may be created, changed or deleted, and the lists must still
answer for another user afterwards. The routes that act on their input (triggers,
schedule edits, backfills, pools) are also fed it on real resources.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hostile_inputs import (
    BODIES,
    FIELD_VALUES,
    PATH_VALUES,
    QUERY_VALUES,
    Operation,
    Target,
    example,
    leaves,
    operations,
    with_value,
)

API = "/api/v1"
MISSING = "no%20such%20thing"  # a name no resource has, and no pool may have


@pytest.fixture(scope="module")
def document(target: Target) -> dict[str, Any]:
    r = target.api.http.get("/api/openapi.json")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def _refused(target: Target, r: Any, what: str) -> None:
    assert 400 <= r.status_code < 500, (
        f"{target.database}: {what} -> {r.status_code}: {r.text[:300]}"
    )


def _body(op: Operation, document: dict[str, Any]) -> bytes | None:
    return json.dumps(example(op.body, document)).encode() if op.body else None


# ---------------------------------------------------------------------- every route


def test_the_suite_covers_every_route(target: Target, document: dict[str, Any]) -> None:
    ops = operations(document)
    assert len(ops) >= 30
    assert {op.label for op in ops} >= {
        "POST /api/v1/pipelines/{name}/runs",
        "PATCH /api/v1/schedules/{pipeline}",
        "PUT /api/v1/pools/{name}",
        "GET /api/v1/runs",
    }


def test_hostile_path_segments_are_refused(target: Target, document: dict[str, Any]) -> None:
    for op in operations(document):
        body = _body(op, document)
        for name in op.path_params:
            for label, value in PATH_VALUES.items():
                url = op.url({name: value}, default=MISSING)
                r = target.send(op.method, url, read_only=not op.writes, content=body)
                _refused(target, r, f"{op.label} with {name} = {label}")


def test_hostile_query_values_never_break_a_route(target: Target, document: dict[str, Any]) -> None:
    """A query value may be refused (a bad number) or match nothing (a bad name): never
    a 5xx, never a change."""
    for op in operations(document):
        body = _body(op, document)
        base = op.url(default=MISSING)
        for name in op.query:
            for label, value in QUERY_VALUES.items():
                r = target.send(
                    op.method, f"{base}?{name}={value}", read_only=not op.writes, content=body
                )
                if label in ("invalid UTF-8", "UTF-8 of a surrogate"):
                    _refused(target, r, f"{op.label} with ?{name}={label}")


def test_hostile_bodies_are_refused(target: Target, document: dict[str, Any]) -> None:
    for op in operations(document):
        if op.body is None:
            continue
        url = op.url(default=MISSING)
        good = example(op.body, document)
        for at in leaves(good):
            for label, raw in FIELD_VALUES.items():
                content = with_value(good, at, raw)
                opaque = (op.label, tuple(at)) in OPAQUE or at[-1:] == ("description",)
                if (opaque and label in TEMPLATE_LIKE) or (op.label, tuple(at)) in ANY_JSON:
                    continue  # a value there, not an attack: it would be stored as given
                r = target.send(op.method, url, read_only=False, content=content)
                _refused(target, r, f"{op.label} with {'.'.join(map(str, at))} = {label}")
        for label, raw in BODIES.items():
            r = target.send(op.method, url, read_only=False, content=raw)
            _refused(target, r, f"{op.label} with a body: {label}")


# Values the server keeps without ever reading them (a secret, a connection's password,
# a variable, any description): there, text that looks like a template is a value.
OPAQUE = {("PUT /api/v1/secrets", ("value",)), ("PUT /api/v1/connections", ("password",))}
# A variable's value is any JSON (tests/server/test_server_secrets.py tries its limits).
ANY_JSON = {("PUT /api/v1/variables", ("value",))}
TEMPLATE_LIKE = {"template", "runaway template"}
# The route that takes a source bundle has a limit of its own (HEADWATER_MAX_BUNDLE_BYTES).
BUNDLE_ROUTE = "POST /api/v1/pipelines"
OVER_THE_BUNDLE_LIMIT = b"x" * ((16 << 20) + 1)


def test_every_route_refuses_a_body_over_the_size_limit(
    target: Target, document: dict[str, Any]
) -> None:
    """Read or write, a route never reads more than the limit (413 before routing)."""
    huge = BODIES["2 MB"]
    for op in operations(document):
        url, content = op.url(default=MISSING), huge
        if op.label == BUNDLE_ROUTE:
            url, content = f"{url}?target=flow.py", OVER_THE_BUNDLE_LIMIT
        r = target.send(op.method, url, read_only=False, content=content)
        assert r.status_code == 413, f"{op.label} -> {r.status_code}: {r.text[:200]}"


def test_a_streamed_body_past_the_limit_is_refused(target: Target) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * (64 << 10)

    url = f"{API}/pipelines/server_report/runs"
    with target.api.anonymous(target.api.token) as fresh:
        target.tally.counts["tried"] += 1
        r = fresh.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    target.tally.counts["refused"] += 1


# ---------------------------------------------------------------------- real resources

TEMPLATES = [
    "{{ 1/0 }}",
    "{{ range(10**9) | list }}",
    "{{ macros.timedelta(days=10**10) }}",
    "{{ macros.ds_add('not a date', 1) }}",
    "{{ 10**5000 }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{{ 'x' * 20000000 }}",
    "{{ 'x' * 10**10 }}",
    "{% set r = range(100000) %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    '{{ "\\udcff" }}',
    '{{ "a\\x00b" }}',
    "{{ ds ",
]


def test_triggers_refuse_hostile_parameters(target: Target) -> None:
    url = f"{API}/pipelines/server_report/runs"

    def trigger(raw: bytes, what: str) -> None:
        r = target.send("POST", url, read_only=False, content=raw)
        _refused(target, r, what)

    good = {"parameters": {"n": 1, "label": "ok", "note": "ok"}}
    for name in ("label", "note"):
        for label, raw in FIELD_VALUES.items():
            trigger(with_value(good, ("parameters", name), raw), f"{name} = {label}")
        for template in TEMPLATES:
            trigger(json.dumps({"parameters": {"n": 1, name: template}}).encode(), template)
    for label, raw in FIELD_VALUES.items():
        if label != "-0":  # zero is a good int
            trigger(with_value(good, ("parameters", "n"), raw), f"n = {label}")
    trigger(with_value(good, ("parameters", "\udcff"), b"1"), "a parameter named by a surrogate")


def test_schedule_edits_refuse_hostile_values(target: Target) -> None:
    url = f"{API}/schedules/hostile_daily"
    numbers = [b"1e-9", b"0.001", b"30", b"1e308", b"1e400", b"1" + b"0" * 400, b"-0"]
    values: dict[str, list[bytes]] = {
        "interval_seconds": [*numbers, b"NaN", b"Infinity", b'"{{ 3600 }}"', b'"\\udcff"'],
        "cron": [
            b'"0 0 31 2 *"',
            b'"0 0 30 2 *"',
            b'"{{ 1/0 }}"',
            b'"\\udcff * * * *"',
            b'"0 0 \\u0000 * *"',
            b'"' + b"* " * 300 + b'"',
            b'"* * * * * * *"',
            b"1e308",
        ],
        "timezone": [
            b'"\\udcff"',
            b'"Mars/Phobos"',
            b'"../../etc/localtime"',
            b'"' + b"x" * 100 + b'"',
        ],
        "start_date": [b'"10000-01-01T00:00:00Z"', b'"{{ ds }}"', b"1e308", b'"\\udcff"'],
        "end_date": [b'"2000-01-01T00:00:00Z"', b'"0001-01-01T00:00:00+14:00"'],
        "max_active_runs": [b"-0", b"0", b"1" + b"0" * 400, b"1e308", b"NaN", b"2.5"],
        "catchup": [b'"{{ true }}"', b"1" + b"0" * 400, b"NaN"],
        "paused": [b'"yes please"', b"2"],
    }
    for name, raws in values.items():
        for raw in raws:
            body = with_value({name: None}, (name,), raw)
            r = target.send("PATCH", url, read_only=False, content=body)
            _refused(target, r, f"PATCH {name} = {raw[:40]!r}")
    # A pause sent with a refused edit is not applied either (one transaction).
    r = target.send(
        "PATCH", url, read_only=False, content=b'{"paused": false, "cron": "0 0 31 2 *"}'
    )
    _refused(target, r, "unpause with a cron that never fires")


def test_backfills_refuse_hostile_windows(target: Target) -> None:
    url = f"{API}/schedules/hostile_daily/backfills"
    for start, end in [
        ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"),  # millions of days: the limit
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z"),
        ("{{ ds }}", "2024-01-02T00:00:00Z"),
        ("\udcff", "2024-01-02T00:00:00Z"),
    ]:
        body = json.dumps({"start": start, "end": end}).encode()
        r = target.send("POST", url, read_only=False, content=body)
        _refused(target, r, f"backfill {start} -> {end}")


def test_pools_refuse_hostile_values(target: Target) -> None:
    url = f"{API}/pools/hostile-pool"
    for raw in [b"1e308", b"1" + b"0" * 400, b"-1", b"NaN", b"2.5", b'"{{ 2 }}"']:
        r = target.send(
            "PUT", url, read_only=False, content=with_value({"slots": 1}, ("slots",), raw)
        )
        _refused(target, r, f"slots = {raw[:40]!r}")
    for raw in [b'"\\udcff"', b'"a\\u0000b"', b'"' + b"x" * 3000 + b'"']:
        body = with_value({"slots": 2, "description": None}, ("description",), raw)
        r = target.send("PUT", url, read_only=False, content=body)
        _refused(target, r, f"description = {raw[:40]!r}")


# ---------------------------------------------------------------------- below the routes


def test_hostile_credentials_are_refused(target: Target) -> None:
    for value in [b"Bearer \xff\xfe", b"Bearer " + b"x" * 8000, b"Bearer hw_\x7f\x80", b"\xff"]:
        target.tally.counts["tried"] += 1
        with target.api.anonymous() as client:
            r = client.get(f"{API}/runs", headers={"Authorization": value})  # type: ignore[dict-item]
        assert r.status_code in (400, 401, 431), (value[:20], r.status_code, r.text[:200])
        target.tally.counts["refused"] += 1


def test_bytes_that_are_not_ascii_in_the_request_line_are_refused(target: Target) -> None:
    """Raw (not %-encoded) bytes in the path: the HTTP server refuses them; the next
    connection is served as usual."""
    parts = urlsplit(target.api.url)
    for path in [b"/api/v1/runs/\xff\xfe", b"/api/v1/pipelines/\xed\xb3\xbf/versions"]:
        target.tally.counts["tried"] += 1
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(
                b"GET "
                + path
                + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + str(target.api.token).encode()
                + b"\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 400
        assert 400 <= status < 500, answer[:300]
        target.tally.counts["refused"] += 1
