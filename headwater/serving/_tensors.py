"""The Open Inference Protocol's tensors as numpy arrays: its datatypes, shapes, and the
three ways a tensor's elements travel — JSON ``data`` (REST), raw little-endian bytes
(the REST binary tensor data extension and gRPC's ``raw_*_contents``), and gRPC's typed
``contents`` (in ``_grpc``).

Every function here checks what a client sent and raises :class:`ServingError` (400)
naming the tensor, what it holds and what was expected, before anything is allocated
from a client's numbers (a shape is checked against the data's length first).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from headwater.errors import ServingError

#: Each V2 datatype and the numpy dtype that holds it (little-endian on the wire).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_NAMES = ", ".join(DATATYPES)
_BY_KIND = {
    ("b", 1): "BOOL",
    ("u", 1): "UINT8",
    ("u", 2): "UINT16",
    ("u", 4): "UINT32",
    ("u", 8): "UINT64",
    ("i", 1): "INT8",
    ("i", 2): "INT16",
    ("i", 4): "INT32",
    ("i", 8): "INT64",
    ("f", 2): "FP16",
    ("f", 4): "FP32",
    ("f", 8): "FP64",
}
_LENGTH = struct.Struct("<I")
#: A tensor of more elements than this is refused whatever its bytes (a shape such as
#: [1e12] would otherwise ask numpy for terabytes before its data is looked at).
MAX_ELEMENTS = 1 << 31
#: numpy's own limit on dimensions.
MAX_DIMENSIONS = 32


def dtype_of(name: str, datatype: str) -> np.dtype[Any]:
    """The numpy dtype of V2 ``datatype``, or a 400 naming tensor ``name``."""
    found = DATATYPES.get(datatype)
    if found is None:
        if datatype == "BF16":
            raise ServingError(
                400, f"tensor '{name}' has datatype BF16, which this server does not support"
            )
        raise ServingError(
            400,
            f"tensor '{name}' has datatype {datatype!r}, which the Open Inference Protocol "
            f"does not define (use one of {_NAMES})",
        )
    return found


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """The V2 datatype of a numpy array (strings, bytes and objects: BYTES)."""
    kind = array.dtype.kind
    if kind in "OSU":
        return "BYTES"
    found = _BY_KIND.get((kind, array.dtype.itemsize))
    if found is None:
        raise ServingError(
            500, f"the model returned an array of {array.dtype}, which has no V2 datatype"
        )
    return found


def check_shape(name: str, shape: object) -> tuple[int, ...]:
    """A request's shape: a list of whole numbers from 0, of at most MAX_ELEMENTS."""
    if not isinstance(shape, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ServingError(
            400, f"tensor '{name}' has shape {shape!r}; a shape is a list of whole numbers from 0"
        )
    if len(shape) > MAX_DIMENSIONS:
        raise ServingError(
            400, f"tensor '{name}' has {len(shape)} dimensions; at most {MAX_DIMENSIONS}"
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise ServingError(
            400, f"tensor '{name}' has shape {list(shape)}: more than {MAX_ELEMENTS} elements"
        )
    return tuple(shape)


def _count_mismatch(name: str, shape: tuple[int, ...], got: int) -> ServingError:
    return ServingError(
        400,
        f"tensor '{name}' has shape {list(shape)} ({math.prod(shape)} elements) but its data "
        f"holds {got}",
    )


def _flatten(data: list[Any]) -> list[Any]:
    if not any(isinstance(v, list) for v in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def from_json(name: str, datatype: str, shape: object, data: object) -> np.ndarray[Any, Any]:
    """A tensor from a REST request's JSON: ``data`` flat or nested, row-major."""
    dtype = dtype_of(name, datatype)
    dims = check_shape(name, shape)
    if not isinstance(data, list):
        data = [data]
    flat = _flatten(data)
    count = math.prod(dims)
    if len(flat) != count:
        raise _count_mismatch(name, dims, len(flat))
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise ServingError(
                400, f"tensor '{name}' is BYTES: its JSON data must be strings (text)"
            )
        array = np.empty(count, dtype=object)
        array[:] = [v.encode("utf-8") for v in flat]
        return array.reshape(dims)
    if datatype == "BOOL":
        if not all(type(v) is bool for v in flat):
            raise ServingError(400, f"tensor '{name}' is BOOL: its data must be true or false")
        return np.array(flat, dtype=dtype).reshape(dims)
    kinds = {type(v) for v in flat}
    if kinds - {int, float}:
        what = "true/false" if bool in kinds else "values that are not numbers"
        raise ServingError(400, f"tensor '{name}' is {datatype} but its data hold {what}")
    if dtype.kind in "iu" and float in kinds:
        if not all(float(v).is_integer() for v in flat):
            raise ServingError(
                400, f"tensor '{name}' is {datatype} but its data hold numbers that are not whole"
            )
        flat = [int(v) for v in flat]
    try:
        return np.array(flat, dtype=dtype).reshape(dims)
    except OverflowError as e:
        raise ServingError(400, f"tensor '{name}' holds data out of {datatype}'s range") from e


def from_raw(
    name: str, datatype: str, shape: object, raw: bytes | memoryview
) -> np.ndarray[Any, Any]:
    """A tensor from raw bytes: row-major little-endian elements, or for BYTES each
    element as a 4-byte little-endian length and its bytes."""
    dtype = dtype_of(name, datatype)
    dims = check_shape(name, shape)
    count = math.prod(dims)
    if datatype == "BYTES":
        return unpack_bytes(name, raw, count).reshape(dims)
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise ServingError(
            400,
            f"tensor '{name}' has shape {list(dims)} of {datatype}: {expected} bytes of data "
            f"expected, {len(raw)} given",
        )
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def unpack_bytes(name: str, raw: bytes | memoryview, count: int) -> np.ndarray[Any, Any]:
    """``count`` BYTES elements, each a 4-byte little-endian length and its bytes."""
    view = memoryview(raw)
    items: list[bytes] = []
    pos, end = 0, len(view)
    while pos < end:
        if pos + 4 > end:
            raise ServingError(400, f"tensor '{name}': its BYTES data end inside a length prefix")
        (size,) = _LENGTH.unpack_from(view, pos)
        pos += 4
        if pos + size > end:
            raise ServingError(
                400, f"tensor '{name}': a BYTES element of {size} bytes runs past the data's end"
            )
        items.append(bytes(view[pos : pos + size]))
        pos += size
        if len(items) > count:
            break
    if len(items) != count:
        raise ServingError(
            400, f"tensor '{name}' has {count} elements by its shape but its data hold {len(items)}"
        )
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, np.bytes_ | np.str_):
        return _as_bytes(value.item())
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def to_raw(array: np.ndarray[Any, Any], datatype: str) -> bytes:
    """An output's elements as raw bytes (the layout :func:`from_raw` reads)."""
    if datatype == "BYTES":
        parts = []
        for item in array.ravel():
            data = _as_bytes(item)
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=DATATYPES[datatype]).tobytes()


def to_json(name: str, array: np.ndarray[Any, Any], datatype: str) -> list[Any]:
    """An output's elements, flat and row-major, as JSON values (BYTES as text)."""
    if datatype != "BYTES":
        values: list[Any] = array.ravel().tolist()
        return values
    out = []
    for item in array.ravel():
        data = _as_bytes(item)
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise ServingError(
                400,
                f"output '{name}' holds bytes that are not UTF-8 text, which JSON cannot "
                'carry; ask for it as binary data (the output\'s parameters: {"binary_data": '
                "true})",
            ) from None
    return out


def as_bytes_array(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    """Text, bytes or JSON-able values as a BYTES array (each element its bytes)."""
    array = np.empty(len(values), dtype=object)
    array[:] = [_as_bytes(v) for v in values]
    return array
