"""The stores and folders of one Headwater home."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # This workspace scoped to other namespaces, made once each (a server scopes every
    # request; a scheduler every pass).
    _scopes: dict[str, Workspace] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        s = settings or Settings.from_env()
        allowed_patterns()  # a bad task environment allow-list is refused before any run
        _make_folder("HEADWATER_HOME", s.home)
        try:
            artifacts = ArtifactStore(s.artifact_root)
        except OSError as exc:
            raise _folder_error("HEADWATER_ARTIFACT_ROOT", Path(s.artifact_root), exc) from None
        store = MetadataStore.open(s.database_url, s.namespace)
        if s.namespace != "default" and not store.namespaces.exists(s.namespace):
            store.close()
            raise ConfigurationError(
                f"HEADWATER_NAMESPACE={s.namespace}: there is no namespace '{s.namespace}'",
                hint=f"create it with 'headwater namespaces create {s.namespace}', "
                "or unset HEADWATER_NAMESPACE for 'default'",
            )
        return cls(s, store, artifacts)

    def scoped(self, namespace: str) -> Workspace:
        """This workspace for work in ``namespace``: the same database and folders, its
        store scoped to that namespace and its artifacts under that namespace's root.
        Closing it closes nothing (the database handle stays this workspace's)."""
        if namespace == self.store.namespace:
            return self
        found = self._scopes.get(namespace)
        if found is not None:
            return found
        settings = self.settings.for_namespace(namespace)
        try:
            artifacts = ArtifactStore(settings.artifact_root)
        except OSError as exc:
            raise _folder_error(
                "HEADWATER_ARTIFACT_ROOT", Path(settings.artifact_root), exc
            ) from None
        made = self._scopes[namespace] = _Scoped(settings, self.store.scoped(namespace), artifacts)
        return made

    @property
    def work_dir(self) -> Path:
        return self.settings.home / "work"

    def close(self) -> None:
        self.store.close()


class _Scoped(Workspace):
    """A workspace borrowed for one namespace: its database handle is its parent's."""

    def close(self) -> None:
        pass


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
