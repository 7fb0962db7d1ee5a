"""Runtimes: how a model worker loads each flavour the registry records and runs it.

Imported only in model worker processes (``_worker``): loading a model runs the code its
files name (a pickle's classes, a predictor's module), which never happens in the front.

- ``sklearn``: joblib; one 2-D FP64 input; outputs ``predict`` and, where the model has
  it, ``predict_proba``;
- ``xgboost``: XGBClassifier/XGBRegressor for files the scikit-learn API wrote (outputs
  as scikit-learn), else a Booster (``predict``); pickles with joblib; FP32 input;
- ``lightgbm``: a Booster from its text model (``predict``); pickles with joblib (a
  pickled LGBMClassifier answers as scikit-learn); FP64 input;
- ``onnx``: ONNX Runtime on one thread; the graph's inputs and outputs (outputs that are
  not tensors, such as ZipMap's maps, as JSON text);
- ``python``: the predictor class its ``.py`` defines, ``load(path)`` once and
  ``predict(inputs, parameters)`` per request (:class:`PredictorRuntime`); a pickled
  object with ``predict`` answers as scikit-learn.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from headwater.errors import ServingError
from headwater.serving._tensors import DATATYPES, as_bytes_array, datatype_of
from headwater.serving._types import LoadSpec, ModelMetadata, Output, TensorSpec

_ONNX_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}


class Runtime(Protocol):
    metadata: ModelMetadata

    def predict(
        self,
        inputs: dict[str, np.ndarray[Any, Any]],
        parameters: dict[str, Any],
        wanted: Sequence[str] | None,
    ) -> list[Output]: ...


def _file(spec: LoadSpec) -> str:
    """The model file inside the artifact (the artifact itself when it is a file)."""
    if os.path.isfile(spec.path):
        return spec.path
    if spec.file:
        return os.path.join(spec.path, spec.file)
    raise ServingError(400, f"{spec.label}: the registry recorded no model file inside {spec.path}")


def _input_name(spec: LoadSpec) -> str:
    """The single input's name: the signature's, when it states one tensor (else X)."""
    inputs = (spec.signature or {}).get("inputs") or []
    if len(inputs) == 1 and inputs[0].get("type") == "tensor" and inputs[0].get("name"):
        return str(inputs[0]["name"])
    return "X"


def _label_datatype(classes: np.ndarray[Any, Any] | None) -> str:
    if classes is None:
        return "FP64"
    try:
        return datatype_of(np.asarray(classes))
    except ServingError:
        return "BYTES"


def _as_output(name: str, value: Any, datatype: str = "") -> Output:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype.kind in "OSU":
        array = as_bytes_array(list(array.ravel())).reshape(array.shape)
        return name, "BYTES", array
    if datatype and datatype != "BYTES" and DATATYPES[datatype] != array.dtype:
        array = array.astype(DATATYPES[datatype])
    return name, datatype_of(array), array


class EstimatorRuntime:
    """A scikit-learn style estimator: ``predict`` and, where present, ``predict_proba``
    (scikit-learn, XGBoost's and LightGBM's scikit-learn classes, pickled predictors)."""

    def __init__(self, model: Any, spec: LoadSpec, platform: str, input_datatype: str) -> None:
        if not callable(getattr(model, "predict", None)):
            raise ServingError(
                400, f"{spec.label}: the loaded {type(model).__name__} has no predict method"
            )
        self.model = model
        self.input = _input_name(spec)
        width = getattr(model, "n_features_in_", None)
        shape: tuple[int, ...] | None = (-1, -1)
        if isinstance(width, int | np.integer):
            shape = (-1, int(width))
        elif platform == "python":
            shape = None
        classes = getattr(model, "classes_", None)
        outputs = [TensorSpec("predict", _label_datatype(classes), (-1,))]
        self.proba = callable(getattr(model, "predict_proba", None))
        if self.proba:
            count = len(classes) if classes is not None else -1
            outputs.append(TensorSpec("predict_proba", "FP64", (-1, count)))
        if platform == "python":  # a pickled class of the user's: what it returns tells
            outputs = [TensorSpec(o.name) for o in outputs]
        # Estimators predict row by row; a pickled class of the user's says so itself.
        batchable = platform != "python" or _declares_batching(model)
        self.metadata = ModelMetadata(
            platform, (TensorSpec(self.input, input_datatype, shape),), tuple(outputs), batchable
        )

    def predict(
        self,
        inputs: dict[str, np.ndarray[Any, Any]],
        parameters: dict[str, Any],
        wanted: Sequence[str] | None,
    ) -> list[Output]:
        x = inputs[self.input] if self.input in inputs else next(iter(inputs.values()))
        names = list(wanted) if wanted is not None else [o.name for o in self.metadata.outputs]
        out: list[Output] = []
        for name in names:
            if name == "predict":
                out.append(_as_output(name, self.model.predict(x)))
            elif name == "predict_proba" and self.proba:
                out.append(_as_output(name, self.model.predict_proba(x), "FP64"))
        return out


class BoosterRuntime:
    """An XGBoost or LightGBM Booster: ``predict`` (probabilities for classifiers, as the
    Booster returns them)."""

    def __init__(self, booster: Any, spec: LoadSpec, platform: str, width: int) -> None:
        self.booster = booster
        self.platform = platform
        self.input = _input_name(spec)
        datatype = "FP32" if platform == "xgboost" else "FP64"
        self.metadata = ModelMetadata(
            platform,
            (TensorSpec(self.input, datatype, (-1, width)),),
            (TensorSpec("predict", datatype, None),),
            batchable=True,
        )

    def predict(
        self,
        inputs: dict[str, np.ndarray[Any, Any]],
        parameters: dict[str, Any],
        wanted: Sequence[str] | None,
    ) -> list[Output]:
        x = inputs[self.input]
        if self.platform == "xgboost":
            result = self.booster.inplace_predict(x)
        else:
            result = self.booster.predict(x, num_threads=1)
        return [_as_output("predict", result, self.metadata.outputs[0].datatype)]


class OnnxRuntime:
    """An ONNX graph in ONNX Runtime on one thread (the server scales with worker
    processes, not threads: many threads per worker fight over the same cores)."""

    def __init__(self, path: str, spec: LoadSpec) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.strings = set()
        inputs = []
        for node in self.session.get_inputs():
            datatype = _ONNX_TYPES.get(node.type, "")
            if datatype == "BYTES":
                self.strings.add(node.name)
            inputs.append(TensorSpec(node.name, datatype, _onnx_shape(node.shape)))
        outputs = []
        for node in self.session.get_outputs():
            datatype = _ONNX_TYPES.get(node.type, "BYTES")  # sequences, maps: JSON text
            outputs.append(TensorSpec(node.name, datatype, _onnx_shape(node.shape)))
        # A graph batches when every input's first dimension is free (or unknown).
        batchable = all(not i.shape or i.shape[0] == -1 for i in inputs)
        self.metadata = ModelMetadata("onnxruntime_onnx", tuple(inputs), tuple(outputs), batchable)

    def predict(
        self,
        inputs: dict[str, np.ndarray[Any, Any]],
        parameters: dict[str, Any],
        wanted: Sequence[str] | None,
    ) -> list[Output]:
        feed = {}
        for name, array in inputs.items():
            if name in self.strings:  # ONNX Runtime takes text, not bytes
                array = np.array([v.decode("utf-8", "replace") for v in array.ravel()],
                                 dtype=object).reshape(array.shape)  # fmt: skip
            feed[name] = array
        names = list(wanted) if wanted is not None else [o.name for o in self.metadata.outputs]
        results = self.session.run(names, feed)
        return [_as_output(n, _onnx_value(r)) for n, r in zip(names, results, strict=True)]


def _onnx_shape(shape: Sequence[Any] | None) -> tuple[int, ...] | None:
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) else -1 for d in shape)


def _onnx_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, list):  # a sequence (of maps: ZipMap): one JSON text per item
        return as_bytes_array([_plain(v) for v in value])
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------- Python predictors


def _declared(spec: LoadSpec, owner: object, attribute: str) -> tuple[TensorSpec, ...]:
    raw = getattr(owner, attribute, None)
    if raw is None:
        return ()
    problem = f"{spec.label}: the predictor's '{attribute}' must be a list of "
    problem += '{"name": ..., "datatype": ..., "shape": [...]} (-1: any size)'
    if not isinstance(raw, list | tuple):
        raise ServingError(400, problem)
    found = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ServingError(400, problem)
        datatype = item.get("datatype", "")
        if datatype and datatype not in DATATYPES:
            raise ServingError(400, f"{problem}; datatype {datatype!r} is not a V2 datatype")
        shape = item.get("shape")
        if shape is not None and not (
            isinstance(shape, list | tuple) and all(isinstance(d, int) for d in shape)
        ):
            raise ServingError(400, f"{problem}; shape {shape!r} is not a list of whole numbers")
        found.append(TensorSpec(item["name"], datatype, tuple(shape) if shape else None))
    return tuple(found)


def _arity(method: Any) -> int:
    try:
        return len(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return 1


def _declares_batching(predictor: object) -> bool:
    """A Python predictor batches only when it says its rows are independent
    (``batchable = True`` on its class): requests are then concatenated along the first
    dimension of every input, and every output must have one row per input row."""
    return getattr(predictor, "batchable", False) is True


class PredictorRuntime:
    """A Python predictor class: ``load(path)`` once (optional; ``path``: the version's
    files), then ``predict(inputs, parameters)`` per request with ``inputs`` a dict of
    numpy arrays (BYTES as arrays of ``bytes``). It returns a dict of outputs (arrays,
    lists, text, or JSON-able values, sent as JSON text), or one output's values."""

    def __init__(self, spec: LoadSpec) -> None:
        source = _file(spec)
        class_name = spec.details.get("class")
        folder = os.path.dirname(source)
        if folder not in sys.path:  # the predictor may import modules beside it
            sys.path.insert(0, folder)
        module_name = f"headwater_predictor_{spec.name.replace('.', '_').replace('-', '_')}"
        module_spec = importlib.util.spec_from_file_location(module_name, source)
        if module_spec is None or module_spec.loader is None:
            raise ServingError(400, f"{spec.label}: {source} cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
        cls = getattr(module, str(class_name), None) if class_name else None
        if cls is None:
            raise ServingError(
                400, f"{spec.label}: {os.path.basename(source)} defines no class {class_name!r}"
            )
        self.predictor = cls()
        load = getattr(self.predictor, "load", None)
        if callable(load):
            load(spec.path) if _arity(load) >= 1 else load()
        self.two_args = _arity(self.predictor.predict) >= 2
        self.metadata = ModelMetadata(
            "python",
            _declared(spec, self.predictor, "inputs"),
            _declared(spec, self.predictor, "outputs"),
            _declares_batching(self.predictor),
        )
        self.types = {o.name: o.datatype for o in self.metadata.outputs}

    def predict(
        self,
        inputs: dict[str, np.ndarray[Any, Any]],
        parameters: dict[str, Any],
        wanted: Sequence[str] | None,
    ) -> list[Output]:
        if self.two_args:
            result = self.predictor.predict(inputs, parameters)
        else:
            result = self.predictor.predict(inputs)
        if not isinstance(result, dict):
            first = self.metadata.outputs[0].name if self.metadata.outputs else "predict"
            result = {first: result}
        out = []
        for name, value in result.items():
            if wanted is not None and name not in wanted:
                continue
            if not isinstance(value, np.ndarray) and _is_records(value):
                value = as_bytes_array(list(value))
            out.append(_as_output(str(name), value, self.types.get(str(name), "")))
        if wanted is not None:
            missing = [w for w in wanted if w not in {o[0] for o in out}]
            if missing:
                raise ServingError(
                    400, f"the predictor returned no output {', '.join(map(repr, missing))}"
                )
        return out


def _is_records(value: Any) -> bool:
    """Values that numpy would not make one tensor of: dicts, text mixed with numbers."""
    return isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value)


