"""The stores and folders of one Headwater home."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from headwater._config import Settings
from headwater.errors import ConfigurationError
from headwater.executors import allowed_patterns
from headwater.store import ArtifactStore, MetadataStore


@dataclass
class Workspace:
    """The stores and folders of one Headwater home."""

    settings: Settings
    store: MetadataStore
    artifacts: ArtifactStore

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        s = settings or Settings.from_env()
        allowed_patterns()  # a bad task environment allow-list is refused before any run
        _make_folder("HEADWATER_HOME", s.home)
        try:
            artifacts = ArtifactStore(s.artifact_root)
        except OSError as exc:
            raise _folder_error("HEADWATER_ARTIFACT_ROOT", Path(s.artifact_root), exc) from None
        return cls(s, MetadataStore.open(s.database_url), artifacts)

    @property
    def work_dir(self) -> Path:
        return self.settings.home / "work"

    def close(self) -> None:
        self.store.close()


def _make_folder(setting: str, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _folder_error(setting, folder, exc) from None


def _folder_error(setting: str, folder: Path, exc: OSError) -> ConfigurationError:
    """A clear error for a folder setting whose folder cannot be made."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker == folder:
        what = "is a file, not a folder"
    elif blocker is not None:
        what = f"cannot be made: {blocker} is a file, not a folder"
    else:
        what = f"cannot be made: {exc.strerror or exc}"
    return ConfigurationError(
        f"{setting}={folder} {what}",
        hint=f"point {setting} at a folder (it is made if missing)"
        + (" or at an fsspec URL such as s3://bucket/prefix" if "ARTIFACT" in setting else ""),
    )
