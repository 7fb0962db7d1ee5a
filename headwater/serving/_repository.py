"""The models a server serves, loaded from the model registry.

``NAME``, ``NAME@ALIAS``, ``NAME:VERSION`` (or the registry's ``NAME/VERSION``) is
resolved through :func:`headwater.registry.resolve` when it is loaded; the version's
artifact is read where it lies when it is on this machine, or copied once into
``HEADWATER_HOME/serving-cache/ARTIFACT_ID`` from a remote artifact store. An alias is
resolved when the model is loaded, not per request: a later slice moves served models
when an alias moves.

Several versions of one model may be served at once; requests that name no version go
to the model's default version, the one loaded last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, InvalidValue, NotFound, ServingError
from headwater.registry import download, parse_ref, resolve
from headwater.runtime import local_path_of
from headwater.serving._batching import Batching
from headwater.serving._launch import Launchers
from headwater.serving._limits import Limits
from headwater.serving._metrics import Metrics
from headwater.serving._served import ServedVersion
from headwater.serving._types import LoadSpec, ModelState

if TYPE_CHECKING:
    from headwater.engine import Workspace


def parse_model_ref(text: str) -> str:
    """``NAME[@ALIAS|:VERSION|/VERSION]`` in the registry's own form (``NAME/VERSION``),
    or a clear :class:`InvalidValue`."""
    name, colon, version = text.strip().partition(":")
    canonical = f"{name}/{version}" if colon else name
    try:
        return str(parse_ref(canonical, what="model to serve"))
    except InvalidValue as e:
        raise InvalidValue(
            e.message.replace(repr(canonical), repr(text)),
            hint="write NAME (its newest version), NAME@ALIAS or NAME:VERSION, e.g. "
            "churn@champion or iris:3",
        ) from None


class Registry:
    """The registry as a server reads it: a reference in, what a worker loads out."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def resolve(self, text: str) -> tuple[LoadSpec, str]:
        """The version ``text`` names, as a :class:`LoadSpec`, and the reference in the
        registry's form. 404 for an unknown model, version or alias; 400 for a bad
        reference or a version that cannot be served."""
        try:
            ref = parse_model_ref(text)
            version = resolve(self.workspace.store, ref)
        except InvalidValue as e:
            raise ServingError(400, e.message) from e
        except NotFound as e:
            raise ServingError(404, e.message) from e
        label = f"model '{version.model}' version {version.version}"
        if not version.flavor:
            raise ServingError(
                400,
                f"{label} has no flavour: the registry could not tell what kind of model its "
                "files hold",
                hint="register it again from an artifact whose metadata says "
                '{"flavor": "sklearn"} (or xgboost, lightgbm, onnx, python)',
            )
        signature = dict(version.signature or {})
        details = dict(signature.pop("flavor_details", None) or {})
        path = self._files(version.artifact_id, f"{version.model}/{version.version}", label)
        spec = LoadSpec(
            name=version.model,
            version=version.version,
            flavor=version.flavor,
            path=path,
            file=str(details.pop("file", "") or ""),
            details=details,
            signature=signature or None,
        )
        return spec, ref

    def _files(self, artifact_id: str, ref: str, label: str) -> str:
        store = self.workspace.store
        artifact = store.lineage.artifacts_by_id([artifact_id]).get(artifact_id)
        if artifact is None:
            raise ServingError(404, f"the artifact of {label} is gone")
        local = local_path_of(artifact.uri)
        if local is not None:
            if not os.path.exists(local):
                raise ServingError(404, f"the files of {label} are gone from {artifact.uri}")
            return local
        cache = self.workspace.settings.home / "serving-cache" / artifact.id
        if not cache.exists():
            partial = cache.with_name(f"{artifact.id}.part-{os.getpid()}")
            shutil.rmtree(partial, ignore_errors=True)
            try:
                download(store, ref, str(partial))
                os.replace(partial, cache)
            except (OSError, HeadwaterError) as e:
                shutil.rmtree(partial, ignore_errors=True)
                raise ServingError(
                    404, f"the files of {label} cannot be read from {artifact.uri}: {e}"
                ) from e
        [entry] = list(cache.iterdir())
        return str(entry)

    def model_names(self) -> list[str]:
        return [m.name for m in self.workspace.store.models.list_models()]


