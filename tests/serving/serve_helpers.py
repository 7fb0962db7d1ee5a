"""Helpers of the serving tests: the registered models and a ``headwater serve`` process.

Serving tests run ``headwater serve`` as a real subprocess on models registered through
the registry's own API (``register_artifact``, as ``headwater models register`` does),
and talk to it with NVIDIA's V2 clients (``tritonclient``, HTTP and gRPC) and plain HTTP.

One home with every model is made per test session; each test module starts one server.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
READY = re.compile(r"REST http://([\d.]+):(\d+)/v2, gRPC [\d.]+:(\d+)")


def _register(ws: Any, name: str, path: Path, aliases: tuple[str, ...] = ()) -> Any:
    from headwater.registry import register_artifact
    from headwater.store import NewArtifact

    artifact = ws.store.lineage.add_artifact(
        NewArtifact(name, "headwater.Model", str(path), None, None)
    )
    return register_artifact(ws.store, name, artifact.id, aliases=aliases)


@dataclass
class Models:
    """The registered models' home, and what each would predict for ``rows``."""

    home: Path
    rows: Any
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)


def make_models(root: Path) -> Models:
    import joblib
    import lightgbm
    import numpy as np
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    from headwater._config import Settings
    from headwater.engine import Workspace

    home = root / "home"
    files = root / "files"
    files.mkdir()
    rng = np.random.default_rng(0)
    x = rng.random((90, 4))
    y = (x[:, 0] + x[:, 1] > 1).astype(np.int64) + (x[:, 2] > 0.7)
    rows = x[:3]
    found = Models(home, rows)
    environ = {"HEADWATER_HOME": str(home)}
    settings = Settings.from_env({**{k: v for k, v in os.environ.items()
                                      if not k.startswith("HEADWATER_")}, **environ})  # fmt: skip
    ws = Workspace.open(settings)
    try:
        # scikit-learn: two versions of "iris", the second @champion.
        for version, c in ((1, 0.1), (2, 1.0)):
            model = LogisticRegression(C=c, max_iter=500).fit(x, y)
            path = files / f"iris-{version}.joblib"
            joblib.dump(model, path)
            _register(ws, "iris", path, ("champion",) if version == 2 else ())
            found.expected[f"iris/{version}"] = {
                "predict": model.predict(rows),
                "predict_proba": model.predict_proba(rows),
            }
        # ONNX: the champion converted with skl2onnx (probabilities as a tensor).
        onnx_model = to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False})
        (files / "iris.onnx").write_bytes(onnx_model.SerializeToString())
        _register(ws, "iris-onnx", files / "iris.onnx")
        found.expected["iris-onnx"] = {"probabilities": model.predict_proba(rows)}
        # XGBoost: a classifier saved by its scikit-learn API as JSON.
        boost = xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(x, (y > 0).astype(int))
        boost.save_model(files / "boost.json")
        _register(ws, "boost", files / "boost.json")
        found.expected["boost"] = {
            "predict": boost.predict(rows),
            "predict_proba": boost.predict_proba(rows),
        }
        # LightGBM: a Booster in its text format.
        booster = lightgbm.train(
            {"objective": "binary", "num_leaves": 4, "verbose": -1, "min_data_in_leaf": 5},
            lightgbm.Dataset(x, (y > 0).astype(int)),
            num_boost_round=4,
        )
        booster.save_model(str(files / "lgbm.txt"))
        _register(ws, "lgbm", files / "lgbm.txt")
        found.expected["lgbm"] = {"predict": booster.predict(rows)}
        # Python predictors: folders holding their source (and data).
        for name in ("text", "echo", "rows"):
            shutil.copytree(HERE / "predictors" / name, files / name)
            _register(ws, name, files / name)
        shutil.copytree(HERE / "predictors" / "echo", files / "echo2")
        _register(ws, "echo2", files / "echo2")
        # Versions that cannot be served: a PyTorch state dict, and bytes of no flavour.
        with zipfile.ZipFile(files / "net.pt", "w") as z:
            z.writestr("net/data.pkl", pickle.dumps(OrderedDict(weight=1), protocol=2))
            z.writestr("net/data/0", b"\x00" * 16)
        _register(ws, "net", files / "net.pt")
        (files / "blob.bin").write_bytes(b"no model format starts like this")
        _register(ws, "blob", files / "blob.bin")
    finally:
        ws.close()
    return found


@dataclass
class Server:
    process: subprocess.Popen[str]
    host: str
    port: int
    grpc_port: int
    log: Path
    #: What it printed on stdout up to its ready line.
    lines: list[str] = field(default_factory=list)

    @property
    def rest(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def grpc(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def url(self) -> str:
        return f"http://{self.rest}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def start_server(home: Path, log: Path, *args: str) -> Server:
    """``headwater serve ARGS --port 0 --grpc-port 0``, once its ready line is out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_HOME": str(home), "NO_COLOR": "1"})
    command = [sys.executable, "-c", "from headwater.cli import run; run()", "serve"]
    with open(log, "w") as errors:
        process = subprocess.Popen(
            [*command, *args, "--port", "0", "--grpc-port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    lines: list[str] = []
    found: list[re.Match[str]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = READY.search(line)
            if match:
                found.append(match)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(180)
    if not found:
        process.kill()
        process.wait()
        raise AssertionError(f"headwater serve did not start:\n{''.join(lines)}\n{log.read_text()}")
    match = found[0]
    return Server(process, match[1], int(match[2]), int(match[3]), log, lines)


def served(models: Models, log: Path, *args: str) -> Iterator[Server]:
    server = start_server(models.home, log, *args)
    try:
        yield server
    finally:
        code = server.stop()
        assert code == 0, f"headwater serve ended with {code}:\n{log.read_text()}"
