"""The hostile inputs the security suite sends, how requests are built from the OpenAPI
document, and the tally the suite prints at its end.

Values are raw bytes or raw URL text, so that what no well-behaved client would send
(a lone surrogate escape, NaN, a 400-digit integer, bytes that are not UTF-8) reaches
the server exactly as written.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from server_helpers import Standalone

# ---------------------------------------------------------------------- the inputs

# A JSON value written in place of one field of an otherwise well-formed body.
FIELD_VALUES: dict[str, bytes] = {
    "lone surrogate": b'"\\udcff"',
    "surrogate inside text": b'"ok\\ud800ok"',
    "NUL": b'"a\\u0000b"',
    "invalid UTF-8": b'"\xff\xfe"',
    "1e308": b"1e308",
    "1e400": b"1e400",
    "10**400": b"1" + b"0" * 400,
    "-2**63-1": str(-(2**63) - 1).encode(),
    "-0": b"-0",
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "nested 40 deep": b"[" * 40 + b"1" + b"]" * 40,
    "template": b'"{{ 1/0 }}"',
    "runaway template": (
        b'"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"'
    ),
    "300 KB of text": b'"' + b"x" * (300 << 10) + b'"',
}

# A whole body, in place of the JSON one.
BODIES: dict[str, bytes] = {
    "2 MB": b'{"parameters": {"k": "' + b"x" * (2 << 20) + b'"}}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "invalid UTF-8": b'{"k": "\xc3\x28"}',
    "UTF-8 surrogate bytes": b'{"k": "\xed\xb3\xbf"}',
    "NaN": b"NaN",
    "not JSON": b"{{ 1/0 }}",
    "a key that is a lone surrogate": b'{"\\udcff": 1}',
}

# A path segment, already %-encoded.
PATH_VALUES: dict[str, str] = {
    "invalid UTF-8": "%FF%FE",
    "UTF-8 of a surrogate": "%ED%B3%BF",
    "overlong UTF-8": "%C0%AF",
    "NUL": "a%00b",
    "template": "%7B%7B%207*7%20%7D%7D",
    "5,000 characters": "x" * 5000,
    "traversal": "..%2F..%2Fetc%2Fpasswd",
}

# A query parameter's value, already %-encoded.
QUERY_VALUES: dict[str, str] = {
    "invalid UTF-8": "%FF%FE",
    "UTF-8 of a surrogate": "%ED%B3%BF",
    "NUL": "%00",
    "1e308": "1e308",
    "10**400": "1" + "0" * 400,
    "-0": "-0",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "10,000 characters": "x" * 10_000,
    "template": "%7B%7B%207*7%20%7D%7D",
}

# ---------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """What one database's server answered to hostile input."""

    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        c = self.counts
        return (
            f"hostile inputs ({label}): {c['tried']} tried, {c['refused']} answered 4xx with "
            f"nothing created, {c['5xx']} 5xx ({c['read']} read-only requests answered 2xx, "
            f"nothing changed; {c['cli']} command lines refused with exit 1)"
        )


TALLIES: dict[str, Tally] = {}


# ---------------------------------------------------------------------- the target

LISTS = ("/runs", "/pipelines", "/schedules", "/grid?pipeline=server_report", "/pools", "/assets")


@dataclass
class Target:
    """A running server with data, its admin client and a bystander's."""

    database: str
    api: Standalone
    bystander: httpx.Client
    tally: Tally

    def send(
        self,
        method: str,
        url: str,
        *,
        read_only: bool,
        content: bytes | Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one hostile request and count its answer (a write must be refused)."""
        self.tally.counts["tried"] += 1
        sent = {"Content-Type": "application/json"} if content is not None else {}
        response = self.api.http.request(
            method, url, content=content, headers={**sent, **(headers or {})}
        )
        status = response.status_code
        if status >= 500:
            self.tally.counts["5xx"] += 1
            self.tally.failures.append(f"{method} {url[:200]} -> {status}: {response.text[:300]}")
        elif status >= 400:
            self.tally.counts["refused"] += 1
            body = response.json() if response.content else {}
            if not (isinstance(body, dict) and body.get("error") and "hint" in body):
                self.tally.failures.append(
                    f"{method} {url[:200]} -> {status} not in the API's error shape: "
                    f"{response.text[:300]}"
                )
        elif read_only:
            self.tally.counts["read"] += 1
        else:
            self.tally.failures.append(
                f"{method} {url[:200]} -> {status}: a hostile write was accepted"
            )
        return response

    def lists_answer(self) -> None:
        """Every list answers 200 for the bystander."""
        for route in LISTS:
            r = self.bystander.get("/api/v1" + route)
            assert r.status_code == 200, (self.database, route, r.text[:500])


# ---------------------------------------------------------------------- requests from OpenAPI


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: tuple[str, ...]
    query: dict[str, dict[str, Any]]
    body: dict[str, Any] | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def url(self, path_values: dict[str, str] | None = None, default: str = "x") -> str:
        url = self.path
        for name in self.path_params:
            url = url.replace("{" + name + "}", (path_values or {}).get(name, default))
        return url


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the API, with its path and query parameters and, for one that
    takes a body, the schema of that body."""
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            found.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    {p["name"]: p.get("schema", {}) for p in params if p["in"] == "query"},
                    _resolve(body["schema"], document) if body else None,
                )
            )
    return found


def example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A plausible value of ``schema`` (every property of an object given)."""
    schema = _resolve(schema, document)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, document).get("type") != "null"]
            return example(options[0], document) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if not props:
            return {"k": "v"}  # a free-form object (run parameters): one entry to replace
        return {name: example(sub, document) for name, sub in props.items()}
    if kind == "array":
        return [example(schema.get("items", {}), document)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2024-01-01T00:00:00Z"
    if "pattern" in schema and "none" in schema["pattern"]:
        return "none"
    return "x"


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths to the scalar values in ``value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))] or [path]
    return [path]


_MARK = "\u2603HOSTILE\u2603"


def with_value(body: Any, at: tuple[Any, ...], raw: bytes) -> bytes:
    """``body`` as JSON bytes with the value at ``at`` replaced by the raw JSON ``raw``."""
    copy = json.loads(json.dumps(body))
    if not at:
        return raw
    holder = copy
    for step in at[:-1]:
        holder = holder[step]
    holder[at[-1]] = _MARK
    text = json.dumps(copy).encode("ascii")  # a lone surrogate key stays an escape
    return text.replace(json.dumps(_MARK).encode("ascii"), raw)
