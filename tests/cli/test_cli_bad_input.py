"""Bad input on the command line: a clear error and exit 1, no traceback, nothing created.

Undecodable bytes in an argument, schedules that never run or break every scheduler
pass (``--every inf``, ``--every 1e308``, ``--cron '0 0 31 2 *'``), schedules more
frequent than the minimum interval, limits set to values they cannot take, and
backfills larger than the limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.store import MetadataStore

HEADWATER = str(Path(sys.executable).with_name("headwater"))
PIPELINES = """
from datetime import timedelta

from headwater import component, pipeline


@component
def echo(text: str) -> str:
    return text


@pipeline(schedule="@daily", start_date="2024-01-01", catchup=False)
def cli_daily(text: str = "{{ ds }}"):
    echo(text=text)


@pipeline
def cli_plain(text: str = "plain"):
    echo(text=text)
"""
FREQUENT = """
from datetime import timedelta

from headwater import component, pipeline


@component
def echo(text: str) -> str:
    return text


@pipeline(schedule=timedelta(seconds=30), start_date="2024-01-01")
def cli_frequent(text: str = "x"):
    echo(text=text)
"""


class Home:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HEADWATER_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE")
        }
        self.env.update(HEADWATER_HOME=str(folder / "home"), NO_COLOR="1", COLUMNS="200")

    def cli(self, *args: str | bytes, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HEADWATER, *args],
            cwd=self.folder,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            errors="replace",
            timeout=180,
        )

    def runs(self) -> int:
        store = MetadataStore.open(f"sqlite:///{self.folder / 'home' / 'headwater.db'}")
        try:
            return len(store.runs.list_runs(limit=1000))
        finally:
            store.close()

    def overrides(self) -> object:
        store = MetadataStore.open(f"sqlite:///{self.folder / 'home' / 'headwater.db'}")
        try:
            return store.schedules.get_schedule("cli_daily").overrides
        finally:
            store.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    folder = tmp_path_factory.mktemp("cli-bad-input")
    (folder / "cli_pipelines.py").write_text(PIPELINES)
    (folder / "cli_frequent.py").write_text(FREQUENT)
    made = Home(folder)
    deployed = made.cli("deploy", "cli_pipelines.py:cli_daily")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    yield made


def _refused(done: subprocess.CompletedProcess[str], *says: str) -> str:
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert "Traceback" not in text, text
    assert "error:" in text and "fix:" in text, text
    for part in says:
        assert part in " ".join(text.split()), text
    return text


def test_an_argument_with_undecodable_bytes_is_refused_before_anything_runs(home: Home) -> None:
    """A non-UTF-8 -p value used to reach the store: stored on SQLite (breaking every
    run list), an 87-line psycopg traceback on PostgreSQL."""
    before = home.runs()
    done = home.cli("run", "cli_pipelines.py:cli_plain", "-p", b"text=caf\xe9")
    _refused(done, "command-line argument 4", "not valid Unicode", "UTF-8")
    done = home.cli("trigger", "cli_daily", "-p", b"text=\xff\xfe")
    _refused(done, "not valid Unicode")
    assert home.runs() == before


def test_a_parameter_over_the_size_limit_is_refused(home: Home) -> None:
    before = home.runs()
    done = home.cli(
        "run", "cli_pipelines.py:cli_plain", "-p", "text=" + "x" * 5000,
        HEADWATER_MAX_PARAMETER_BYTES="4096",
    )  # fmt: skip
    _refused(done, "parameter 'text'", "4,096", "HEADWATER_MAX_PARAMETER_BYTES")
    assert home.runs() == before


def test_a_template_error_in_a_cli_parameter_is_clear_and_creates_nothing(home: Home) -> None:
    before = home.runs()
    done = home.cli("run", "cli_pipelines.py:cli_plain", "-p", "text={{ 1/0 }}")
    _refused(done, "parameter 'text'", "ZeroDivisionError")
    assert home.runs() == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--every", "inf"), ("not a finite number",)),
        (("--every", "nan"), ("not a finite number",)),
        (("--every", "1e308"), ("longer than ten years",)),
        (("--every", "0.001"), ("shorter than a second",)),
        (("--every", "30"), ("every 30 seconds", "HEADWATER_MIN_SCHEDULE_INTERVAL")),
        (("--cron", "0 0 31 2 *"), ("never fires", "February")),
        (("--cron", "*/1 * * * *"), ()),
    ],
    ids=["inf", "nan", "1e308", "0.001", "30s", "feb-31", "every-minute"],
)
def test_a_schedule_edit_that_cannot_run_is_refused_and_saves_nothing(
    home: Home, args: tuple[str, ...], says: tuple[str, ...]
) -> None:
    """--every inf and --every 1e308 used to be saved (the scheduler then logged an
    OverflowError on every pass), and a cron that never fires too."""
    before = home.overrides()
    done = home.cli("schedules", "set", "cli_daily", *args)
    try:
        if not says:
            assert done.returncode == 0, done.stdout + done.stderr
            return
        _refused(done, *says)
        assert home.overrides() == before
    finally:
        home.cli("schedules", "set", "cli_daily", "--reset")


def test_a_schedule_more_frequent_than_the_minimum_is_not_deployed(home: Home) -> None:
    done = home.cli("deploy", "cli_frequent.py")
    _refused(done, "every 30 seconds", "more often than the 60 seconds", "--min-schedule-interval")
    assert "cli_frequent" not in home.cli("pipelines", "list").stdout
    allowed = home.cli("deploy", "cli_frequent.py", HEADWATER_MIN_SCHEDULE_INTERVAL="10")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [("lots", "not a whole number"), ("0", "at least"), ("-5", "at least")],
)
def test_a_limit_set_to_an_unusable_value_is_refused(home: Home, value: str, says: str) -> None:
    before = home.runs()
    done = home.cli("run", "cli_pipelines.py:cli_plain", HEADWATER_MAX_PARAMETER_BYTES=value)
    _refused(done, "HEADWATER_MAX_PARAMETER_BYTES", says)
    assert home.runs() == before


def test_a_backfill_over_the_limit_is_refused_before_any_run(home: Home) -> None:
    before = home.runs()
    window = ("--start", "2024-01-01", "--end", "2026-01-01")  # 731 days
    done = home.cli("backfill", "cli_daily", *window, HEADWATER_MAX_BACKFILL_RUNS="50")
    _refused(done, "more than 50 runs", "HEADWATER_MAX_BACKFILL_RUNS")
    assert home.runs() == before


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("pools", "set", "big", "--slots", "1" + "0" * 20), 2, "not in the range"),
        (("runs", "list", "--limit", "1" + "0" * 20), 2, "not in the range"),
        (("schedules", "set", "cli_daily", "--max-active-runs", "1" + "0" * 20), 2, "range"),
        (("tokens", "create", "--user", "nobody", "--expires-in-days", "1e308"), 1, "100 years"),
        (("tokens", "create", "--user", "nobody", "--expires-in-days", "nan"), 1, "100 years"),
        (("scheduler", "--once", "--interval", "nan"), 1, "--interval nan"),
        (
            ("backfill", "cli_daily", "--start", "0001-01-01T00:00+14:00", "--end", "2024-01-02"),
            1,
            "out of range once in UTC",
        ),
        (("standalone", "--port", "99999"), 2, "not in the range"),
    ],
    ids=["slots", "limit", "max-active-runs", "days-1e308", "days-nan", "interval", "date", "port"],
)
def test_a_number_out_of_range_is_refused_without_a_traceback(
    home: Home, args: tuple[str, ...], code: int, says: str
) -> None:
    """These used to end in OverflowError or ValueError tracebacks (SQLite's INTEGER,
    timedelta, datetime) or, for max_active_runs, be saved."""
    before = home.overrides()
    done = home.cli(*args)
    text = done.stdout + done.stderr
    assert done.returncode == code, text
    assert "Traceback" not in text and says in text, text
    assert home.overrides() == before
