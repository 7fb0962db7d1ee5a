"""Reading a pipeline document's text, within bounds."""

from __future__ import annotations

from pathlib import Path

from headwater.errors import LoadError

# The largest pipeline document read: a compiled pipeline is kilobytes, a large one a few
# megabytes; anything bigger is not a pipeline, and parsing it would hold the process.
MAX_DOCUMENT_BYTES = 32 * 2**20


def read_document(path: Path, hint: str) -> str:
    """The text of the pipeline document ``path``, refused if it is not a regular file
    of at most :data:`MAX_DOCUMENT_BYTES` of UTF-8."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise LoadError(f"{path} is not a regular file", hint=hint)
        if size > MAX_DOCUMENT_BYTES:
            raise LoadError(
                f"{path} is {size / 2**20:.1f} MiB: a pipeline document may be at most "
                f"{MAX_DOCUMENT_BYTES // 2**20} MiB",
                hint=hint,
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read {path}: {exc}", hint=hint) from None
