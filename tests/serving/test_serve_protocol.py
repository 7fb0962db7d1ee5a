"""``headwater serve`` against NVIDIA's V2 clients (tritonclient, HTTP and gRPC): health,
metadata and inference for every runtime (scikit-learn, ONNX, XGBoost, LightGBM, Python
predictors), every datatype and shape both ways, requested outputs, versions, the model
repository extension, and each kind of bad input answered with the protocol's error,
after which the server still answers. One server for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from serve_helpers import Models, Server, served
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

MODELS = ("iris:1", "iris@champion", "iris-onnx", "boost", "lgbm", "text", "echo")


@pytest.fixture(scope="module")
def server(models: Models, log_path: Path) -> Iterator[Server]:
    yield from served(models, log_path, *MODELS, "--max-request-mb", "1")


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[thttp.InferenceServerClient]:
    client = thttp.InferenceServerClient(server.rest)
    yield client
    client.close()


@pytest.fixture(scope="module")
def grpc_client(server: Server) -> Iterator[tgrpc.InferenceServerClient]:
    client = tgrpc.InferenceServerClient(server.grpc)
    yield client
    client.close()


def _http_input(name: str, array: np.ndarray, datatype: str, binary: bool = True) -> Any:
    tensor = thttp.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _grpc_input(name: str, array: np.ndarray, datatype: str) -> Any:
    tensor = tgrpc.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def test_health_and_server_metadata(
    http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient
) -> None:
    for client in (http, grpc_client):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("iris") and client.is_model_ready("iris", "1")
        assert not client.is_model_ready("nope")
    meta = http.get_server_metadata()
    assert meta["name"] == "headwater"
    assert {"binary_tensor_data", "model_repository"} <= set(meta["extensions"])
    assert grpc_client.get_server_metadata().name == "headwater"


# (model, platform, input datatype, outputs compared, tolerance)
RUNTIMES = [
    ("iris", "sklearn", "FP64", ("predict", "predict_proba"), 1e-9),
    ("iris-onnx", "onnxruntime_onnx", "FP32", ("probabilities",), 1e-5),
    ("boost", "xgboost", "FP32", ("predict", "predict_proba"), 1e-6),
    ("lgbm", "lightgbm", "FP64", ("predict",), 1e-9),
]


@pytest.mark.parametrize(("model", "platform", "datatype", "outputs", "tol"), RUNTIMES)
def test_every_runtime_answers_both_clients(
    models: Models,
    http: thttp.InferenceServerClient,
    grpc_client: tgrpc.InferenceServerClient,
    model: str,
    platform: str,
    datatype: str,
    outputs: tuple[str, ...],
    tol: float,
) -> None:
    meta = http.get_model_metadata(model)
    assert meta["platform"] == platform
    [spec] = meta["inputs"]
    assert (spec["name"], spec["datatype"], spec["shape"]) == ("X", datatype, [-1, 4])
    assert set(outputs) <= {o["name"] for o in meta["outputs"]}
    assert grpc_client.get_model_metadata(model).platform == platform
    expected = models.expected["iris/2" if model == "iris" else model]
    rows = models.rows.astype(np.float32 if datatype == "FP32" else np.float64)
    answers = [
        http.infer(model, [_http_input("X", rows, datatype)], request_id="b1"),
        http.infer(
            model,
            [_http_input("X", rows, datatype, binary=False)],
            outputs=[thttp.InferRequestedOutput(n, binary_data=False) for n in outputs],
            request_id="j1",
        ),
        grpc_client.infer(model, [_grpc_input("X", rows, datatype)], request_id="g1"),
    ]
    for answer, request_id in zip(answers, ("b1", "j1", "g1"), strict=True):
        response = answer.get_response()
        got_id = response["id"] if isinstance(response, dict) else response.id
        assert got_id == request_id
        for name in outputs:
            np.testing.assert_allclose(answer.as_numpy(name), expected[name], rtol=tol, atol=tol)


def test_a_python_predictor_pre_and_post_processes_text_and_json(
    http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient
) -> None:
    text = np.array([b"red fish blue fish", b"no colour"], dtype=object)
    meta = np.array([json.dumps({"user": "ann"}).encode(), b'{"user": "bob"}'], dtype=object)
    info = http.get_model_metadata("text")
    assert info["platform"] == "python"
    assert [i["name"] for i in info["inputs"]] == ["text", "meta"]
    for answer in (
        http.infer(
            "text",
            [_http_input("text", text, "BYTES", False), _http_input("meta", meta, "BYTES")],
            parameters={"suffix": "!"},
        ),
        grpc_client.infer(
            "text",
            [_grpc_input("text", text, "BYTES"), _grpc_input("meta", meta, "BYTES")],
            parameters={"suffix": "!"},
        ),
    ):
        assert answer.as_numpy("known").tolist() == [2, 0]
        assert answer.as_numpy("upper").tolist() == [b"RED FISH BLUE FISH!", b"NO COLOUR!"]
        reports = [json.loads(r) for r in answer.as_numpy("report")]
        assert reports == [{"words": 4, "user": "ann"}, {"words": 2, "user": "bob"}]


DATATYPES = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "UINT8": np.array([[0, 7, 255]], dtype=np.uint8),
    "UINT16": np.array([0, 65535], dtype=np.uint16),
    "UINT32": np.array([[4_000_000_000]], dtype=np.uint32),
    "UINT64": np.array([2**64 - 1, 0], dtype=np.uint64),
    "INT8": np.array([[-128, 127]], dtype=np.int8),
    "INT16": np.array([-32768, 1, 32767], dtype=np.int16),
    "INT32": np.arange(-6, 6, dtype=np.int32).reshape(2, 2, 3),
    "INT64": np.array([[-(2**63), 2**63 - 1]], dtype=np.int64),
    "FP16": np.array([[0.5, -2.0], [65504.0, 1e-3]], dtype=np.float16),
    "FP32": np.array([1.5, -3.25, 1e30], dtype=np.float32),
    "FP64": np.array([[np.pi], [-1e300]], dtype=np.float64),
    "BYTES": np.array([[b"a", b""], ["\u00e9t\u00e9".encode(), b"\x00\xff"]], dtype=object),
}


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    if want.dtype == object:
        assert got.tolist() == want.tolist()
    else:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_every_datatype_and_shape_goes_both_ways(
    http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient, datatype: str
) -> None:
    array = DATATYPES[datatype]
    ways = [
        ("binary", http.infer("echo", [_http_input("x", array, datatype)])),
        ("grpc raw", grpc_client.infer("echo", [_grpc_input("x", array, datatype)])),
    ]
    if datatype != "BYTES" or b"\x00\xff" not in array.ravel().tolist():
        # JSON carries BYTES as text: not the element that is not UTF-8.
        plain = array if datatype != "BYTES" else array[:, :1]
        ways.append(
            (
                "json",
                http.infer(
                    "echo",
                    [_http_input("x", plain, datatype, binary=False)],
                    outputs=[thttp.InferRequestedOutput("x", binary_data=False)],
                ),
            )
        )
    for way, answer in ways:
        want = plain if way == "json" else array
        _same(answer.as_numpy("x"), want)
        [out] = [o for o in _outputs(answer) if o["name"] == "x"]
        assert out["datatype"] == datatype, way


def _outputs(answer: Any) -> list[dict[str, Any]]:
    response = answer.get_response()
    if isinstance(response, dict):
        return list(response["outputs"])
    return [{"name": o.name, "datatype": o.datatype} for o in response.outputs]


def test_typed_grpc_contents_for_each_datatype(server: Server) -> None:
    """gRPC ``contents`` (not raw bytes) in, typed contents back; FP16 has no typed
    field and is refused with a clear status."""
    fields = {"BOOL": "bool_contents", "UINT8": "uint_contents", "UINT64": "uint64_contents",
              "INT16": "int_contents", "INT64": "int64_contents", "FP32": "fp32_contents",
              "FP64": "fp64_contents", "BYTES": "bytes_contents"}  # fmt: skip
    with grpc.insecure_channel(server.grpc) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        for datatype, field in fields.items():
            array = DATATYPES[datatype]
            request = service_pb2.ModelInferRequest(model_name="echo", id="typed")
            tensor = request.inputs.add(name="x", datatype=datatype, shape=array.shape)
            getattr(tensor.contents, field).extend(array.ravel().tolist())
            request.outputs.add(name="x")
            response = stub.ModelInfer(request)
            assert response.id == "typed" and not response.raw_output_contents
            [out] = response.outputs
            assert (out.datatype, list(out.shape)) == (datatype, list(array.shape))
            assert list(getattr(out.contents, field)) == array.ravel().tolist()
        request = service_pb2.ModelInferRequest(model_name="echo")
        request.inputs.add(name="x", datatype="FP16", shape=[1]).contents.fp32_contents.append(1)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModelInfer(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "FP16, which travels only as raw_input_contents" in caught.value.details()


def test_requested_outputs_and_versions(
    models: Models, http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient
) -> None:
    rows = models.rows
    only = http.infer(
        "iris",
        [_http_input("X", rows, "FP64")],
        model_version="1",
        outputs=[thttp.InferRequestedOutput("predict_proba")],
    )
    assert [o["name"] for o in only.get_response()["outputs"]] == ["predict_proba"]
    assert only.get_response()["model_version"] == "1"
    np.testing.assert_allclose(
        only.as_numpy("predict_proba"), models.expected["iris/1"]["predict_proba"]
    )
    default = grpc_client.infer("iris", [_grpc_input("X", rows, "FP64")])
    assert default.get_response().model_version == "2"  # the version named last: @champion
    assert http.get_model_metadata("iris")["versions"] == ["1", "2"]
    zipped = http.infer(
        "iris", [_http_input("X", rows, "FP64")], request_compression_algorithm="gzip"
    )
    np.testing.assert_allclose(
        zipped.as_numpy("predict_proba"), models.expected["iris/2"]["predict_proba"]
    )
    # Numbers of another datatype of the same kind are converted: FP32 and INT64 for FP64.
    for array, datatype in (
        (rows.astype(np.float32), "FP32"),
        ((rows > 0.5).astype(np.int64), "INT64"),
    ):
        answer = http.infer("iris", [_http_input("X", array, datatype)], model_version="2")
        assert answer.as_numpy("predict").shape == (3,)


# ------------------------------------------------------------------ bad input

IRIS = "/v2/models/iris/infer"
GOOD = {"name": "X", "datatype": "FP64", "shape": [1, 4], "data": [0.1, 0.2, 0.3, 0.4]}


def _with(**changes: Any) -> dict[str, Any]:
    return {"inputs": [{**GOOD, **changes}]}


BAD_REST = [
    ("wrong shape", IRIS, _with(shape=[1, 3], data=[1, 2, 3]), 400,
     "input 'X' has shape [1, 3]; model 'iris' version 2 expects [-1, 4] (-1: any size)"),
    ("wrong datatype", IRIS, _with(datatype="BYTES", data=["a", "b", "c", "d"]), 400,
     "input 'X' has datatype BYTES; model 'iris' version 2 expects FP64"),
    ("fractions for whole numbers", "/v2/models/echo/infer",
     _with(datatype="INT64", shape=[2], data=[1, 1.5]), 400,
     "tensor 'X' is INT64 but its data hold numbers that are not whole"),
    ("unknown datatype", IRIS, _with(datatype="FP128"), 400,
     "tensor 'X' has datatype 'FP128', which the Open Inference Protocol does not define"),
    ("data not matching the shape", IRIS, _with(data=[1, 2, 3]), 400,
     "tensor 'X' has shape [1, 4] (4 elements) but its data holds 3"),
    ("unknown model", "/v2/models/nope/infer", _with(), 404,
     "model 'nope' is not served here (served: boost, echo, iris, iris-onnx, lgbm, text)"),
    ("unknown version", "/v2/models/iris/versions/7/infer", _with(), 404,
     "model 'iris' has no version '7' served here (served versions: 1, 2)"),
    ("unknown input", IRIS, _with(name="Y"), 400,
     "model 'iris' version 2 has no input 'Y' (its inputs: X)"),
    ("unknown output", IRIS, {**_with(), "outputs": [{"name": "nope"}]}, 400,
     "model 'iris' version 2 has no output 'nope' (its outputs: predict, predict_proba)"),
    ("no inputs", IRIS, {"inputs": []}, 400, 'the request has no "inputs"'),
    ("too many dimensions", "/v2/models/echo/infer", _with(shape=[1] * 33, data=[1]), 400,
     "tensor 'X' has 33 dimensions; at most 32"),
    ("an id that is not text", IRIS, {**_with(), "id": 7}, 400, '"id" must be a string'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [case[1:] for case in BAD_REST],
    ids=[case[0] for case in BAD_REST],
)
def test_bad_requests_get_the_protocols_error(
    server: Server, path: str, body: Any, status: int, message: str
) -> None:
    response = httpx.post(server.url + path, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_malformed_json_binary_data_and_routes(server: Server) -> None:
    post = httpx.post
    bad = post(server.url + IRIS, content=b'{"inputs": [')
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("the request body is not valid JSON")
    assert post(server.url + IRIS, content=b"[1]").json()["error"] == (
        "the request body must be a JSON object"
    )
    deep = post(server.url + IRIS, content=b"[" * 200_000)
    assert (deep.status_code, deep.json()["error"]) == (
        400,
        "the request body nests JSON too deeply",
    )
    tensor = {"name": "X", "datatype": "FP64", "shape": [1, 4]}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": 32}}]}).encode()
    short = post(
        server.url + IRIS,
        content=header + b"\0" * 16,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert short.status_code == 400
    assert "binary_data_size 32, past the 16 bytes" in short.json()["error"]
    wrong = post(
        server.url + IRIS,
        content=header + b"\0" * 32,
        headers={"Inference-Header-Content-Length": str(len(header) + 100)},
    )
    assert wrong.status_code == 400 and "Inference-Header-Content-Length" in wrong.json()["error"]
    assert httpx.get(server.url + IRIS).status_code == 405
    missing = httpx.get(server.url + "/v2/nothing")
    assert (missing.status_code, missing.json()["error"]) == (404, "no such route: GET /v2/nothing")


def test_oversized_requests_are_refused(
    server: Server, grpc_client: tgrpc.InferenceServerClient
) -> None:
    big = np.full((40_000, 4), 0.123456789)  # 1.28 MB as FP64, 2 MB as JSON: over 1 MB
    response = httpx.post(
        server.url + IRIS,
        content=json.dumps(_with(shape=[40_000, 4], data=big.ravel().tolist())).encode(),
    )
    assert response.status_code == 413
    assert "larger than this server's limit of 1048576 bytes" in response.json()["error"]
    assert "--max-request-mb" in response.json()["error"]
    with pytest.raises(InferenceServerException) as caught:
        grpc_client.infer("iris", [_grpc_input("X", big, "FP64")])
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"


def test_bad_grpc_requests_get_status_codes(
    grpc_client: tgrpc.InferenceServerClient,
) -> None:
    cases = [
        ("iris", "", "X", np.zeros((1, 3)), "FP64", "INVALID_ARGUMENT", "expects [-1, 4]"),
        ("iris", "", "X", np.array([[b"a"] * 4], dtype=object), "BYTES", "INVALID_ARGUMENT",
         "has datatype BYTES; model 'iris' version 2 expects FP64"),
        ("nope", "", "X", np.zeros((1, 4)), "FP64", "NOT_FOUND", "model 'nope' is not served"),
        ("iris", "9", "X", np.zeros((1, 4)), "FP64", "NOT_FOUND", "has no version '9'"),
    ]  # fmt: skip
    for model, version, name, array, datatype, code, message in cases:
        with pytest.raises(InferenceServerException) as caught:
            grpc_client.infer(model, [_grpc_input(name, array, datatype)], model_version=version)
        assert caught.value.status() == f"StatusCode.{code}", caught.value.message()
        assert message in caught.value.message()
    with pytest.raises(InferenceServerException) as caught:
        grpc_client.get_model_metadata("nope")
    assert caught.value.status() == "StatusCode.NOT_FOUND"


def test_a_failing_model_is_a_500_and_the_server_answers_on(
    server: Server, http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient
) -> None:
    body = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["red"]},
            {"name": "meta", "datatype": "BYTES", "shape": [1], "data": ["{not json"]},
        ]
    }
    failed = httpx.post(server.url + "/v2/models/text/infer", json=body)
    assert failed.status_code == 500
    assert failed.json()["error"].startswith("model 'text' version 1 failed: JSONDecodeError")
    assert http.is_server_live() and grpc_client.is_server_ready()
    for model in ("text", "iris", "echo"):
        assert http.is_model_ready(model)
    answer = http.infer("iris", [_http_input("X", np.zeros((1, 4)), "FP64")])
    assert answer.as_numpy("predict").shape == (1,)


# ------------------------------------------------------------------ the repository


def test_the_model_repository_extension(
    server: Server, http: thttp.InferenceServerClient, grpc_client: tgrpc.InferenceServerClient
) -> None:
    index = {(m["name"], m["version"]): m for m in http.get_model_repository_index()}
    assert index[("iris", "2")]["state"] == "READY"
    assert index[("echo2", "")] == {
        "name": "echo2", "version": "", "state": "UNAVAILABLE", "reason": "not loaded"
    }  # fmt: skip
    ready_only = httpx.post(server.url + "/v2/repository/index", json={"ready": True}).json()
    assert {m["state"] for m in ready_only} == {"READY"} and ("echo2", "") not in {
        (m["name"], m["version"]) for m in ready_only
    }
    http.load_model("echo2")
    x = np.array([1, 2], dtype=np.int32)
    assert http.infer("echo2", [_http_input("x", x, "INT32")]).as_numpy("x").tolist() == [1, 2]
    assert grpc_client.is_model_ready("echo2")
    grpc_client.unload_model("echo2")
    assert not http.is_model_ready("echo2")
    with pytest.raises(InferenceServerException) as caught:
        http.infer("echo2", [_http_input("x", x, "INT32")])
    assert "model 'echo2' is not served here" in caught.value.message()
    # By version, over gRPC and plain HTTP; then unload only that version.
    grpc_client.load_model("echo2")
    loaded = httpx.post(
        server.url + "/v2/repository/models/iris/load", json={"parameters": {"version": 1}}
    )
    assert loaded.status_code == 200
    assert grpc_client.is_model_ready("echo2")
    grpc_client.unload_model("echo2")
    for name, body, status, message in [
        ("nope", {}, 404, "no registered model 'nope'"),
        ("iris", {"parameters": {"version": 9}}, 404, "has no version 9"),
        ("iris", {"parameters": {"alias": "ghost"}}, 404, "has no alias 'ghost'"),
        ("iris", {"parameters": "x"}, 400, '"parameters" must be an object'),
        ("blob", {}, 400, "model 'blob' version 1 has no flavour: the registry could not tell"),
    ]:
        response = httpx.post(server.url + f"/v2/repository/models/{name}/load", json=body)
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    gone = httpx.post(server.url + "/v2/repository/models/nope/unload")
    assert (gone.status_code, gone.json()["error"]) == (404, "model 'nope' is not loaded")
    assert http.is_model_ready("iris", "1") and http.is_model_ready("iris", "2")
