"""Flavour and signature inference from real model files, without unpickling them."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from headwater.registry import infer_flavor, pickle_globals


def _sklearn() -> LogisticRegression:
    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.random((20, 4)), [0, 1] * 10)


def test_scikit_learn_pickles_and_joblib_files_plain_and_compressed(tmp_path: Path) -> None:
    model = _sklearn()
    joblib.dump(model, tmp_path / "plain.joblib")
    joblib.dump(model, tmp_path / "zlib.joblib", compress=3)
    joblib.dump(model, tmp_path / "gz.joblib", compress=("gzip", 3))
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    for name in ("plain.joblib", "zlib.joblib", "gz.joblib", "model.pkl"):
        found = infer_flavor(str(tmp_path / name))
        assert found is not None, name
        assert found.name == "sklearn", name
        assert found.details["class"] == "sklearn.linear_model._logistic.LogisticRegression"
        assert found.signature == {"inputs": [{"name": "X", "type": "tensor", "shape": [-1, 4]}]}, (
            name
        )
    forest = RandomForestClassifier(n_estimators=3).fit(np.eye(5), [0, 1, 0, 1, 0])
    joblib.dump(forest, tmp_path / "forest.joblib")
    found = infer_flavor(str(tmp_path / "forest.joblib"))
    assert found is not None and found.details["class"].endswith("RandomForestClassifier")


class _Boom:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("touch pwned",))


def test_a_pickle_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(_Boom())
    (tmp_path / "evil.pkl").write_bytes(data)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        found = infer_flavor(str(tmp_path / "evil.pkl"))
    finally:
        os.chdir(cwd)
    assert not marker.exists()
    names, _ = pickle_globals(data)
    assert names == [f"{os.system.__module__}.system"]
    assert found is not None and found.name == "python"


def test_xgboost_json_and_ubjson(tmp_path: Path) -> None:
    doc = {
        "learner": {
            "feature_names": ["age", "plan"],
            "learner_model_param": {"num_feature": "2"},
            "objective": {"name": "binary:logistic"},
            "gradient_booster": {},
        },
        "version": [2, 0, 3],
    }
    (tmp_path / "model.json").write_text(json.dumps(doc))
    found = infer_flavor(str(tmp_path / "model.json"))
    assert found is not None and found.name == "xgboost"
    assert found.details == {"format": "json", "version": "2.0.3", "objective": "binary:logistic"}
    assert found.signature == {
        "inputs": [{"name": "age", "type": "double"}, {"name": "plan", "type": "double"}]
    }
    (tmp_path / "other.json").write_text(json.dumps({"not": "a model"}))
    assert infer_flavor(str(tmp_path / "other.json")) is None
    (tmp_path / "model.ubj").write_bytes(b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{}}")
    ubj = infer_flavor(str(tmp_path / "model.ubj"))
    assert ubj is not None and ubj.name == "xgboost"


def test_lightgbm_text(tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text(
        "tree\nversion=v4\nnum_class=1\nmax_feature_idx=2\nobjective=binary sigmoid:1\n"
        "feature_names=age plan spend\n\nTree=0\nnum_leaves=2\n"
    )
    found = infer_flavor(str(tmp_path / "model.txt"))
    assert found is not None and found.name == "lightgbm"
    assert found.details["objective"] == "binary sigmoid:1"
    assert [i["name"] for i in (found.signature or {})["inputs"]] == ["age", "plan", "spend"]


def _field(number: int, payload: bytes | int) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out

    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _value_info(name: str, elem: int, dims: list[int | str]) -> bytes:
    shape = b"".join(
        _field(1, _field(1, d) if isinstance(d, int) else _field(2, d.encode())) for d in dims
    )
    tensor = _field(1, elem) + _field(2, shape)
    return _field(1, name.encode()) + _field(2, _field(1, tensor))


def test_onnx_inputs_and_outputs_from_the_protobuf(tmp_path: Path) -> None:
    graph = (
        _field(2, b"g")
        + _field(5, _field(8, b"weights"))  # an initializer, listed as an input too
        + _field(11, _value_info("features", 1, ["batch", 3]))
        + _field(11, _value_info("weights", 1, [3]))
        + _field(12, _value_info("label", 7, ["batch"]))
    )
    model = _field(1, 8) + _field(2, b"skl2onnx") + _field(7, graph)
    (tmp_path / "model.onnx").write_bytes(model)
    found = infer_flavor(str(tmp_path / "model.onnx"))
    assert found is not None and found.name == "onnx"
    assert found.details == {"format": "onnx", "ir_version": 8, "producer": "skl2onnx"}
    assert found.signature == {
        "inputs": [{"name": "features", "type": "float", "shape": ["batch", 3]}],
        "outputs": [{"name": "label", "type": "int64", "shape": ["batch"]}],
    }


def test_pytorch_state_dict_zip(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as z:
        z.writestr("model/data.pkl", pickle.dumps(OrderedDict(weight=1), protocol=2))
        z.writestr("model/data/0", b"\x00" * 16)
        z.writestr("model/version", "3\n")
    found = infer_flavor(str(tmp_path / "model.pt"))
    assert found is not None and found.name == "pytorch"
    assert found.details == {"format": "torch.save", "storages": 1, "state_dict": True}


def test_a_folder_with_a_python_predictor_and_declared_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "predictor.py").write_text(
        "import os\nos.system('touch pwned')\n\nclass Churn:\n    def predict(self, x):\n"
        "        return x\n"
    )
    (folder / "README").write_text("weights beside")
    found = infer_flavor(str(folder))
    assert found is not None
    assert (found.name, found.file, found.details["class"]) == ("python", "predictor.py", "Churn")
    assert not (tmp_path / "pwned").exists()
    # A folder holding a model file: the format wins over the wrapper.
    joblib.dump(_sklearn(), folder / "weights.joblib")
    assert infer_flavor(str(folder)).name == "sklearn"  # type: ignore[union-attr]
    # What the task declared in the artifact's metadata wins.
    declared = infer_flavor(
        str(folder), {"flavor": "onnx", "signature": {"inputs": [{"name": "x"}]}}
    )
    assert declared is not None and declared.name == "onnx"
    assert declared.signature == {"inputs": [{"name": "x"}]}
    assert infer_flavor(str(tmp_path / "missing")) is None
