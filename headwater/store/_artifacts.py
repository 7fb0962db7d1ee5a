"""The artifact store: files under a root that is a local folder or any fsspec URL.

A task writes each output under a staging name; only when the task succeeds is
it moved to its final place, so a half-written artifact is never visible.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def _is_local(root: str) -> bool:
    return "://" not in root or root.startswith("file://")


def _local(root: str) -> str:
    return root[len("file://") :] if root.startswith("file://") else root


class ArtifactStore:
    """Where artifact bytes live. Local roots use renames; remote roots use fsspec."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.local = _is_local(root)
        self._fs: Any = None
        if self.local:
            Path(_local(self.root)).mkdir(parents=True, exist_ok=True)

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.root)
        return self._fs

    def staging_uri(self, attempt_id: str, name: str) -> str:
        return f"{self.root}/.staging/{attempt_id}/{name}"

    def final_uri(self, run_id: str, path: str, name: str) -> str:
        return f"{self.root}/{run_id}/{path}/{name}"

    def local_path(self, uri: str) -> str | None:
        """The path of ``uri`` on this machine, if the store is local."""
        if self.local or uri.startswith("file://") or "://" not in uri:
            return _local(uri)
        return None

    def commit(self, staging: str, final: str) -> None:
        """Move a finished artifact from its staging name into place.

        An output that is itself a symbolic link is refused: stored, it would make the
        artifact whatever the link names. Links inside a folder move as links (a rename
        follows none of them) and are never served."""
        if self.local:
            src, dst = _local(staging), _local(final)
            if os.path.islink(src):
                raise ValueError(
                    "the task left a symbolic link there instead of a file or folder; "
                    "write the data itself at the output's path"
                )
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.exists(dst):
                shutil.rmtree(dst) if os.path.isdir(dst) else os.remove(dst)
            os.replace(src, dst)
            return
        self.fs.makedirs(self.fs._parent(final), exist_ok=True)
        if self.fs.exists(final):
            self.fs.rm(final, recursive=True)
        self.fs.mv(staging, final, recursive=True)

    def discard(self, attempt_id: str) -> None:
        """Drop whatever a failed attempt left in staging."""
        target = f"{self.root}/.staging/{attempt_id}"
        if self.local:
            shutil.rmtree(_local(target), ignore_errors=True)
        elif self.fs.exists(target):
            self.fs.rm(target, recursive=True)

    def exists(self, uri: str) -> bool:
        path = self.local_path(uri)
        if path is not None:
            return os.path.exists(path)
        import fsspec

        fs, p = fsspec.core.url_to_fs(uri)
        return bool(fs.exists(p))
