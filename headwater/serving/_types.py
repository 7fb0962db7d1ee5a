"""Plain data shared by the serving front (REST, gRPC, the model repository) and the
model workers: tensor and model metadata, what a worker is asked to load, an inference
request as both protocols decode it, and the states of a served model."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A model input or output as V2 metadata states it. ``datatype`` "" and ``shape``
    None: not known (checked by nothing); -1 in a shape: a dimension of any size."""

    name: str
    datatype: str = ""
    shape: tuple[int, ...] | None = None

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape or [-1])}


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What a loaded model takes and returns; ``inputs`` empty: whatever it is sent (a
    Python predictor that declares none). ``batchable``: its rows are independent, so
    requests may be concatenated along the first dimension, predicted once and split
    back (adaptive batching)."""

    platform: str
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    batchable: bool = False


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What a model worker loads: a registered model version's files and what the
    registry recorded about them (flavour, the model file inside the artifact, details
    such as the class, the signature)."""

    name: str
    version: int
    flavor: str
    path: str
    file: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"model '{self.name}' version {self.version}"


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    """An output a request names; ``binary``: the REST binary data extension's
    ``binary_data`` parameter (None: the request's default)."""

    name: str
    binary: bool | None = None


@dataclass(slots=True)
class InferRequest:
    """An inference request as REST and gRPC decode it: inputs as numpy arrays (in the
    request's order) with the datatypes they were sent as; ``outputs`` None: all."""

    id: str
    inputs: dict[str, np.ndarray[Any, Any]]
    datatypes: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] | None = None


#: One output of an answered request: name, V2 datatype, elements.
Output = tuple[str, str, np.ndarray[Any, Any]]


class ModelState(StrEnum):
    """A served model version's state (the repository index shows it)."""

    LOADING = "LOADING"  # its workers are starting; none has loaded it yet
    READY = "READY"  # at least one worker answers
    UNAVAILABLE = "UNAVAILABLE"  # no worker answers: restarting after a crash, or failed
    UNLOADING = "UNLOADING"  # being stopped; new requests are refused


class WorkerState(StrEnum):
    """One model worker process's state; the supervisor alone changes it."""

    STARTING = "starting"  # the process is loading the model
    READY = "ready"  # it answers requests
    RESTARTING = "restarting"  # it stopped unasked; a new one starts after a pause
    FAILED = "failed"  # it failed to load too often in a row: not started again
    CLOSED = "closed"  # stopped on purpose
