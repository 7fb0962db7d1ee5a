"""Where Headwater keeps its state, from the environment.

``HEADWATER_HOME`` (default ``~/.headwater``) holds ``headwater.db`` (SQLite),
``artifacts/`` and ``logs/``. ``HEADWATER_DATABASE_URL`` points the metadata
store elsewhere (``postgresql+psycopg://...``) and ``HEADWATER_ARTIFACT_ROOT``
the artifact store (any fsspec URL). ``HEADWATER_IMPORT_MAX_BYTES`` and
``HEADWATER_IMPORT_MAX_FILES`` bound what one importer task hashes.
``HEADWATER_IGNORE_IMAGE=1`` runs tasks that set ``image=`` on an executor that has no
images anyway (with a warning), as ``headwater run --ignore-image`` does.
``HEADWATER_AUDIT_RETENTION_DAYS`` (default 90) is how long the server keeps its audit log.
``HEADWATER_MAX_MAP_LENGTH`` (default 1024, Airflow's ``max_map_length``) caps the items of
a ``ParallelFor`` or mapped task that sets no ``max_items`` of its own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import HeadwaterError

IMPORT_MAX_BYTES = 16 << 30
IMPORT_MAX_FILES = 100_000
AUDIT_RETENTION_DAYS = 90
MAX_MAP_LENGTH = 1024


def _positive(env: os._Environ[str] | dict[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise HeadwaterError(
            f"{name}={text!r} is not a positive whole number",
            hint=f"set it to a count such as {default}, or unset it for that default",
        )
    return value


def _flag(env: os._Environ[str] | dict[str, str], name: str) -> bool:
    text = (env.get(name) or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise HeadwaterError(
        f"{name}={env.get(name)!r} is neither on nor off",
        hint=f"set {name}=1 to turn it on, or unset it",
    )


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifact_root: str
    log_dir: Path
    import_max_bytes: int = IMPORT_MAX_BYTES
    import_max_files: int = IMPORT_MAX_FILES
    # Run tasks that set image= on an executor that has no images, with a warning.
    ignore_image: bool = False
    # How long the audit log keeps what was done through the API.
    audit_retention_days: int = AUDIT_RETENTION_DAYS
    # The namespace this process works in (HEADWATER_NAMESPACE); the server picks one
    # per request instead.
    namespace: str = "default"
    # The artifact root every namespace's folder is made under (artifact_root is this
    # namespace's own).
    shared_artifact_root: str = ""
    # The most items a loop or mapped task may have when it sets no max_items.
    max_map_length: int = MAX_MAP_LENGTH

    def for_namespace(self, namespace: str) -> Settings:
        """These settings for work in ``namespace``: the default namespace keeps the
        artifact root; another gets its own folder under it, ``namespaces/NAME``."""
        import dataclasses

        base = self.shared_artifact_root or self.artifact_root
        root = base if namespace == "default" else namespace_artifact_root(base, namespace)
        return dataclasses.replace(
            self, namespace=namespace, artifact_root=root, shared_artifact_root=base
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("HEADWATER_HOME") or Path.home() / ".headwater").expanduser()
        database_url = env.get("HEADWATER_DATABASE_URL") or f"sqlite:///{home / 'headwater.db'}"
        artifact_root = env.get("HEADWATER_ARTIFACT_ROOT") or str(home / "artifacts")
        made = cls(
            home,
            database_url,
            artifact_root,
            home / "logs",
            _positive(env, "HEADWATER_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES),
            _positive(env, "HEADWATER_IMPORT_MAX_FILES", IMPORT_MAX_FILES),
            _flag(env, "HEADWATER_IGNORE_IMAGE"),
            _positive(env, "HEADWATER_AUDIT_RETENTION_DAYS", AUDIT_RETENTION_DAYS),
            max_map_length=max_map_length(env),
        )
        return made.for_namespace(_namespace(env))


def max_map_length(environ: os._Environ[str] | dict[str, str] | None = None) -> int:
    """The cap on a loop's items where it sets none (``HEADWATER_MAX_MAP_LENGTH``)."""
    env = os.environ if environ is None else environ
    return _positive(env, "HEADWATER_MAX_MAP_LENGTH", MAX_MAP_LENGTH)


# A namespace's name: it becomes a folder name, a URL path part and a header value.
NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

# Where the other namespaces' artifacts live under the artifact root: the default
# namespace's runs may not read there.
NAMESPACES_FOLDER = "namespaces"


def namespace_artifact_root(root: str, namespace: str) -> str:
    return f"{root.rstrip('/')}/{NAMESPACES_FOLDER}/{namespace}"


def _namespace(env: os._Environ[str] | dict[str, str]) -> str:
    text = (env.get("HEADWATER_NAMESPACE") or "").strip()
    if not text:
        return "default"
    if not NAMESPACE_RE.match(text):
        raise HeadwaterError(
            f"HEADWATER_NAMESPACE={text[:80]!r} is not a namespace name",
            hint="use lower-case letters, digits and dashes, starting with a letter, "
            "or unset it for 'default'",
        )
    return text