# ---------------------------------------------------------------------- loading


def _joblib(path: str) -> Any:
    import joblib

    return joblib.load(path)


def _xgboost(spec: LoadSpec) -> Runtime:
    path = _file(spec)
    if spec.details.get("format") == "pickle":
        model = _joblib(path)
        if hasattr(model, "inplace_predict") and not hasattr(model, "fit"):
            return BoosterRuntime(model, spec, "xgboost", int(model.num_features()))
        return EstimatorRuntime(model, spec, "xgboost", "FP32")
    import xgboost

    booster = xgboost.Booster(model_file=path)
    written_by = booster.attr("scikit_learn")
    if written_by:
        kind = json.loads(written_by).get("_estimator_type")
        model = xgboost.XGBClassifier() if kind == "classifier" else xgboost.XGBRegressor()
        model.load_model(path)
        return EstimatorRuntime(model, spec, "xgboost", "FP32")
    return BoosterRuntime(booster, spec, "xgboost", int(booster.num_features()))


def _lightgbm(spec: LoadSpec) -> Runtime:
    path = _file(spec)
    if spec.details.get("format") == "pickle":
        return EstimatorRuntime(_joblib(path), spec, "lightgbm", "FP64")
    import lightgbm

    booster = lightgbm.Booster(model_file=path)
    return BoosterRuntime(booster, spec, "lightgbm", int(booster.num_feature()))


