"""What kind of model an artifact holds (its *flavour*) and, where the files say, its
signature: read from file names, headers and the model formats' own metadata, never by
unpickling or importing anything the artifact holds.

A pickle (scikit-learn, joblib, a pickled XGBoost or LightGBM model, a Python object) is
read with :func:`pickletools.genops`, which decodes opcodes without running them: the
classes a pickle would import are named in its ``GLOBAL``/``STACK_GLOBAL`` opcodes.
ONNX is protobuf, decoded field by field here; XGBoost's JSON and LightGBM's text
format state their features in plain sight. The model's own metadata wins: a task that
sets ``model.metadata["flavor"]`` (and ``"signature"``) says what it is.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import json
import lzma
import os
import pickletools
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

#: The flavours the registry recognises (the serving layer loads each its own way).
FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "python")

_MAX_FILES = 200  # a folder artifact: how many files are looked at
_MAX_READ = 64 * 2**20  # how much of one file is read for its metadata
_PICKLE_EXT = (".pkl", ".pickle", ".joblib", ".sav")
_LIBRARIES = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "torch": "pytorch",
}


@dataclass(frozen=True)
class Flavor:
    """A model's flavour, the file it is in (relative to the artifact), what the format
    says about it (``details``) and its signature (``inputs``/``outputs``, as far as
    known)."""

    name: str
    file: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = None


def infer_flavor(path: str, metadata: dict[str, Any] | None = None) -> Flavor | None:
    """The flavour of the model at ``path`` (a file or a folder), or None when nothing
    tells. ``metadata``: the artifact's, whose ``flavor``/``signature`` win."""
    metadata = metadata or {}
    declared = metadata.get("flavor")
    signature = metadata.get("signature")
    found = _look(path)
    if isinstance(declared, str) and declared:
        base = found if found is not None and found.name == declared else Flavor(declared)
        found = Flavor(base.name, base.file, base.details, base.signature)
    if found is not None and isinstance(signature, dict):
        found = Flavor(found.name, found.file, found.details, signature)
    return found


def _look(path: str) -> Flavor | None:
    if os.path.isfile(path):
        return _file(path, os.path.basename(path))
    if not os.path.isdir(path):
        return None
    files: list[str] = []
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        files.extend(os.path.join(folder, n) for n in sorted(names))
        if len(files) >= _MAX_FILES:
            break
    # Model formats before the Python files that might wrap them.
    for full in files[:_MAX_FILES]:
        if not full.endswith(".py") and not os.path.islink(full):
            found = _file(full, os.path.relpath(full, path))
            if found is not None:
                return found
    for full in files[:_MAX_FILES]:
        if full.endswith(".py") and not os.path.islink(full):
            found = _predictor(full, os.path.relpath(full, path))
            if found is not None:
                return found
    return None


