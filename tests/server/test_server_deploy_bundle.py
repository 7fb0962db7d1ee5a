"""Deploying over the API (``POST /api/v1/pipelines``, ``headwater deploy --server``)
against a real ``headwater standalone`` on SQLite and on PostgreSQL.

The deploying command runs with HEADWATER_HOME and HEADWATER_DATABASE_URL pointing at
nothing it could use: it only talks HTTP. Every refused bundle leaves the server's
database exactly as it was (``Standalone.snapshot``).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from server_helpers import HEADWATER, Standalone, start_standalone

HELPERS = """
def double(x: int) -> int:
    return 2 * x
"""

FLOW = """
from headwater import component, pipeline

from helpers import double


@component
def twice(x: int) -> int:
    return double(x)


@pipeline(name="{name}")
def flow(x: int = 21) -> None:
    twice(x=x)
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standalone]:
    """A server of its own per database (the tests compare whole-database snapshots)."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    folder = tmp_path_factory.mktemp(f"bundles-{request.param}")
    with start_standalone(folder, database_url=url) as running:
        yield running


def project(folder: Path, name: str) -> Path:
    """A two-file project: flow.py imports helpers.py; returns flow.py."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "flow.py").write_text(FLOW.format(name=name))
    (folder / "notes.txt").write_text("not imported: not in the snapshot\n")
    return folder / "flow.py"