def _python(spec: LoadSpec) -> Runtime:
    if spec.details.get("format") == "pickle":
        return EstimatorRuntime(_joblib(_file(spec)), spec, "python", "")
    return PredictorRuntime(spec)


def load_runtime(spec: LoadSpec) -> Runtime:
    """Load the model ``spec`` names; a :class:`ServingError` says why it cannot be."""
    if not os.path.exists(spec.path):
        raise ServingError(404, f"{spec.label}: its files are gone from {spec.path}")
    if spec.flavor == "sklearn":
        return EstimatorRuntime(_joblib(_file(spec)), spec, "sklearn", "FP64")
    if spec.flavor == "xgboost":
        return _xgboost(spec)
    if spec.flavor == "lightgbm":
        return _lightgbm(spec)
    if spec.flavor == "onnx":
        return OnnxRuntime(_file(spec), spec)
    if spec.flavor == "python":
        return _python(spec)
    if spec.flavor == "pytorch":
        raise ServingError(
            400,
            f"{spec.label} is a PyTorch file (a state dict or a saved module), which needs "
            "its model's code to run: register a folder holding the file and a .py whose "
            "predictor class builds the module in load(path) and calls it in predict()",
        )
    raise ServingError(400, f"{spec.label} has flavour {spec.flavor!r}, which cannot be served")
