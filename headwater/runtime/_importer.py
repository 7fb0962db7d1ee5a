"""The importer task: check a URI, hash what it names within a bound, and report it.

An importer is a task attempt like any other: the engine writes a task input whose
``headwater.importer`` block holds the artifact type and metadata, the hashing bounds
and, for a confined run, the :class:`~headwater.runtime._uris.UriPolicy`; this module
runs in the task process and writes the usual task output, whose one artifact
``artifact`` carries the URI, its content digest and size. So no Headwater server,
scheduler or engine process ever opens a file a user named (DESIGN.md, contract 8).

The digest is the one :func:`~headwater.runtime._digest.digest_path` gives (a file's
sha256; a folder's over its sorted relative paths and file digests), so caching
downstream does not change. Above the bounds the task fails, saying which bound and how
to raise it: an artifact recorded without its digest would make downstream tasks cache on
the URI alone and serve stale results when the files change.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

from headwater.errors import UriNotAllowed
from headwater.runtime._digest import Digest
from headwater.runtime._protocol import TaskError, write_json
from headwater.runtime._uris import UriPolicy, local_path_of

_CHUNK = 1 << 20


class _Budget:
    """What is left of the bounds while a folder is walked and hashed."""

    def __init__(self, uri: str, max_bytes: int, max_files: int) -> None:
        self.uri = uri
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.bytes = 0
        self.entries = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_files:
            raise TaskError(
                f"importer URI {self.uri!r} holds more than {self.max_files:,} files and "
                "folders, the most an importer hashes; import a smaller folder, or raise "
                "HEADWATER_IMPORT_MAX_FILES in the environment of the process that drives "
                "the run (headwater standalone or scheduler; your shell for headwater run)"
            )

    def take(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise TaskError(
                f"importer URI {self.uri!r} holds more than {self.max_bytes:,} bytes, the "
                "most an importer hashes; import less, or raise HEADWATER_IMPORT_MAX_BYTES "
                "in the environment of the process that drives the run (headwater "
                "standalone or scheduler; your shell for headwater run)"
            )


def _hash_file(path: str, budget: _Budget) -> Digest:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            budget.take(len(chunk))  # a file may grow while it is read
            h.update(chunk)
            size += len(chunk)
    return Digest("sha256:" + h.hexdigest(), size)


def _files(
    root: str, budget: _Budget, policy: UriPolicy | None
) -> list[tuple[tuple[str, ...], str]]:
    """The regular files under ``root`` (through links to files, not into linked folders,
    as :func:`digest_path` sees them), by relative path parts; sizes counted first, so a
    folder over the bound fails before a byte is hashed. In a confined run every link in
    the folder must lead where the run may read."""
    found: list[tuple[tuple[str, ...], str]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        base = () if rel == "." else tuple(rel.split(os.sep))
        for name in sorted(dirs + names):
            budget.entry()
            full = os.path.join(folder, name)
            if policy is not None and os.path.islink(full):
                try:
                    policy.check(full)
                except UriNotAllowed as exc:
                    raise UriNotAllowed(
                        f"importer URI {budget.uri!r} holds a link "
                        f"'{'/'.join((*base, name))}' to {os.path.realpath(full)!r}, which "
                        f"this run may not read: {exc.message}",
                        hint="remove the link, or import a folder without it",
                    ) from None
            if name in dirs:
                continue
            try:
                info = os.stat(full)
            except OSError:  # a dangling link holds nothing
                continue
            if stat.S_ISREG(info.st_mode):
                found.append(((*base, name), full))
                budget.take(info.st_size)
    budget.bytes = 0  # counted; now hashed for real
    found.sort()
    return found


def bounded_digest(
    path: str, uri: str, max_bytes: int, max_files: int, policy: UriPolicy | None = None
) -> Digest | None:
    """The digest of the file or folder at ``path`` (None for anything else: a device, a
    pipe), failing with :class:`TaskError` above ``max_bytes`` or ``max_files``."""
    budget = _Budget(uri, max_bytes, max_files)
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode):
        budget.take(info.st_size)
        budget.bytes = 0
        return _hash_file(path, budget)
    if not stat.S_ISDIR(info.st_mode):
        return None
    h = hashlib.sha256()
    total = 0
    for parts, full in _files(path, budget, policy):
        inner = _hash_file(full, budget)
        h.update("/".join(parts).encode())
        h.update(b"\0")
        h.update(inner.digest.encode())
        total += inner.size
    return Digest("sha256:" + h.hexdigest(), total)


def run_importer(task: dict[str, Any]) -> int:
    """Run the importer attempt described by ``task``; exit code 0 when its output is written."""
    block = task["headwater"]["importer"]
    out_file = task["outputs"]["outputFile"]
    uri = task["inputs"]["parameterValues"].get("uri")
    result: dict[str, Any] = {"parameterValues": {}, "artifacts": {}, "headwater": {}}
    code = 0
    try:
        if not isinstance(uri, str) or not uri:
            raise TaskError(f"the importer got no URI to import (uri={uri!r})")
        policy = UriPolicy.from_json(block["policy"]) if block.get("policy") else None
        if policy is not None:
            place = policy.check(uri)
            path = place.path if place.local else None  # remote: recorded without a digest
        else:
            path = local_path_of(uri)
        digest = None
        if path and os.path.exists(path):
            digest = bounded_digest(
                path, uri, int(block["maxBytes"]), int(block["maxFiles"]), policy
            )
        result["artifacts"]["artifact"] = {
            "artifacts": [
                {
                    "name": "artifact",
                    "uri": uri,
                    "metadata": block.get("metadata") or {},
                    "digest": digest.digest if digest else None,
                    "size": digest.size if digest else None,
                }
            ]
        }
    except (TaskError, UriNotAllowed) as exc:
        kind = "UriNotAllowed" if isinstance(exc, UriNotAllowed) else "TaskError"
        result["headwater"]["error"] = {"type": kind, "message": str(exc), "traceback": ""}
        code = 1
    except OSError as exc:  # unreadable: say which file and why, not a traceback
        result["headwater"]["error"] = {
            "type": type(exc).__name__,
            "message": f"cannot read importer URI {uri!r}: {exc}",
            "traceback": "",
        }
        code = 1
    write_json(out_file, result)
    return code
