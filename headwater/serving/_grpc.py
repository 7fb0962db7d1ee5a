"""The Open Inference Protocol over gRPC: ``inference.GRPCInferenceService`` (grpc.aio,
in the front's event loop beside the REST server).

Inputs come as ``raw_input_contents`` or typed ``contents``; outputs go back as
``raw_output_contents`` when the request sent raw inputs (or an output is FP16, which has
no typed field), else as typed ``contents``. Errors are gRPC status codes: a 400 is
INVALID_ARGUMENT, 404 NOT_FOUND, 413 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, 504 (a request
timeout) DEADLINE_EXCEEDED, 500 INTERNAL. A client's deadline is honoured: when it passes
first, the call ends with DEADLINE_EXCEEDED (the worker is left to finish; only the
server's own request timeout stops a worker).
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import grpc
import numpy as np

from headwater._version import __version__
from headwater.errors import ServingError
from headwater.serving._proto import grpc_service_pb2 as pb
from headwater.serving._proto import grpc_service_pb2_grpc as pb_grpc
from headwater.serving._repository import Repository
from headwater.serving._rest import EXTENSIONS, SERVER_NAME, error_text
from headwater.serving._tensors import check_shape, dtype_of, from_raw, to_raw
from headwater.serving._types import InferRequest, ModelState, Output, RequestedOutput

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
#: Seconds left beyond which a call is taken as having no deadline (gRPC's "none" is
#: a very large number).
_NO_DEADLINE = 1e9
#: The typed contents field of each datatype (FP16 has none).
_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def _parameter(value: pb.InferParameter | pb.ModelRepositoryParameter) -> Any:
    kind = value.WhichOneof("parameter_choice")
    return getattr(value, kind) if kind else None


def _contents(name: str, datatype: str, shape: Any, contents: pb.InferTensorContents) -> Any:
    dtype = dtype_of(name, datatype)
    dims = check_shape(name, list(shape))
    field = _FIELDS.get(datatype)
    if field is None:
        raise ServingError(
            400, f"input '{name}' is {datatype}, which travels only as raw_input_contents"
        )
    values = getattr(contents, field)
    count = int(np.prod(dims)) if dims else 1
    if len(values) != count:
        raise ServingError(
            400,
            f"tensor '{name}' has shape {list(dims)} ({count} elements) but its contents "
            f"hold {len(values)}",
        )
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(dims)
    try:
        return np.array(values, dtype=dtype).reshape(dims)
    except (OverflowError, ValueError) as e:
        raise ServingError(400, f"tensor '{name}' holds data out of {datatype}'s range") from e


def parse_request(request: pb.ModelInferRequest) -> tuple[InferRequest, bool]:
    """An inference request from its message; also whether it used raw contents."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise ServingError(
            400,
            f"the request has {len(request.inputs)} inputs but {len(raw)} raw_input_contents "
            "(one each, in order)",
        )
    if not request.inputs:
        raise ServingError(400, "the request has no inputs")
    inputs = {}
    datatypes = {}
    for i, tensor in enumerate(request.inputs):
        name = tensor.name
        if name in inputs:
            raise ServingError(400, f"input '{name}' is given twice")
        if raw:
            if tensor.HasField("contents"):
                raise ServingError(
                    400, f"input '{name}' has contents although the request uses raw contents"
                )
            inputs[name] = from_raw(name, tensor.datatype, list(tensor.shape), raw[i])
        else:
            inputs[name] = _contents(name, tensor.datatype, tensor.shape, tensor.contents)
        datatypes[name] = tensor.datatype
    parameters = {k: _parameter(v) for k, v in request.parameters.items()}
    outputs = [RequestedOutput(o.name) for o in request.outputs] if request.outputs else None
    return InferRequest(request.id, inputs, datatypes, parameters, outputs), bool(raw)


