"""Bad input through the API: refused with a 4xx naming what was wrong and how to fix it,
nothing created or saved, and every list still answering for everyone afterwards.

Each test here is a defect once reproduced against the server: a schedule edit refused
with 422 but saved anyway; a lone surrogate in a parameter that created a run and then
broke the run lists; no limit on bodies, parameter values, template renders or schedule
intervals; schedules that never fire accepted; template errors answered with a bare 500.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import Standalone

from headwater.client import Client
from headwater.errors import ParameterError

API = "/api/v1"
NAME = "bad_input_daily"
PIPELINE = """
from headwater import component, pipeline


@component
def stamp(day: str) -> str:
    return day


@pipeline(schedule="@daily", start_date="2024-01-01", catchup=False)
def bad_input_daily(day: str = "{{ ds }}"):
    stamp(day=day)
"""
LISTS = ("/runs", "/pipelines", "/schedules", "/grid?pipeline=server_report", "/pools")


@pytest.fixture(scope="module")
def other(server: Standalone, tmp_path_factory: pytest.TempPathFactory) -> httpx.Client:
    """``bad_input_daily`` deployed, and a client with another user's token."""
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "bad_input_daily.py").write_text(PIPELINE)
    server.deploy(folder / "bad_input_daily.py")
    made = server.cli("users", "create", "bystander")
    assert made.returncode == 0, made.stderr
    return server.anonymous(made.stdout.split()[-1])


def _lists_answer(client: httpx.Client) -> None:
    for route in LISTS:
        r = client.get(API + route)
        assert r.status_code == 200, (route, r.text)


def _settings(server: Standalone) -> dict[str, Any]:
    r = server.http.get(f"{API}/schedules/{NAME}")
    assert r.status_code == 200, r.text
    moving = ("last_start", "last_end", "next_start", "next_end")
    return {k: v for k, v in r.json().items() if k not in moving}


def _refused(r: httpx.Response, *says: str) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, r.text
    body: dict[str, Any] = r.json()
    for text in says:
        assert text in body["error"] + " " + (body.get("hint") or ""), body
    assert body["hint"], body
    return body


# ---------------------------------------------------------------------- schedule edits


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"interval_seconds": 1e-9}, ("shorter than a second", "between a second")),
        ({"interval_seconds": 0.001}, ("shorter than a second",)),
        ({"interval_seconds": 30}, ("every 30 seconds", "--min-schedule-interval")),
        ({"interval_seconds": 1e308}, ("interval_seconds",)),
        ({"cron": "0 0 31 2 *"}, ("never fires", "February")),
        ({"cron": "* * * * *", "max_active_runs": 1}, ()),  # every minute: allowed
    ],
    ids=["1e-9", "0.001", "30s", "1e308", "feb-31", "every-minute"],
)
def test_a_refused_schedule_edit_saves_nothing(
    server: Standalone, other: httpx.Client, changes: dict[str, Any], says: tuple[str, ...]
) -> None:
    """PATCH {"interval_seconds": 1e-9} used to answer 422 and store the value, after
    which the schedule and every list answered 422 for everyone until a reset."""
    before = _settings(server)
    r = server.http.patch(f"{API}/schedules/{NAME}", json=changes)
    try:
        if not says:
            assert r.status_code == 200, r.text
            return
        _refused(r, *says)
        assert _settings(server) == before
        _lists_answer(other)
    finally:
        server.http.patch(f"{API}/schedules/{NAME}", json={"reset": True})


def test_a_pause_sent_with_a_refused_edit_is_not_applied(
    server: Standalone, other: httpx.Client
) -> None:
    before = _settings(server)
    assert before["paused"] is False
    r = server.http.patch(f"{API}/schedules/{NAME}", json={"paused": True, "cron": "0 0 30 2 *"})
    _refused(r, "never fires")
    assert _settings(server) == before


# ---------------------------------------------------------------------- invalid text


def _post_raw(server: Standalone, body: bytes, pipeline: str = "server_report") -> httpx.Response:
    return server.http.post(
        f"{API}/pipelines/{pipeline}/runs",
        content=body,
        headers={"Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"parameters": {"n": 1, "label": "\\udcff"}}', "parameters.label"),
        (b'{"parameters": {"n": 1, "label": "a\\ud800b"}}', "not valid Unicode"),
        (b'{"parameters": {"n": 1, "note": ["x", {"k": "\\udfff"}]}}', "parameters.note[1].k"),
        (b'{"parameters": {"n": 1, "\\udcff": "x"}}', "key"),
        (b'{"parameters": {"n": 1, "label": "a\\u0000b"}}', "NUL"),
        (b'{"parameters": {"n": NaN}}', "NaN"),
        (b'{"parameters": {"n": -Infinity}}', "Infinity"),
        ('{"parameters": {"n": 1, "label": "\xff"}}'.encode("latin-1"), "not UTF-8"),
    ],
    ids=["surrogate", "surrogate-inside", "nested", "key", "nul", "nan", "infinity", "latin-1"],
)
def test_a_parameter_that_is_not_valid_text_is_refused_and_creates_nothing(
    server: Standalone, other: httpx.Client, body: bytes, says: str
) -> None:
    """{"s": "\\udcff"} used to answer 500 yet create and execute the run; from then on
    /runs, /pipelines and /grid answered 500 for everyone."""
    before = server.count_runs("server_report")
    _refused(_post_raw(server, body), says)
    assert server.count_runs("server_report") == before
    _lists_answer(other)


