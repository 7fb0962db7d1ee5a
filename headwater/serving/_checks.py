"""A request checked against the model's metadata, in the front, before a worker sees it:
the inputs it names, their shapes and datatypes, the outputs it asks for.

A numeric input sent as another numeric datatype of the same kind or a safe widening
(INT32 for an FP64 input, FP64 for an FP32 one, BOOL for an integer one) is converted,
as numpy's ``same_kind`` casting allows; text for numbers, or fractions for whole
numbers, are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from headwater.errors import ServingError
from headwater.serving._tensors import DATATYPES
from headwater.serving._types import InferRequest, ModelMetadata, TensorSpec


def _shape_fits(shape: tuple[int, ...], spec: tuple[int, ...]) -> bool:
    return len(shape) == len(spec) and all(s in (-1, d) for d, s in zip(shape, spec, strict=True))


def _conform(
    label: str, spec: TensorSpec, array: np.ndarray[Any, Any], datatype: str
) -> np.ndarray[Any, Any]:
    if spec.shape is not None and not _shape_fits(array.shape, spec.shape):
        raise ServingError(
            400,
            f"input '{spec.name}' has shape {list(array.shape)}; {label} expects "
            f"{list(spec.shape)} (-1: any size)",
        )
    if not spec.datatype or datatype == spec.datatype:
        return array
    wanted = DATATYPES.get(spec.datatype)
    if (
        wanted is None
        or "BYTES" in (datatype, spec.datatype)
        or not np.can_cast(array.dtype, wanted, "same_kind")
    ):
        raise ServingError(
            400,
            f"input '{spec.name}' has datatype {datatype}; {label} expects {spec.datatype}",
        )
    return array.astype(wanted)


def check_request(label: str, metadata: ModelMetadata, request: InferRequest) -> None:
    """Raise a 400 for what in ``request`` the model cannot take; convert inputs sent as
    a compatible numeric datatype to the model's (in place)."""
    if metadata.inputs:
        specs = {s.name: s for s in metadata.inputs}
        names = ", ".join(specs)
        for name in request.inputs:
            if name not in specs:
                raise ServingError(400, f"{label} has no input '{name}' (its inputs: {names})")
        missing = [n for n in specs if n not in request.inputs]
        if missing:
            raise ServingError(
                400,
                f"{label} needs input{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)}, which the request does not send",
            )
        for name, array in request.inputs.items():
            request.inputs[name] = _conform(label, specs[name], array, request.datatypes[name])
    if request.outputs is not None and metadata.outputs:
        known = [s.name for s in metadata.outputs]
        for wanted in request.outputs:
            if wanted.name not in known:
                raise ServingError(
                    400,
                    f"{label} has no output '{wanted.name}' (its outputs: {', '.join(known)})",
                )