def _file(full: str, rel: str) -> Flavor | None:
    lower = rel.lower()
    try:
        with open(full, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if lower.endswith(".onnx"):
        return Flavor("onnx", rel, *_onnx(full))
    if lower.endswith(".ubj"):
        return Flavor("xgboost", rel, {"format": "ubjson"})
    if lower.endswith(".json") and head.lstrip().startswith(b"{"):
        return _xgboost_json(full, rel)
    if head.startswith(b"tree\n") or (lower.endswith(".txt") and head.startswith(b"tree")):
        return _lightgbm(full, rel)
    if head.startswith(b"PK") and zipfile.is_zipfile(full):
        return _torch_zip(full, rel)
    if lower.endswith((*_PICKLE_EXT, ".pt", ".pth", ".bin")) or head[:1] == b"\x80":
        return _pickle(full, rel)
    if lower.endswith(".py"):
        return _predictor(full, rel)
    return None


# ---------------------------------------------------------------------- pickles


def _open_pickle(full: str) -> bytes:
    """The pickle's bytes, decompressed the way joblib compresses (zlib, gzip, bz2, xz)."""
    with open(full, "rb") as f:
        data = f.read(_MAX_READ)
    try:
        if data[:2] == b"\x1f\x8b":
            return gzip.decompress(data)
        if data[:3] == b"BZh":
            return bz2.decompress(data)
        if data[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(data)
        if data[:1] == b"\x78":
            return zlib.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        return data
    return data


def pickle_globals(data: bytes, limit: int = 50) -> tuple[list[str], dict[str, Any]]:
    """The ``module.Name`` of each class a pickle would import, in order (at most
    ``limit``), and a few plain attributes it sets (``n_features_in_``), from its
    opcodes alone: nothing is imported or called."""
    names: list[str] = []
    attrs: dict[str, Any] = {}
    strings: list[str] = []
    wanted: str | None = None
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            name = op.name
            if name == "GLOBAL" and isinstance(arg, str):
                names.append(arg.replace(" ", ".", 1))
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            if isinstance(arg, str) and name != "GLOBAL":
                strings.append(arg)
                wanted = arg if arg in ("n_features_in_", "n_outputs_") else None
                continue
            if (
                wanted is not None
                and isinstance(arg, int)
                and name.endswith(("INT", "INT1", "INT2"))
            ):
                attrs.setdefault(wanted, arg)
            if name not in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
                wanted = None
            if len(names) >= limit or name == "STOP":
                break
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, KeyError):
        pass  # joblib writes arrays' raw bytes into the stream: the opcodes end there
    return names, attrs


def _pickle(full: str, rel: str) -> Flavor | None:
    names, attrs = pickle_globals(_open_pickle(full))
    if not names:
        return None
    for name in names:
        library = _LIBRARIES.get(name.split(".", 1)[0])
        if library is not None:
            details: dict[str, Any] = {"format": "pickle", "class": name}
            if library == "sklearn":
                details["class"] = _estimator(names)
            signature = None
            if "n_features_in_" in attrs:
                signature = {
                    "inputs": [
                        {"name": "X", "type": "tensor", "shape": [-1, attrs["n_features_in_"]]}
                    ]
                }
            return Flavor(library, rel, details, signature)
    first = names[0]
    if first.split(".", 1)[0] in ("numpy", "builtins", "collections", "copyreg", "_codecs"):
        return None
    return Flavor("python", rel, {"format": "pickle", "class": first})


def _estimator(names: list[str]) -> str:
    """The outermost scikit-learn class of a pickle (the first one it names)."""
    return next(n for n in names if n.startswith("sklearn."))


def _torch_zip(full: str, rel: str) -> Flavor | None:
    """``torch.save``'s zip layout: ``ARCHIVE/data.pkl`` with ``ARCHIVE/data/N`` storages."""
    try:
        with zipfile.ZipFile(full) as z:
            entries = z.namelist()
            pickles = [e for e in entries if e.endswith("/data.pkl")]
            if not pickles:
                return None
            prefix = pickles[0][: -len("data.pkl")]
            storages = [e for e in entries if e.startswith(prefix + "data/")]
            info = z.getinfo(pickles[0])
            data = z.read(pickles[0]) if info.file_size <= _MAX_READ else b""
    except (OSError, zipfile.BadZipFile):
        return None
    names, _ = pickle_globals(data, limit=200)
    details: dict[str, Any] = {"format": "torch.save", "storages": len(storages)}
    if any(n.startswith("collections.OrderedDict") for n in names[:1]):
        details["state_dict"] = True
    return Flavor("pytorch", rel, details)


# ---------------------------------------------------------------------- formats


def _xgboost_json(full: str, rel: str) -> Flavor | None:
    if os.path.getsize(full) > _MAX_READ:
        return None
    try:
        with open(full, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("learner"), dict):
        return None
    learner = doc["learner"]
    params = learner.get("learner_model_param") or {}
    details: dict[str, Any] = {"format": "json"}
    if isinstance(doc.get("version"), list):
        details["version"] = ".".join(str(v) for v in doc["version"])
    objective = (learner.get("objective") or {}).get("name")
    if objective:
        details["objective"] = objective
    features = learner.get("feature_names") or []
    count = params.get("num_feature")
    inputs: list[dict[str, Any]]
    if features:
        inputs = [{"name": str(n), "type": "double"} for n in features]
    elif count is not None and str(count).isdigit():
        inputs = [{"name": "X", "type": "tensor", "shape": [-1, int(count)]}]
    else:
        inputs = []
    return Flavor("xgboost", rel, details, {"inputs": inputs} if inputs else None)


def _lightgbm(full: str, rel: str) -> Flavor | None:
    header: dict[str, str] = {}
    with open(full, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            line = line.strip()
            if line.startswith("Tree=") or i > 200:
                break
            key, sep, value = line.partition("=")
            if sep:
                header[key] = value
    if "version" not in header and "max_feature_idx" not in header:
        return None
    details: dict[str, Any] = {"format": "text"}
    for key in ("version", "objective", "num_class"):
        if key in header:
            details[key] = header[key]
    names = header.get("feature_names", "").split()
    signature = {"inputs": [{"name": n, "type": "double"} for n in names]} if names else None
    return Flavor("lightgbm", rel, details, signature)


def _predictor(full: str, rel: str) -> Flavor | None:
    """A Python file defining a class with a ``predict`` method (parsed, never run)."""
    try:
        with open(full, encoding="utf-8") as f:
            tree = ast.parse(f.read(_MAX_READ))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            methods = {
                n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            if "predict" in methods:
                return Flavor("python", rel, {"format": "source", "class": node.name})
    return None


# ---------------------------------------------------------------------- ONNX


_ELEM_TYPES = {
    1: "float",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "double",
    12: "uint32",
    13: "uint64",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def protobuf_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message: varints as ints,
    length-delimited fields as bytes (fixed-width fields are skipped)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _value_info(data: bytes) -> dict[str, Any]:
    """An ONNX ValueInfoProto: name, element type and shape (None: a named dimension)."""
    info: dict[str, Any] = {"name": "", "type": "tensor"}
    for number, value in protobuf_fields(data):
        if number == 1 and isinstance(value, bytes):
            info["name"] = value.decode("utf-8", "replace")
        elif number == 2 and isinstance(value, bytes):
            for tn, tensor in protobuf_fields(value):
                if tn != 1 or not isinstance(tensor, bytes):
                    continue
                for fn, fv in protobuf_fields(tensor):
                    if fn == 1 and isinstance(fv, int):
                        info["type"] = _ELEM_TYPES.get(fv, str(fv))
                    elif fn == 2 and isinstance(fv, bytes):
                        info["shape"] = [_dim(d) for n, d in protobuf_fields(fv) if n == 1]
    return info


def _dim(data: int | bytes) -> int | str | None:
    if not isinstance(data, bytes):
        return None
    for number, value in protobuf_fields(data):
        if number == 1 and isinstance(value, int):
            return value
        if number == 2 and isinstance(value, bytes):
            return value.decode("utf-8", "replace")
    return None


def _onnx(full: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if os.path.getsize(full) > _MAX_READ:
        return {"format": "onnx"}, None
    with open(full, "rb") as f:
        data = f.read()
    details: dict[str, Any] = {"format": "onnx"}
    try:
        fields = protobuf_fields(data)
        inputs: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] = []
        for number, value in fields:
            if number == 1 and isinstance(value, int):
                details["ir_version"] = value
            elif number == 2 and isinstance(value, bytes):
                details["producer"] = value.decode("utf-8", "replace")
            elif number == 7 and isinstance(value, bytes):
                initialized: set[str] = set()
                graph = protobuf_fields(value)
                for gn, gv in graph:
                    if gn == 5 and isinstance(gv, bytes):  # initializers are not inputs
                        for tn, tv in protobuf_fields(gv):
                            if tn == 8 and isinstance(tv, bytes):
                                initialized.add(tv.decode("utf-8", "replace"))
                for gn, gv in graph:
                    if gn == 11 and isinstance(gv, bytes):
                        inputs.append(_value_info(gv))
                    elif gn == 12 and isinstance(gv, bytes):
                        outputs.append(_value_info(gv))
                inputs = [i for i in inputs if i["name"] not in initialized]
    except ValueError:
        return details, None
    if not inputs and not outputs:
        return details, None
    return details, {"inputs": inputs, "outputs": outputs}