def test_the_python_client_refuses_such_parameters_before_sending(server: Standalone) -> None:
    before = server.count_runs("server_report")
    with Client(server.url, server.token) as hw:
        for bad in ("\udcff", float("nan")):
            with pytest.raises(ParameterError) as info:
                hw.trigger("server_report", {"n": 1, "label": bad})
            assert "parameters['label']" in info.value.message, info.value.message
            assert info.value.hint
    assert server.count_runs("server_report") == before


# ---------------------------------------------------------------------- limits


def test_a_body_over_the_size_limit_is_413_and_creates_nothing(
    server: Standalone, other: httpx.Client
) -> None:
    """A 50 MB JSON body used to be read and stored (the database grew by 145 MB)."""
    before = server.count_runs("server_report")
    huge = json.dumps({"parameters": {"n": 1, "label": "x" * (2 << 20)}}).encode()
    body = _refused(_post_raw(server, huge), "HEADWATER_MAX_REQUEST_BYTES", "--max-request-bytes")
    assert "1,048,576 bytes" in body["error"]

    def chunks() -> Any:  # no Content-Length: the limit holds while the body streams in
        for _ in range(40):
            yield b"x" * (64 << 10)

    with server.anonymous(server.token) as fresh:
        streamed = fresh.post(
            f"{API}/pipelines/server_report/runs",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert streamed.status_code == 413, streamed.text
    assert server.count_runs("server_report") == before
    _lists_answer(other)


def test_a_parameter_over_the_size_limit_is_refused(server: Standalone) -> None:
    before = server.count_runs("server_report")
    r = server.trigger_raw("server_report", n=1, label="x" * (300 << 10))
    _refused(r, "parameter 'label'", "262,144", "HEADWATER_MAX_PARAMETER_BYTES")
    assert server.count_runs("server_report") == before


def test_a_parameter_nested_too_deeply_is_refused(server: Standalone) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    r = server.trigger_raw("server_report", n=1, label=deep)
    _refused(r, "32 levels", "HEADWATER_MAX_JSON_DEPTH")


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ 'x' * 20000000 }}", ("65,536 bytes", "HEADWATER_MAX_RENDER_BYTES")),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
            "{% endfor %}{% endfor %}",
            ("did not finish within 1 s", "HEADWATER_MAX_RENDER_SECONDS"),
        ),
        (
            "{% set r = range(100000) %}{% for a in r %}{% for b in r %}{% for c in r %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            ("did not finish within 1 s", "--max-render-seconds"),
        ),
        ("{{ 'x' * 10**10 }}", ("memory", "HEADWATER_MAX_RENDER_MEMORY_BYTES")),
    ],
    ids=["20MB", "nested-loops", "loops-over-a-range", "10GB"],
)
def test_a_template_past_a_render_limit_is_refused(
    server: Standalone, other: httpx.Client, template: str, says: tuple[str, ...]
) -> None:
    """{{ 'x' * 20000000 }} used to store 20 MB; loops ran unbounded."""
    before = server.count_runs("server_report")
    r = server.trigger_raw("server_report", n=1, label=template)
    _refused(r, "parameter 'label'", *says)
    assert server.count_runs("server_report") == before
    _lists_answer(other)


# ---------------------------------------------------------------------- template errors


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError"),
        ("{{ range(10**9) | list }}", "Range too big"),
        ("{{ macros.timedelta(days=10**10) }}", "OverflowError"),
        ("{{ macros.ds_add('yesterday', 1) }}", "expects a date like '2026-03-01'"),
        ("{{ 10**5000 }}", "4300 digits"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recurses too deeply"),
        ("{{ ds ", "unexpected end of template"),
        ("{{ ''.__class__.__mro__ }}", "may not do"),
    ],
    ids=["div-zero", "huge-range", "timedelta", "ds_add", "10**5000", "recursion", "syntax", "esc"],
)
def test_a_template_error_is_a_422_naming_the_parameter_and_creates_nothing(
    server: Standalone, template: str, says: str
) -> None:
    """These used to answer a bare 'Internal Server Error'; once the next request on the
    same keep-alive connection was reset."""
    before = server.count_runs("server_report")
    r = server.trigger_raw("server_report", n=1, note=template)
    assert r.status_code == 422, r.text
    body = _refused(r, "parameter 'note'", says)
    assert body["error"].startswith("parameter 'note'")
    assert server.count_runs("server_report") == before
    again = server.http.get(f"{API}/runs", params={"limit": 1})  # same connection
    assert again.status_code == 200, again.text


def test_a_good_template_still_renders(server: Standalone, tmp_path: Path) -> None:
    run = server.trigger("server_report", n=1, note="{{ macros.ds_add(ds, -1) }}!")
    assert run["parameters"]["note"].endswith("!") and run["parameters"]["note"][:4].isdigit()
    assert server.wait(run["id"])["status"] == "succeeded"
