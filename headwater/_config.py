"""Where Headwater keeps its state, from the environment.

``HEADWATER_HOME`` (default ``~/.headwater``) holds ``headwater.db`` (SQLite),
``artifacts/`` and ``logs/``. ``HEADWATER_DATABASE_URL`` points the metadata
store elsewhere (``postgresql+psycopg://...``) and ``HEADWATER_ARTIFACT_ROOT``
the artifact store (any fsspec URL).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifact_root: str
    log_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("HEADWATER_HOME") or Path.home() / ".headwater").expanduser()
        database_url = env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{home / 'headwater.db'}"
        artifact_root = env.get("HEADWATER_ARTIFACT_ROOT") or str(home / "artifacts")
        return cls(home, database_url, artifact_root, home / "logs")
