"""The Open Inference Protocol over REST: a small ASGI application that uvicorn runs.

It is plain ASGI, not FastAPI: a request to ``/infer`` is parsed once, straight into
numpy arrays, with no routing table, dependency injection or pydantic model on the hot
path (each would cost more than the model's own work on one row).

Routes::

    GET  /v2                                     server metadata
    GET  /v2/health/live | /v2/health/ready      200 yes, 400 no (the protocol's "4xx")
    GET  /v2/models/M[/versions/V]               model metadata
    GET  /v2/models/M[/versions/V]/ready         200 ready, 400 not ready, 404 unknown
    POST /v2/models/M[/versions/V]/infer         inference (JSON, or the binary extension)
    POST /v2/repository/index                    the model repository extension
    POST /v2/repository/models/M/load | /unload
    GET  /metrics                                Prometheus metrics (``_metrics``)

Every error is ``{"error": "..."}`` with a 4xx or 5xx status.
"""

from __future__ import annotations

import gzip
import json
import traceback
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from headwater._version import __version__
from headwater.errors import ServingError
from headwater.serving._metrics import CONTENT_TYPE
from headwater.serving._repository import Repository
from headwater.serving._tensors import from_json, from_raw, to_json, to_raw
from headwater.serving._types import InferRequest, Output, RequestedOutput

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SERVER_NAME = "headwater"
#: The protocol extensions served (the names Triton and KServe use).
EXTENSIONS = ["binary_tensor_data", "model_repository", "parameters"]
_JSON = [(b"content-type", b"application/json")]
_HEADER_LENGTH = "inference-header-content-length"


def error_text(error: ServingError) -> str:
    return f"{error.message} ({error.hint})" if error.hint else error.message


class _Disconnected(Exception):
    pass


