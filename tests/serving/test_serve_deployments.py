"""Deployments served by ``headwater serve --deployment``, a real subprocess, through
``tritonclient``: the canary split (stable by request id, near its percentage), a shadow
that sees every request and never changes an answer, an alias move and a rollback under
load with no failed request, a promote; and the ``headwater deployments`` commands'
refusals of bad input, each exit 1 with nothing written.

The models are Python predictors (``predictors/tagged``) that answer with their version
number and record each call they get, so a test can see which version answered and
count what the shadow received.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from serve_helpers import HERE, Server, _register, served, start_server

from headwater.serving._deployments import canary_share

REQUESTS = 2000


@contextlib.contextmanager
def _workspace(home: Path) -> Iterator[Any]:
    from headwater._config import Settings
    from headwater.engine import Workspace

    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    ws = Workspace.open(Settings.from_env({**env, "HEADWATER_HOME": str(home)}))
    try:
        yield ws
    finally:
        ws.close()


class Home:
    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.files = root / "files"

    def calls(self, model: str, version: int) -> int:
        log = self.files / f"{model}-{version}" / "calls.log"
        return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """churn 1-3 (3 fails every call: a shadow), fraud 1-2; churn@champion = 1,
    fraud@champion = 1; deployments split (churn:1, canary churn:2 at 10%), mirror
    (churn:1, shadow churn:3) and live (fraud@champion)."""
    found = Home(tmp_path_factory.mktemp("deployments"))
    with _workspace(found.home) as ws:
        for model, count in (("churn", 3), ("fraud", 2)):
            for version in range(1, count + 1):
                folder = found.files / f"{model}-{version}"
                shutil.copytree(HERE / "predictors" / "tagged", folder)
                (folder / "tag.txt").write_text(str(version))
                if (model, version) == ("churn", 3):
                    (folder / "fail").write_text("")
                _register(ws, model, folder, ("champion",) if version == 1 else ())
        ws.store.deployments.create("split", "churn:1", canary="churn:2", canary_percent=10)
        ws.store.deployments.create("mirror", "churn:1", shadow="churn:3")
        ws.store.deployments.create("live", "fraud@champion")
    return found


@pytest.fixture(scope="module")
def server(home: Home, log_path: Path) -> Iterator[Server]:
    yield from served(
        home,  # type: ignore[arg-type]
        log_path,
        "--deployment",
        "split",
        "--deployment",
        "mirror",
        "-d",
        "live",
    )


def _inputs(module: Any) -> list[Any]:
    x = module.InferInput("x", [1], "FP32")
    x.set_data_from_numpy(np.array([1.0], dtype=np.float32))
    return [x]


def _tags(client: Any, module: Any, name: str, ids: list[str]) -> list[int]:
    inputs = _inputs(module)
    return [int(client.infer(name, inputs, request_id=i).as_numpy("tag")[0]) for i in ids]


def test_the_canary_split_is_stable_by_request_id_and_near_its_percentage(
    server: Server,
) -> None:
    ids = [f"request-{i}" for i in range(REQUESTS)]
    expected = [2 if canary_share(i) < 10 else 1 for i in ids]
    with httpclient.InferenceServerClient(server.rest) as client:
        meta = client.get_model_metadata("split")
        assert (meta["name"], meta["versions"]) == ("split", ["1", "2"])
        first = _tags(client, httpclient, "split", ids)
        second = _tags(client, httpclient, "split", ids)
    assert first == second == expected  # the same id always lands on the same version
    assert abs(first.count(2) / REQUESTS * 100 - 10) <= 3
    # Without an id, at random (over gRPC): near the percentage too.
    with grpcclient.InferenceServerClient(server.grpc) as client:
        random = _tags(client, grpcclient, "split", [""] * REQUESTS)
    assert set(random) == {1, 2}
    assert abs(random.count(2) / REQUESTS * 100 - 10) <= 3


def test_the_shadow_sees_every_request_and_never_changes_an_answer(
    server: Server, home: Home
) -> None:
    before = home.calls("churn", 3)
    with httpclient.InferenceServerClient(server.rest) as client:
        tags = _tags(client, httpclient, "mirror", [f"m-{i}" for i in range(200)])
    assert tags == [1] * 200  # the shadow fails every call; no answer shows it
    deadline = time.monotonic() + 30
    while home.calls("churn", 3) < before + 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert home.calls("churn", 3) == before + 200
    assert "shadow model 'churn' version 3 failed" in server.log.read_text()


class Load:
    """4 client threads asking deployment ``live`` until stopped: every answer's tag,
    every failure."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.tags: list[int] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(4)]

    def _run(self) -> None:
        inputs = _inputs(httpclient)
        with httpclient.InferenceServerClient(self.server.rest) as client:
            while not self.stop.is_set():
                try:
                    self.tags.append(int(client.infer("live", inputs).as_numpy("tag")[0]))
                except Exception as e:
                    self.failures.append(repr(e))

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def until(self, tag: int, timeout: float = 20) -> None:
        """Wait until the last 50 answers are all ``tag``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recent = self.tags[-50:]
            if len(recent) == 50 and set(recent) == {tag}:
                return
            time.sleep(0.05)
        raise AssertionError(f"answers did not move to {tag}: {self.tags[-50:]}")

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_an_alias_move_and_a_rollback_under_load_fail_no_request(
    server: Server, home: Home
) -> None:
    with Load(server) as load:
        load.until(1)
        with _workspace(home.home) as ws:
            ws.store.models.set_alias("fraud", "champion", 2)
        load.until(2)
        with _workspace(home.home) as ws:
            back = ws.store.deployments.rollback("live")
        assert back.model == "fraud:1"  # pinned: the alias stays on 2
        load.until(1)
    assert load.failures == []
    seen = load.tags
    assert seen[0] == 1 and 2 in seen and seen[-1] == 1
    assert len(seen) >= 200  # the swaps happened under load
    with _workspace(home.home) as ws:
        history = [
            (s.role, s.version, s.until is None) for s in ws.store.deployments.serving("live")
        ]
    assert history == [("main", 1, True), ("main", 2, False), ("main", 1, False)]


def test_promote_moves_every_request_to_the_canary(server: Server, home: Home) -> None:
    with _workspace(home.home) as ws:
        ws.store.deployments.promote("split")
    with httpclient.InferenceServerClient(server.rest) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if set(_tags(client, httpclient, "split", [f"p-{i}" for i in range(50)])) == {2}:
                break
            time.sleep(0.05)
        assert _tags(client, httpclient, "split", [f"q-{i}" for i in range(100)]) == [2] * 100
        assert client.get_model_metadata("split")["versions"] == ["2"]


def _cli(
    home: Home, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """``headwater deployments ARGS`` in this process (a command's start-up is most of
    its time): exit code, stdout, stderr."""
    from headwater.cli import main

    for key in [k for k in os.environ if k.startswith("HEADWATER_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HEADWATER_HOME", str(home.home))
    monkeypatch.setenv("COLUMNS", "250")
    code = main(["deployments", *args])
    said = capsys.readouterr()
    return code, said.out, " ".join(said.err.split())


REFUSED = [
    (("create", "a", "--model", "nope@champion"), "no registered model 'nope'"),
    (("create", "a", "--model", "churn@gone"), "model 'churn' has no alias 'gone'"),
    (("create", "a", "--model", "churn:9"), "model 'churn' has no version 9"),
    (
        ("create", "a", "--model", "churn:1", "--canary", "churn:2", "--canary-percent", "101"),
        "canary percentage 101.0 is not between 0 and 100",
    ),
    (
        ("create", "a", "--model", "churn@champion", "--canary", "churn:1"),
        "the canary churn:1 is the main version",
    ),
    (("create", "a", "--model", "churn:1", "--canary-percent", "5"), "needs a canary"),
    (("create", "live", "--model", "churn:1"), "deployment 'live' exists already"),
    (("delete", "live"), "deployment 'live' is being served"),
    (("promote", "mirror"), "deployment 'mirror' has no canary to promote"),
    (("rollback", "mirror"), "deployment 'mirror' has nothing to roll back to"),
    (("show", "nope"), "no deployment 'nope'"),
]


def test_bad_input_is_refused_and_writes_nothing(
    server: Server,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for args, message in REFUSED:
        code, out, said = _cli(home, capsys, monkeypatch, *args)
        assert code == 1, (args, out, said)
        assert message in said, (args, said)
    with _workspace(home.home) as ws:
        assert [d.name for d in ws.store.deployments.list_deployments()] == [
            "live",
            "mirror",
            "split",
        ]
        assert ws.store.deployments.get("mirror").revision == 1
    code, out, _ = _cli(home, capsys, monkeypatch, "list")
    assert code == 0 and "main fraud:1" in out, out


def test_lineage_runs_from_the_model_version_to_the_deployment(
    server: Server,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headwater.cli import main

    with _workspace(home.home) as ws:
        artifact = ws.store.models.get_version("fraud", 2).artifact_id
    code, out, _ = _cli(home, capsys, monkeypatch, "show", "live")
    assert code == 0 and "rollback" in out, out
    assert main(["lineage", artifact]) == 0
    out = capsys.readouterr().out
    assert "served by" in out and "live" in out and "fraud" in out, out
    assert main(["models", "lineage", "fraud/2"]) == 0
    out = capsys.readouterr().out
    assert "served by" in out and "live" in out, out


def test_an_alias_a_deployment_follows_is_not_deleted(
    server: Server,
    home: Home,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headwater.cli import main

    assert _cli(home, capsys, monkeypatch, "create", "follow", "--model", "churn@champion")[0] == 0
    assert main(["models", "alias", "delete", "churn", "champion"]) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "alias 'champion' of model 'churn' is followed by deployment follow" in said, said
    with _workspace(home.home) as ws:
        assert ws.store.models.get_model("churn").aliases.get("champion") == 1
    assert _cli(home, capsys, monkeypatch, "delete", "follow")[0] == 0


def test_a_server_killed_with_sigkill_leaves_no_serving_row_open(
    server: Server, home: Home, tmp_path: Path
) -> None:
    def open_servers() -> set[str]:
        with _workspace(home.home) as ws:
            return {s.server for s in ws.store.deployments.serving("live", open_only=True)}

    def wait_for(condition: Any) -> None:
        deadline = time.monotonic() + 30
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert condition()

    before = open_servers()
    killed = start_server(home.home, tmp_path / "killed.txt", "-d", "live")
    wait_for(lambda: len(open_servers() - before) == 1)
    (gone,) = open_servers() - before
    assert gone.endswith(f":{killed.process.pid}")
    killed.process.kill()
    killed.process.wait()
    assert gone in open_servers()  # it could not say it stopped
    follower = start_server(home.home, tmp_path / "follower.txt", "-d", "live")
    try:
        wait_for(lambda: gone not in open_servers() and len(open_servers() - before) == 1)
        assert before <= open_servers()  # the live server's rows stay open
    finally:
        assert follower.stop() == 0
    assert open_servers() == before
