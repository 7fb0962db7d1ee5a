"""Content digests of artifacts: files, and folders as a whole."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    digest: str
    size: int


def digest_path(path: str) -> Digest:
    """sha256 of a file, or of a folder (over sorted relative paths and file digests)."""
    p = Path(path)
    if p.is_file():
        h = hashlib.sha256()
        size = 0
        with p.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
        return Digest("sha256:" + h.hexdigest(), size)
    h = hashlib.sha256()
    total = 0
    for file in sorted(x for x in p.rglob("*") if x.is_file()):
        inner = digest_path(str(file))
        h.update(file.relative_to(p).as_posix().encode())
        h.update(b"\0")
        h.update(inner.digest.encode())
        total += inner.size
    return Digest("sha256:" + h.hexdigest(), total)
