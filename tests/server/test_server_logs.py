"""Task logs through the API: byte ranges, and a server-sent event stream that follows a
running attempt until it ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from server_api import LOG_LINES, log_line
from server_helpers import Standalone

API = "/api/v1"
EXPECTED = "".join(log_line(i) + "\n" for i in range(LOG_LINES))


@pytest.fixture(scope="module")
def report_run(server: Standalone) -> str:
    run = server.wait(server.trigger("server_report", n=2, label="logs")["id"])
    assert run["status"] == "succeeded", run
    return str(run["id"])


def _logs(server: Standalone, run_id: str, **query: Any) -> dict[str, Any]:
    r = server.http.get(f"{API}/runs/{run_id}/tasks/make_report/logs", params=query)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _events(server: Standalone, url: str, **query: Any) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream, read until it closes."""
    events: list[tuple[str, str]] = []
    with server.http.stream("GET", url, params=query, timeout=90) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        event, data = "message", ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                events.append((event, data))
                event, data = "message", ""
    return events


def test_the_whole_log_of_an_ended_attempt(server: Standalone, report_run: str) -> None:
    size = len(EXPECTED.encode())
    assert _logs(server, report_run) == {
        "text": EXPECTED,
        "offset": 0,
        "next_offset": size,
        "size": size,
        "complete": True,
    }
    assert _logs(server, report_run, attempt=1)["text"] == EXPECTED


def test_a_range_of_the_log(server: Standalone, report_run: str) -> None:
    middle = _logs(server, report_run, offset=10, limit=25)
    assert middle["text"] == EXPECTED[10:35]
    assert (middle["offset"], middle["next_offset"], middle["complete"]) == (10, 35, False)
    resumed = _logs(server, report_run, offset=middle["next_offset"])
    assert middle["text"] + resumed["text"] == EXPECTED[10:] and resumed["complete"]


def test_a_negative_offset_reads_the_end(server: Standalone, report_run: str) -> None:
    tail = _logs(server, report_run, offset=-16)
    assert tail["text"] == EXPECTED[-16:]
    assert tail["offset"] == len(EXPECTED) - 16 and tail["complete"]
    everything = _logs(server, report_run, offset=-(10**6))
    assert everything["text"] == EXPECTED and everything["offset"] == 0


def test_an_offset_past_the_end_reads_nothing(server: Standalone, report_run: str) -> None:
    past = _logs(server, report_run, offset=10**6)
    assert past["text"] == "" and past["offset"] == past["size"] == len(EXPECTED)


def test_an_unknown_task_or_attempt_is_404(server: Standalone, report_run: str) -> None:
    r = server.http.get(f"{API}/runs/{report_run}/tasks/make_report/logs", params={"attempt": 2})
    assert r.status_code == 404 and "has no attempt 2" in r.json()["error"], r.text
    r = server.http.get(f"{API}/runs/{report_run}/tasks/nope/logs")
    assert r.status_code == 404 and "has no task 'nope'" in r.json()["error"], r.text
    assert f"/api/v1/runs/{report_run}/tasks" in r.json()["hint"]
    r = server.http.get(f"{API}/runs/{report_run}/tasks/make_report/logs", params={"limit": 0})
    assert r.status_code == 422, r.text


def test_following_an_ended_attempt_streams_its_log_then_ends(
    server: Standalone, report_run: str
) -> None:
    events = _events(server, f"{API}/runs/{report_run}/tasks/make_report/logs/follow")
    assert events[-1] == ("end", "{}")
    chunks = [json.loads(data) for kind, data in events[:-1]]
    assert all(kind == "message" for kind, _ in events[:-1])
    assert "".join(c["text"] for c in chunks) == EXPECTED
    assert chunks[0]["offset"] == 0

    later = _events(server, f"{API}/runs/{report_run}/tasks/make_report/logs/follow", offset=7)
    assert "".join(json.loads(d)["text"] for _, d in later[:-1]) == EXPECTED[7:]


def test_following_a_running_attempt_streams_until_it_ends(server: Standalone) -> None:
    run_id = server.trigger("server_sleepy", seconds=1.5, ticks=5)["id"]

    def nap_started() -> bool:
        return any(t["path"] == "nap" for t in server.run(run_id)["tasks"])

    server.wait_for(nap_started, "the nap task to start")
    events = _events(server, f"{API}/runs/{run_id}/tasks/nap/logs/follow")
    assert events[-1] == ("end", "{}")
    streamed = "".join(json.loads(data)["text"] for _, data in events[:-1])
    assert streamed == "".join(f"tick {i}\n" for i in range(5))
    nap = server.http.get(f"{API}/runs/{run_id}/tasks", params={"task": "nap"}).json()
    assert nap["items"][0]["status"] == "succeeded"  # the stream ends when the attempt does
    assert server.wait(run_id)["status"] == "succeeded"
