"""``headwater secrets``, ``connections`` and ``variables`` through the real command: values
come from stdin or files, never arguments, and are never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SECRET = "cli-S3cret-value-91"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "hw-home"))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "hw-home"


def with_stdin(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "headwater"
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from headwater.cli import run; run()"]
    )
    return subprocess.run(
        [*command, *args],
        env={k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")},
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_secrets_set_list_delete_never_show_the_value(tmp_path: Path, headwater: Run) -> None:
    done = with_stdin(tmp_path, SECRET + "\n", "secrets", "set", "api_token", "--value-stdin")
    assert done.returncode == 0, done.stderr
    (tmp_path / "token.txt").write_text("from a file")
    assert headwater("secrets", "set", "other", "--from-file", "token.txt").returncode == 0

    listed = headwater("secrets", "list")
    assert "api_token" in listed.stdout and "other" in listed.stdout
    assert SECRET not in listed.stdout + listed.stderr

    assert headwater("secrets", "delete", "other").returncode == 0
    assert "other" not in headwater("secrets", "list").stdout


def test_a_secret_value_is_refused_as_an_argument(tmp_path: Path, headwater: Run) -> None:
    done = headwater("secrets", "set", "api_token", SECRET)
    assert done.returncode != 0
    assert "api_token" not in headwater("secrets", "list").stdout

    done = headwater("secrets", "set", "api_token")
    assert done.returncode == 1
    assert "--value-stdin or --from-file" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_names_and_missing_secrets_are_clear_errors(tmp_path: Path, headwater: Run) -> None:
    done = with_stdin(tmp_path, "v", "secrets", "set", "bad name", "--value-stdin")
    assert done.returncode == 1
    assert "name 'bad name' is not valid" in done.stderr
    assert "letters, digits" in done.stderr
    done = headwater("secrets", "delete", "absent")
    assert done.returncode == 1 and "no secret 'absent'" in done.stderr


def test_connections_from_a_uri_never_show_the_password(tmp_path: Path, headwater: Run) -> None:
    uri = f"postgresql://bob:{SECRET}@db.local:5432/wh?sslmode=require"
    done = with_stdin(tmp_path, uri, "connections", "add", "warehouse", "--uri-stdin")
    assert done.returncode == 0, done.stderr

    shown = headwater("connections", "show", "warehouse")
    assert shown.returncode == 0
    assert '"host": "db.local"' in shown.stdout and '"password": "***"' in shown.stdout
    assert '"sslmode": "require"' in shown.stdout
    listed = headwater("connections", "list")
    for out in (shown, listed):
        assert SECRET not in out.stdout + out.stderr

    # A password in a --uri argument would land in the shell history: refused.
    done = headwater("connections", "add", "other", "--uri", uri)
    assert done.returncode == 1 and "--uri-stdin" in done.stderr
    # Parts, with the password from stdin.
    done = with_stdin(
        tmp_path,
        "pw",
        *("connections", "add", "api", "--type", "http", "--host", "api.example"),
        *("--extra", "timeout=5", "--password-stdin"),
    )
    assert done.returncode == 0, done.stderr
    assert headwater("connections", "delete", "api").returncode == 0
    done = headwater("connections", "add", "typeless", "--host", "h")
    assert done.returncode == 1 and "has no type" in done.stderr


def test_variables_hold_json(headwater: Run) -> None:
    assert headwater("variables", "set", "limits", '{"rows": 7}').returncode == 0
    got = headwater("variables", "get", "limits")
    assert got.stdout.strip() == '{"rows": 7}'
    assert "limits" in headwater("variables", "list").stdout
    done = headwater("variables", "set", "bad", "not json")
    assert done.returncode == 1 and "is not JSON" in done.stderr
    assert headwater("variables", "delete", "limits").returncode == 0
    assert headwater("variables", "get", "limits").returncode == 1


def test_rotate_key_keeps_secrets_readable(tmp_path: Path, home: Path, headwater: Run) -> None:
    with_stdin(tmp_path, SECRET, "secrets", "set", "api_token", "--value-stdin")
    before = (home / "secret.key").read_text()

    done = headwater("secrets", "rotate-key")

    assert done.returncode == 0, done.stderr
    assert "1 value(s)" in done.stdout
    assert (home / "secret.key").read_text() != before
    from headwater.store import MetadataStore

    store = MetadataStore.open(f"sqlite:///{home / 'headwater.db'}")
    try:
        assert store.secrets.get("api_token") == SECRET
    finally:
        store.close()
