"""The command line fed the same hostile input, on each database: an argument whose bytes
are not UTF-8 (what a non-UTF-8 terminal or a binary file name gives), a schedule that
never runs, a template that never ends. Each is an exit 1 with a message and a fix,
never a traceback (a non-UTF-8 ``-p`` value used to give an 87-line psycopg traceback
on PostgreSQL, and to be stored on SQLite); nothing is created or changed.
"""

from __future__ import annotations

import subprocess

import pytest
from hostile_inputs import Target
from server_helpers import HEADWATER


def _cli(target: Target, *args: str | bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HEADWATER), *args],
        cwd=target.api.home,
        env=target.api.env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )


def _refused(target: Target, done: subprocess.CompletedProcess[str], *says: str) -> None:
    target.tally.counts["cli"] += 1
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text and "psycopg" not in text, text
    assert "fix:" in text, text
    for part in says:
        assert part in " ".join(text.split()), text


@pytest.mark.parametrize(
    "args",
    [
        ("trigger", "server_report", "-p", "n=1", "-p", b"label=caf\xe9"),
        ("schedules", "set", "hostile_daily", "--timezone", b"Europe/\xff"),
        ("pools", "set", b"pool\xfe", "--slots", "1"),
        ("assets", "emit", b"warehouse://caf\xe9"),
        ("assets", "emit", "warehouse://sales", "--metadata", b'{"by": "\xff"}'),
    ],
    ids=["trigger", "timezone", "pool", "asset", "asset-metadata"],
)
def test_an_argument_that_is_not_utf8_is_refused(
    target: Target, args: tuple[str | bytes, ...]
) -> None:
    _refused(target, _cli(target, *args), "not valid Unicode", "UTF-8")


def test_the_client_path_refuses_it_too(target: Target) -> None:
    done = _cli(
        target, "trigger", "server_report", "--server", target.api.url,
        "--token", str(target.api.token), "-p", "n=1", "-p", b"label=\xff",
    )  # fmt: skip
    _refused(target, done, "not valid Unicode")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--every", "inf"), "not a finite number"),
        (("--every", "1e308"), "longer than ten years"),
        (("--every", "5"), "HEADWATER_MIN_SCHEDULE_INTERVAL"),
        (("--cron", "0 0 31 2 *"), "never fires"),
    ],
    ids=["inf", "1e308", "5s", "feb-31"],
)
def test_a_schedule_that_cannot_run_is_refused(
    target: Target, args: tuple[str, ...], says: str
) -> None:
    _refused(target, _cli(target, "schedules", "set", "hostile_daily", *args), says)


def test_a_template_that_never_ends_is_stopped(target: Target) -> None:
    runaway = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    done = _cli(target, "trigger", "server_report", "-p", "n=1", "-p", f"label={runaway}")
    _refused(target, done, "parameter 'label'", "did not finish within 1 s")