class Repository:
    """The served model versions by name and number, loaded and unloaded over time."""

    def __init__(
        self,
        registry: Registry,
        workers: int = 1,
        batching: Batching | None = None,
        metrics: Metrics | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.registry = registry
        self.workers = workers
        #: The request timeout and worker memory limit of the models loaded (the load
        #: API can say otherwise for its model).
        self.limits = limits or Limits()
        #: How the models named at start-up batch (the load API can say otherwise).
        self.batching = batching or Batching()
        self.metrics = metrics or Metrics()
        self.launchers = Launchers()
        self._versions: dict[str, dict[int, ServedVersion]] = {}
        self._default: dict[str, int] = {}
        self._refs: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ finding

    def get(self, name: str, version: str | None = None) -> ServedVersion:
        """The served version a request names; 404 when it is not served here."""
        versions = self._versions.get(name)
        if not versions:
            served = ", ".join(sorted(self._versions)) or "none"
            raise ServingError(
                404,
                f"model '{name}' is not served here (served: {served}); load it with "
                f"POST /v2/repository/models/{name}/load",
            )
        if not version:
            return versions[self._default[name]]
        found = versions.get(int(version)) if version.isdigit() else None
        if found is None:
            numbers = ", ".join(str(v) for v in sorted(versions))
            raise ServingError(
                404,
                f"model '{name}' has no version {version!r} served here (served versions: "
                f"{numbers})",
            )
        return found

    def served(self) -> list[ServedVersion]:
        return [v for versions in self._versions.values() for v in versions.values()]

    def versions_of(self, name: str) -> list[str]:
        return [str(v) for v in sorted(self._versions.get(name, {}))]

    def ready(self) -> bool:
        """Every served version answers (true with none)."""
        return all(v.state is ModelState.READY for v in self.served())

    # ------------------------------------------------------------------ loading

    async def load_many(self, refs: Iterable[str], warm: Iterable[str] = ()) -> list[ServedVersion]:
        """Load ``refs`` side by side; each name's default is the version named last.
        On any failure nothing stays loaded and the first error is raised. ``warm``:
        more flavours to import in the zygote (those of the deployments served)."""
        refs = list(refs)
        resolved = [await asyncio.to_thread(self.registry.resolve, r) for r in refs]
        if self.launchers.zygote is None:  # warmed for the flavours served from the start
            await self.launchers.open([*warm, *(spec.flavor for spec, _ in resolved)])
        unique: dict[tuple[str, int], tuple[LoadSpec, str]] = {}
        for spec, ref in resolved:
            unique[(spec.name, spec.version)] = (spec, ref)
        results = await asyncio.gather(
            *(
                self._load(spec, ref, self.batching, self.limits, None)
                for spec, ref in unique.values()
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            for spec, _ in unique.values():
                with contextlib.suppress(ServingError):
                    await self.unload(spec.name, str(spec.version))
            raise failures[0]
        for spec, ref in resolved:
            self._default[spec.name] = spec.version
            self._refs[spec.name] = ref
        return [r for r in results if isinstance(r, ServedVersion)]

    async def load(self, name: str, parameters: dict[str, Any] | None = None) -> ServedVersion:
        """Load model ``name`` (the repository extension's load): ``parameters`` may name
        a ``version`` or an ``alias``; else the reference it was served by (its alias
        resolved again), else its newest version. It becomes the default version.
        ``max_batch_size`` and ``max_batch_wait_ms`` turn adaptive batching on (or, with
        a size of 1, off) for it, also when it is already loaded. ``request_timeout``
        (seconds) and ``worker_memory_mb`` set its limits (``_limits``; the server's
        otherwise); a loaded version takes a new timeout in place, and refuses a new
        memory limit (its workers would have to start again: unload it first)."""
        parameters = parameters or {}
        batching = Batching.from_parameters(parameters)
        limits = self.limits.with_parameters(parameters)
        asked = {k: parameters.get(k) for k in ("request_timeout", "worker_memory_mb")}
        version, alias = parameters.get("version"), parameters.get("alias")
        if version is not None and alias is not None:
            raise ServingError(400, "name a version or an alias to load, not both")
        if version is not None:
            ref = f"{name}:{version}"
        elif alias is not None:
            ref = f"{name}@{alias}"
        else:
            ref = self._refs.get(name, name)
        spec, canonical = await asyncio.to_thread(self.registry.resolve, ref)
        if spec.name != name:
            raise ServingError(400, f"{ref!r} names model '{spec.name}', not '{name}'")
        served = await self._load(spec, canonical, batching, limits, asked)
        self._default[name] = spec.version
        self._refs.setdefault(name, canonical)
        return served

    async def _load(
        self,
        spec: LoadSpec,
        ref: str,
        batching: Batching | None,
        limits: Limits,
        asked: dict[str, Any] | None,
    ) -> ServedVersion:
        """Load ``spec`` (or change a loaded version's batching, and its limits where
        ``asked`` names them)."""
        lock = self._locks.setdefault(spec.name, asyncio.Lock())
        async with lock:
            versions = self._versions.setdefault(spec.name, {})
            existing = versions.get(spec.version)
            if existing is not None and existing.state is ModelState.READY:
                asked = asked or {}
                memory = asked.get("worker_memory_mb")
                if memory is not None and limits.memory_mb != existing.limits.memory_mb:
                    raise ServingError(
                        409,
                        f"{existing.label} is loaded with a worker memory limit of "
                        f"{existing.limits.memory_mb or 'no'} MiB; its workers would have "
                        f"to start again for worker_memory_mb {limits.memory_mb}",
                        hint="unload it first (POST /v2/repository/models/"
                        f"{spec.name}/unload), then load it with the new limit",
                    )
                if batching is not None:
                    existing.set_batching(batching)
                if asked.get("request_timeout") is not None:
                    existing.limits = Limits(limits.request_timeout, existing.limits.memory_mb)
                return existing
            if existing is not None:  # failed or unavailable: start it afresh
                del versions[spec.version]
                await existing.close()
            served = ServedVersion(
                spec, self.workers, ref, self.launchers, batching, self._on_batch, limits
            )
            versions[spec.version] = served
            try:
                await served.load()
            except BaseException:
                versions.pop(spec.version, None)
                if not versions:
                    self._drop(spec.name)
                raise
            return served

    def _on_batch(self, served: ServedVersion, size: int) -> None:
        self.metrics.batch(served.name, served.version, size)

    def _drop(self, name: str) -> None:
        self._versions.pop(name, None)
        self._default.pop(name, None)

    async def unload(self, name: str, version: str | None = None) -> list[ServedVersion]:
        """Stop serving model ``name`` (every version, or only ``version``): new requests
        get a 404 at once; the requests its workers hold are answered first."""
        versions = self._versions.get(name)
        if not versions:
            raise ServingError(404, f"model '{name}' is not loaded")
        if version is None:
            gone = list(versions.values())
            self._drop(name)
        else:
            found = self.get(name, version)
            gone = [found]
            del versions[found.spec.version]
            if not versions:
                self._drop(name)
            elif self._default.get(name) == found.spec.version:
                self._default[name] = max(versions)
        await asyncio.gather(*(v.close() for v in gone))
        return gone

    async def close(self) -> None:
        gone = self.served()
        self._versions.clear()
        self._default.clear()
        await asyncio.gather(*(v.close() for v in gone))
        await self.launchers.close()

    # ------------------------------------------------------------------ the index

    async def index(self, ready_only: bool = False) -> list[dict[str, str]]:
        """Every served version with its state, and every registered model not served
        (state UNAVAILABLE, reason "not loaded")."""
        rows = [
            {"name": v.name, "version": v.version, "state": v.state.value, "reason": v.reason}
            for v in sorted(self.served(), key=lambda v: (v.name, v.spec.version))
        ]
        if ready_only:
            return [r for r in rows if r["state"] == ModelState.READY.value]
        registered = await asyncio.to_thread(self.registry.model_names)
        rows += [
            {"name": n, "version": "", "state": "UNAVAILABLE", "reason": "not loaded"}
            for n in registered
            if n not in self._versions
        ]
        return sorted(rows, key=lambda r: (r["name"], r["version"]))