def encode_response(
    model: str, version: str, request_id: str, outputs: list[Output], raw: bool
) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=model, model_version=version, id=request_id)
    raw = raw or any(datatype == "FP16" for _, datatype, _ in outputs)
    for name, datatype, array in outputs:
        tensor = response.outputs.add(name=name, datatype=datatype, shape=array.shape)
        if raw:
            response.raw_output_contents.append(to_raw(array, datatype))
        elif datatype == "BYTES":
            tensor.contents.bytes_contents.extend(
                v if isinstance(v, bytes) else str(v).encode() for v in array.ravel()
            )
        else:
            getattr(tensor.contents, _FIELDS[datatype]).extend(array.ravel().tolist())
    return response


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    """The V2 gRPC service over one :class:`Repository`."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    async def _fail(self, context: grpc.aio.ServicerContext, error: ServingError) -> None:
        await context.abort(_CODES.get(error.status, grpc.StatusCode.INTERNAL), error_text(error))

    async def ServerLive(self, request: Any, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.repository.ready())

    async def ModelReady(self, request: Any, context: Any) -> pb.ModelReadyResponse:
        try:
            served = self.repository.get(request.name, request.version or None)
        except ServingError:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=served.state is ModelState.READY)

    async def ServerMetadata(self, request: Any, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(
            name=SERVER_NAME, version=__version__, extensions=EXTENSIONS
        )

    async def ModelMetadata(self, request: Any, context: Any) -> pb.ModelMetadataResponse:
        try:
            served = self.repository.get(request.name, request.version or None)
            meta = served.metadata
            if meta is None:
                raise ServingError(503, f"{served.label} is still loading")
        except ServingError as e:
            await self._fail(context, e)
            raise
        response = pb.ModelMetadataResponse(
            name=served.name,
            versions=self.repository.versions_of(served.name),
            platform=meta.platform,
        )
        for specs, target in ((meta.inputs, response.inputs), (meta.outputs, response.outputs)):
            for spec in specs:
                target.add(name=spec.name, datatype=spec.datatype, shape=spec.shape or [-1])
        return response

    async def ModelInfer(self, request: Any, context: Any) -> pb.ModelInferResponse:
        try:
            served = self.repository.get(request.model_name, request.model_version or None)
        except ServingError as e:
            await self._fail(context, e)
            raise
        metrics = self.repository.metrics
        started = metrics.begin(served.name, served.version)
        status = 500
        try:
            parsed, raw = parse_request(request)
            remaining = context.time_remaining()
            if remaining is None or remaining > _NO_DEADLINE:
                outputs = await served.infer(parsed)
            else:
                try:
                    outputs = await asyncio.wait_for(served.infer(parsed), max(0.0, remaining))
                except TimeoutError:
                    raise ServingError(
                        504,
                        f"{served.label} did not answer before the client's deadline",
                        hint="give the call a longer deadline (timeout)",
                    ) from None
            response = encode_response(served.name, served.version, parsed.id, outputs, raw)
            status = 200
            return response
        except ServingError as e:
            status = e.status
            await self._fail(context, e)
            raise
        except asyncio.CancelledError:
            status = 499  # the client cancelled the call
            raise
        except Exception as e:  # a bug: still a status with a message; the traceback is logged
            traceback.print_exc()
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error: {type(e).__name__}: {e}"
            )
            raise
        finally:
            metrics.end(served.name, served.version, "grpc", started, status, request.id)

    async def RepositoryIndex(self, request: Any, context: Any) -> pb.RepositoryIndexResponse:
        rows = await self.repository.index(request.ready)
        response = pb.RepositoryIndexResponse()
        for row in rows:
            response.models.add(**row)
        return response

    async def RepositoryModelLoad(
        self, request: Any, context: Any
    ) -> pb.RepositoryModelLoadResponse:
        parameters = {k: _parameter(v) for k, v in request.parameters.items()}
        try:
            await self.repository.load(request.model_name, parameters)
        except ServingError as e:
            await self._fail(context, e)
            raise
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: Any, context: Any
    ) -> pb.RepositoryModelUnloadResponse:
        version = (
            _parameter(request.parameters["version"]) if "version" in request.parameters else None
        )
        try:
            await self.repository.unload(
                request.model_name, None if version is None else str(version)
            )
        except ServingError as e:
            await self._fail(context, e)
            raise
        return pb.RepositoryModelUnloadResponse()


def add_service(server: grpc.aio.Server, repository: Repository) -> None:
    service = InferenceService(repository)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