class RestApp:
    """The ASGI application; ``max_body``: the largest request body taken, in bytes."""

    def __init__(self, repository: Repository, max_body: int) -> None:
        self.repository = repository
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            status, body, headers = await self._route(scope, receive)
        except ServingError as e:
            status, body, headers = e.status, _dumps({"error": error_text(e)}), _JSON
        except _Disconnected:
            return
        except Exception as e:  # a bug: still the protocol's answer; the traceback is logged
            traceback.print_exc()
            message = f"internal error: {type(e).__name__}: {e}"
            status, body, headers = 500, _dumps({"error": message}), _JSON
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, bytes, list[Any]]:
        parts = scope["path"].strip("/").split("/")
        method = scope["method"]
        if parts == ["metrics"]:
            _allow(method, "GET", scope)
            return 200, self.repository.metrics.render(), [(b"content-type", CONTENT_TYPE.encode())]
        if parts[0] != "v2":
            raise ServingError(
                404, f"no such route: {scope['path']} (the protocol's are under /v2)"
            )
        rest = parts[1:]
        if rest and rest[0] == "models" and len(rest) >= 2:
            name, tail = rest[1], rest[2:]
            version = None
            if len(tail) >= 2 and tail[0] == "versions":
                version, tail = tail[1], tail[2:]
            if tail == ["infer"]:
                _allow(method, "POST", scope)
                return await self._infer(scope, receive, name, version)
            if tail == []:
                _allow(method, "GET", scope)
                return _ok(self._metadata(name, version))
            if tail == ["ready"]:
                _allow(method, "GET", scope)
                served = self.repository.get(name, version)
                ready = served.state.value == "READY"
                if not ready:
                    raise ServingError(400, f"{served.label} is not ready ({served.state.value})")
                return 200, b"", _JSON
        elif rest == []:
            _allow(method, "GET", scope)
            return _ok({"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS})
        elif rest == ["health", "live"]:
            _allow(method, "GET", scope)
            return 200, b"", _JSON
        elif rest == ["health", "ready"]:
            _allow(method, "GET", scope)
            if not self.repository.ready():
                raise ServingError(400, "not every served model is ready")
            return 200, b"", _JSON
        elif rest == ["repository", "index"]:
            _allow(method, "POST", scope)
            doc = _object(await self._body(scope, receive) or b"{}")
            ready = doc.get("ready", False)
            if not isinstance(ready, bool):
                raise ServingError(400, '"ready" must be true or false')
            return _ok(await self.repository.index(ready))
        elif len(rest) == 4 and rest[:2] == ["repository", "models"]:
            name, action = rest[2], rest[3]
            if action in ("load", "unload"):
                _allow(method, "POST", scope)
                doc = _object(await self._body(scope, receive) or b"{}")
                parameters = doc.get("parameters") or {}
                if not isinstance(parameters, dict):
                    raise ServingError(400, '"parameters" must be an object')
                if action == "load":
                    await self.repository.load(name, parameters)
                else:
                    version = parameters.get("version")
                    await self.repository.unload(name, None if version is None else str(version))
                return 200, b"", _JSON
        raise ServingError(404, f"no such route: {method} {scope['path']}")

    def _metadata(self, name: str, version: str | None) -> dict[str, Any]:
        served = self.repository.get(name, version)
        meta = served.metadata
        if meta is None:
            raise ServingError(503, f"{served.label} is still loading")
        return {
            "name": served.name,
            "versions": self.repository.versions_of(served.name),
            "platform": meta.platform,
            "inputs": [s.json() for s in meta.inputs],
            "outputs": [s.json() for s in meta.outputs],
        }

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = None
        encoding = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif key == b"content-encoding":
                encoding = value.decode("latin-1").strip().lower()
        if declared is not None and declared > self.max_body:
            raise self._too_large(declared)
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(size)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if encoding and encoding != "identity":
            body = self._decompress(body, encoding)
        return body

    def _too_large(self, size: int) -> ServingError:
        return ServingError(
            413,
            f"the request body ({size} bytes or more) is larger than this server's limit of "
            f"{self.max_body} bytes",
            hint="send fewer rows per request, or start headwater serve with a larger "
            "--max-request-mb",
        )

    def _decompress(self, body: bytes, encoding: str) -> bytes:
        if encoding not in ("gzip", "deflate"):
            raise ServingError(
                400, f"Content-Encoding {encoding!r} is not supported (gzip, deflate)"
            )
        unpacker = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
        try:
            data = unpacker.decompress(body, self.max_body + 1)
        except (zlib.error, gzip.BadGzipFile) as e:
            raise ServingError(400, f"the request body is not valid {encoding} data: {e}") from e
        if len(data) > self.max_body:
            raise self._too_large(len(data))
        return data

    # ------------------------------------------------------------------ inference

    async def _infer(
        self, scope: Scope, receive: Receive, name: str, version: str | None
    ) -> tuple[int, bytes, list[Any]]:
        served = self.repository.get(name, version)
        metrics = self.repository.metrics
        started = metrics.begin(served.name, served.version)
        status, request_id = 500, ""
        try:
            request, binary_out = await self._request(scope, receive)
            request_id = request.id
            outputs = await served.infer(request)
            answer = encode_response(served.name, served.version, request, outputs, binary_out)
            status = 200
            return answer
        except ServingError as e:
            status = e.status
            raise
        except _Disconnected:
            status = 499  # the client went away (nginx's number for it)
            raise
        finally:
            metrics.end(served.name, served.version, "rest", started, status, request_id)

    async def _request(self, scope: Scope, receive: Receive) -> tuple[InferRequest, bool]:
        body = await self._body(scope, receive)
        header_length = None
        for key, value in scope["headers"]:
            if key == b"inference-header-content-length":
                text = value.decode("latin-1")
                if not text.isdigit() or int(text) > len(body):
                    raise ServingError(
                        400,
                        f"Inference-Header-Content-Length is {text!r}: not a length within "
                        f"the {len(body)}-byte body",
                    )
                header_length = int(text)
        if header_length is None:
            doc = _object(body)
            binary = memoryview(b"")
        else:
            doc = _object(body[:header_length])
            binary = memoryview(body)[header_length:]
        return parse_request(doc, binary)


def _allow(method: str, allowed: str, scope: Scope) -> None:
    if method != allowed:
        raise ServingError(405, f"{scope['path']} takes {allowed}, not {method}")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _ok(value: Any) -> tuple[int, bytes, list[Any]]:
    return 200, _dumps(value), _JSON


def _object(body: bytes | memoryview) -> dict[str, Any]:
    try:
        doc = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as e:
        raise ServingError(400, f"the request body is not valid JSON: {e}") from e
    except RecursionError:
        raise ServingError(400, "the request body nests JSON too deeply") from None
    if not isinstance(doc, dict):
        raise ServingError(400, "the request body must be a JSON object")
    return doc


def parse_request(doc: dict[str, Any], binary: memoryview) -> tuple[InferRequest, bool]:
    """An inference request from its JSON (and the binary data after it); also whether
    outputs are binary by default (the ``binary_data_output`` parameter)."""
    request_id = doc.get("id", "")
    if not isinstance(request_id, str):
        raise ServingError(400, '"id" must be a string')
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ServingError(400, '"parameters" must be an object')
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise ServingError(400, 'the request has no "inputs": a list of input tensors')
    inputs = {}
    datatypes = {}
    offset = 0
    for item in raw_inputs:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ServingError(400, 'each input must be an object with a "name"')
        name = item["name"]
        if name in inputs:
            raise ServingError(400, f"input '{name}' is given twice")
        datatype = item.get("datatype")
        if not isinstance(datatype, str):
            raise ServingError(400, f"input '{name}' has no \"datatype\"")
        shape = item.get("shape")
        params = item.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise ServingError(
                    400,
                    f"input '{name}' has binary_data_size {size!r}, past the "
                    f"{len(binary)} bytes of binary data the request carries",
                )
            inputs[name] = from_raw(name, datatype, shape, binary[offset : offset + size])
            offset += size
        elif "data" in item:
            inputs[name] = from_json(name, datatype, shape, item["data"])
        else:
            raise ServingError(400, f"input '{name}' has neither \"data\" nor binary data")
        datatypes[name] = datatype
    if offset != len(binary):
        raise ServingError(
            400, f"the request carries {len(binary) - offset} bytes of binary data no input uses"
        )
    requested = None
    raw_outputs = doc.get("outputs")
    if raw_outputs:  # none, or an empty list: every output
        if not isinstance(raw_outputs, list):
            raise ServingError(400, '"outputs" must be a list of requested outputs')
        requested = []
        for item in raw_outputs:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ServingError(400, 'each requested output must be an object with a "name"')
            params = item.get("parameters") or {}
            flag = params.get("binary_data") if isinstance(params, dict) else None
            requested.append(
                RequestedOutput(item["name"], flag if isinstance(flag, bool) else None)
            )
    binary_out = parameters.pop("binary_data_output", False) is True
    return InferRequest(request_id, inputs, datatypes, parameters, requested), binary_out


def encode_response(
    model: str, version: str, request: InferRequest, outputs: list[Output], binary_default: bool
) -> tuple[int, bytes, list[Any]]:
    binary_of = {o.name: o.binary for o in request.outputs or ()}
    doc: dict[str, Any] = {"model_name": model, "model_version": version}
    if request.id:
        doc["id"] = request.id
    tensors = []
    chunks = []
    for name, datatype, array in outputs:
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        flag = binary_of.get(name)
        if flag if flag is not None else binary_default:
            data = to_raw(array, datatype)
            tensor["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            tensor["data"] = to_json(name, array, datatype)
        tensors.append(tensor)
    doc["outputs"] = tensors
    header = _dumps(doc)
    if not chunks:
        return 200, header, _JSON
    headers = [
        (b"content-type", b"application/octet-stream"),
        (_HEADER_LENGTH.encode(), str(len(header)).encode()),
    ]
    return 200, header + b"".join(chunks), headers