def remote_cli(
    hub: Standalone, tmp_path: Path, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    """``headwater`` with no usable home or database: only --server can work."""
    env = {k: v for k, v in hub.env.items() if not k.startswith("HEADWATER_")}
    env["HEADWATER_HOME"] = str(tmp_path / "no-such-home" / "nested")
    env["HEADWATER_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere"
    return subprocess.run(
        [str(HEADWATER), *(str(a) for a in args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def token_of(hub: Standalone) -> str:
    assert hub.token, "the server printed no admin token"
    return hub.token


def tar_of(entries: Sequence[tuple[tarfile.TarInfo, bytes | None]], gz: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def post(hub: Standalone, body: bytes, target: str = "flow.py") -> tuple[int, dict[str, object]]:
    r = hub.http.post(
        "/api/v1/pipelines",
        params={"target": target},
        content=body,
        headers={"Content-Type": "application/gzip"},
        timeout=180,
    )
    return r.status_code, r.json()


def test_deploy_over_the_api_matches_a_local_deploy_and_runs(
    hub: Standalone, tmp_path: Path
) -> None:
    flow = project(tmp_path / "proj", "bundled")
    first = remote_cli(hub, tmp_path, "deploy", flow, "--server", hub.url, "--token", token_of(hub))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "deployed bundled version" in first.stdout
    assert "source files: flow.py, helpers.py" in first.stdout  # notes.txt is not needed
    digest = next(line.split()[1] for line in first.stdout.splitlines() if "digest" in line)

    again = remote_cli(
        hub, tmp_path, "deploy", f"{flow}:bundled", "--server", hub.url, "--token", token_of(hub)
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "bundled is unchanged" in again.stdout
    assert f"digest {digest}" in again.stdout
    versions = hub.http.get("/api/v1/pipelines/bundled/versions").json()
    assert versions["total"] == 1
    version = versions["items"][0]
    assert version["digest"] == digest and version["files"] == ["flow.py", "helpers.py"]

    # A deploy on the server's own machine, with its database, finds the same version.
    local = hub.cli("deploy", flow)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "bundled is unchanged" in local.stdout and f"digest {digest}" in local.stdout

    run = hub.trigger("bundled", x=5)
    assert run["version_id"] == version["id"]
    done = hub.wait(run["id"])
    assert done["status"] == "succeeded", done


def test_the_api_answers_201_then_200_for_the_same_bundle(hub: Standalone) -> None:
    """A bundle made by hand (as with 'tar czf'): files the pipeline does not need are
    left out of the snapshot."""
    bundle = tar_of(
        [
            regular("flow.py", FLOW.format(name="twice_posted").encode()),
            regular("helpers.py", HELPERS.encode()),
            regular("data/notes.txt", b"not needed"),
        ]
    )
    status, body = post(hub, bundle, "flow.py:flow")
    assert status == 201, body
    assert body["new"] is True and body["pipeline"] == "twice_posted"
    assert body["files"] == ["flow.py", "helpers.py"]
    status, again = post(hub, bundle, "flow.py")
    assert status == 200, again
    assert again["new"] is False and again["id"] == body["id"]


def _hostile() -> list[tuple[str, bytes, str]]:
    flow = FLOW.format(name="hostile").encode()
    ok = [regular("flow.py", flow), regular("helpers.py", HELPERS.encode())]
    many = ok + [regular(f"pad/{i}.txt", b"") for i in range(1001)]
    return [
        ("absolute", tar_of([*ok, regular("/tmp/evil.py", b"x")]), "has an absolute path"),
        ("dotdot", tar_of([*ok, regular("../evil.py", b"x")]), "climbs out of the bundle"),
        (
            "symlink",
            tar_of([*ok, special("link.py", tarfile.SYMTYPE, "../../etc/passwd")]),
            "is a symbolic link to '../../etc/passwd', outside the bundle",
        ),
        (
            "hardlink",
            tar_of([*ok, special("hard.py", tarfile.LNKTYPE, "/etc/passwd")]),
            "is a hard link to '/etc/passwd', outside the bundle",
        ),
        ("device", tar_of([*ok, special("null", tarfile.CHRTYPE)]), "is a device or a pipe"),
        ("fifo", tar_of([*ok, special("pipe", tarfile.FIFOTYPE)]), "is a device or a pipe"),
        ("many", tar_of(many), "holds more than 1,000 entries"),
        (
            "not-utf8",
            tar_of([*ok, regular("caf\udce9.py", b"x")]),
            "has a name that is not UTF-8: 'caf\\xe9.py'",
        ),
        ("not-tar", b"this is no archive", "is not a tar archive"),
        ("truncated", tar_of(ok, gz=False)[:700], "damaged"),
    ]


@pytest.mark.parametrize("case", [c[0] for c in _hostile()])
def test_hostile_bundles_are_refused_with_nothing_stored(hub: Standalone, case: str) -> None:
    _, bundle, expected = next(c for c in _hostile() if c[0] == case)
    before = hub.snapshot()
    status, body = post(hub, bundle)
    assert status == 400, body
    assert expected in str(body["error"]), body
    assert body["hint"]
    assert hub.snapshot() == before


def test_a_bundle_past_the_size_limit_is_refused_413(hub: Standalone) -> None:
    import os

    before = hub.snapshot()
    status, body = post(hub, os.urandom((16 << 20) + 1))  # the default limit, 16 MiB
    assert status == 413, body
    assert "the source bundle is larger than" in str(body["error"])
    assert "HEADWATER_MAX_BUNDLE_BYTES" in str(body["hint"])
    # A small bundle that unpacks past the limit (a bomb) is refused before it inflates.
    bomb = tar_of([regular("flow.py", b"\0" * ((16 << 20) + 1))])
    assert len(bomb) < 1 << 20
    status, body = post(hub, bomb)
    assert status == 413, body
    assert "unpacks to more than" in str(body["error"])
    assert hub.snapshot() == before


@pytest.mark.parametrize(
    ("source", "target", "expected", "line"),
    [
        (
            "import headwater\n\nraise RuntimeError('no config here')\n",
            "flow.py",
            "importing flow.py raised RuntimeError: no config here",
            3,
        ),
        ("def broken(:\n", "flow.py", "SyntaxError", 1),
        ("import sys\nsys.exit(3)\n", "flow.py", "SystemExit", 2),
        (FLOW.format(name="named"), "flow.py:nothing", "has no pipeline named 'nothing'", None),
        (FLOW.format(name="named"), "other.py", "the bundle holds no file 'other.py'", None),
        (FLOW.format(name="named"), "../flow.py", "must be a relative path inside", None),
    ],
    ids=["raises", "syntax", "exits", "no-such-pipeline", "no-such-file", "outside"],
)
def test_a_pipeline_that_does_not_compile_is_refused_422_with_nothing_stored(
    hub: Standalone, source: str, target: str, expected: str, line: int | None
) -> None:
    bundle = tar_of([regular("flow.py", source.encode()), regular("helpers.py", HELPERS.encode())])
    before = hub.snapshot()
    status, body = post(hub, bundle, target)
    assert status == 422, body
    assert expected in str(body["error"]), body
    assert "headwater-bundle-" not in str(body)  # no server paths leak
    if line is not None:
        assert body["where"] == {"file": "flow.py", "line": line}, body
    assert hub.snapshot() == before


def test_a_compile_past_its_limits_is_stopped_and_the_server_answers_meanwhile(
    tmp_path: Path,
) -> None:
    import threading

    hang = "import time\n\nwhile True:\n    time.sleep(0.1)\n"
    bundle = tar_of([regular("flow.py", hang.encode())])
    limit = {
        "HEADWATER_MAX_COMPILE_SECONDS": "3",
        "HEADWATER_MAX_COMPILE_MEMORY_BYTES": str(256 << 20),
        "HEADWATER_MAX_BUNDLE_BYTES": str(1 << 20),
    }
    with start_standalone(tmp_path, extra_env=limit) as short:
        before = short.snapshot()
        greedy = tar_of([regular("flow.py", b"hoard = bytearray(1 << 31)\n")])
        status, body = post(short, greedy)
        assert status == 422, body
        assert "MemoryError" in str(body["error"]), body
        chatty = tar_of([regular("flow.py", b"import sys\n\nsys.stdout.write('x' * (2 << 20))\n")])
        status, body = post(short, chatty)
        assert status == 422, body
        assert "wrote more than 1,048,576 bytes" in str(body["error"]), body
        answers: list[tuple[int, dict[str, object]]] = []
        worker = threading.Thread(target=lambda: answers.append(post(short, bundle)))
        worker.start()
        health: list[int] = []
        while worker.is_alive() and len(health) < 5:  # asked while the compile hangs
            health.append(short.http.get("/api/v1/health").status_code)
        worker.join(120)
        assert set(health) == {200}
        status, body = answers[0]
        assert status == 422, body
        assert "took longer than 3 seconds and was stopped" in str(body["error"])
        assert "HEADWATER_MAX_COMPILE_SECONDS" in str(body["hint"])
        assert short.snapshot() == before


def test_deploy_without_server_still_deploys_locally(hub: Standalone, tmp_path: Path) -> None:
    flow = project(tmp_path / "proj", "local_only")
    local = hub.cli("deploy", flow)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "deployed local_only version" in local.stdout


def test_schedule_options_with_server_are_refused(hub: Standalone, tmp_path: Path) -> None:
    flow = project(tmp_path / "proj", "scheduled")
    found = remote_cli(
        hub,
        tmp_path,
        "deploy",
        flow,
        "--server",
        hub.url,
        "--token",
        token_of(hub),
        "--cron",
        "@daily",
    )
    assert found.returncode != 0
    assert "--cron cannot be used with --server" in found.stdout + found.stderr


def test_deploy_over_the_api_needs_a_token(hub: Standalone, tmp_path: Path) -> None:
    flow = project(tmp_path / "proj", "tokenless")
    found = remote_cli(hub, tmp_path, "deploy", flow, "--server", hub.url)
    assert found.returncode != 0
    assert "bearer token" in found.stdout + found.stderr
    assert hub.http.get("/api/v1/pipelines/tokenless/versions").status_code == 404
