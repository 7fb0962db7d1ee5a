"""Deployments served by name: the routing layer in front of the served versions
(docs/adr/0022).

A deployment (``store.deployments``) follows a main model version by reference
(``churn@champion``), with an optional canary taking a share of the requests and an
optional shadow that sees a copy of each. Here each served deployment is a
:class:`Route`, an immutable snapshot of the :class:`ServedVersion` s it sends to; the
repository answers ``/v2/models/NAME`` for it with a :class:`Target`, one per request.

- **Split.** A request with an ``id`` goes to the canary when a hash of the id falls
  under the canary's share, so the same id always lands on the same version; a request
  without one is split at random.
- **Shadow.** The shadow's copy is started as a task the answer never waits for; its
  errors are logged, never returned.
- **Swap without a failed request.** :meth:`Deployments.watch` reads every deployment
  each :data:`POLL` seconds and resolves its references again (an alias may have moved,
  the deployment may have been updated, promoted or rolled back). When what they name
  changed, the new versions are loaded and ready *before* the route is replaced; only
  then are the versions no route uses any more closed, and ``close()`` lets the requests
  they hold finish. A request takes its route once, and between taking it and writing to
  a worker it never yields to the event loop, so no request can reach a closed version.
  A version that fails to load leaves the old route serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater._process import pid_alive
from headwater.errors import NotFound, ServingError
from headwater.serving._repository import Registry, Repository
from headwater.serving._served import ServedVersion
from headwater.serving._types import InferRequest, ModelMetadata, ModelState, Output

if TYPE_CHECKING:
    from headwater.store import MetadataStore

log = logging.getLogger("headwater.serving")

#: How often a server reads the deployments it serves, in seconds.
POLL = 1.0
_ROLES = ("main", "canary", "shadow")
Key = tuple[str, int]


def canary_share(request_id: str) -> float:
    """Where request id ``request_id`` falls in [0, 100): under the canary's percentage,
    it goes to the canary. Stable across servers and restarts."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 / 100


@dataclass(frozen=True)
class Route:
    """What a deployment sends requests to, at one revision."""

    name: str
    main: ServedVersion
    canary: ServedVersion | None
    percent: float
    shadow: ServedVersion | None

    def pick(self, request_id: str) -> ServedVersion:
        if self.canary is None or self.percent <= 0:
            return self.main
        share = canary_share(request_id) if request_id else random.random() * 100
        return self.canary if share < self.percent else self.main

    def versions(self) -> list[ServedVersion]:
        return [v for v in (self.main, self.canary, self.shadow) if v is not None]

    def target(self, version: str | None, shadows: set[asyncio.Task[Any]]) -> Target:
        if not version:
            return Target(self, None, shadows)
        for served in (self.main, self.canary):
            if served is not None and served.version == version:
                return Target(self, served, shadows)
        answering = ", ".join(v.version for v in (self.main, self.canary) if v is not None)
        raise ServingError(
            404,
            f"deployment '{self.name}' does not serve version {version!r} (it serves {answering})",
        )


class Target:
    """A deployment as one request sees it: the protocol's model, named as the
    deployment, answered by the version the split picks (``version``: the one it picked,
    once it has)."""

    def __init__(
        self, route: Route, pinned: ServedVersion | None, shadows: set[asyncio.Task[Any]]
    ) -> None:
        self.route = route
        self.served = pinned or route.main
        self.pinned = pinned is not None
        self._shadows = shadows

    @property
    def name(self) -> str:
        return self.route.name

    @property
    def version(self) -> str:
        return self.served.version

    @property
    def label(self) -> str:
        return f"deployment '{self.route.name}' ({self.served.label})"

    @property
    def state(self) -> ModelState:
        return self.served.state

    @property
    def reason(self) -> str:
        return self.served.reason

    @property
    def metadata(self) -> ModelMetadata | None:
        return self.served.metadata

    async def infer(self, request: InferRequest) -> list[Output]:
        if not self.pinned:
            self.served = self.route.pick(request.id)
        shadow = self.route.shadow
        if shadow is not None:
            task = asyncio.get_running_loop().create_task(_shadow(self.route.name, shadow, request))
            self._shadows.add(task)
            task.add_done_callback(self._shadows.discard)
        return await self.served.infer(request)


async def _shadow(name: str, shadow: ServedVersion, request: InferRequest) -> None:
    try:
        await shadow.infer(request)
    except Exception as e:  # logged, never returned: the shadow must not change an answer
        log.warning("deployment '%s': shadow %s failed: %s", name, shadow.label, e)


@dataclass(frozen=True)
class _Wanted:
    """What a deployment's references name now."""

    revision: int
    main: Key
    canary: Key | None
    percent: float
    shadow: Key | None

    def keys(self) -> dict[str, Key | None]:
        return {"main": self.main, "canary": self.canary, "shadow": self.shadow}


class RoutedRepository(Repository):
    """The repository with deployments in front: a request for a deployment's name gets
    the deployment's :class:`Target`; any other name, the served model as before."""

    def __init__(self, registry: Registry, workers: int = 1, **options: Any) -> None:
        super().__init__(registry, workers, **options)
        self.routes: dict[str, Route] = {}
        self.deployments: Deployments | None = None

    # A Target answers every call the transports make of a ServedVersion (name,
    # version, label, state, metadata, infer) without being one.
    def get(self, name: str, version: str | None = None) -> ServedVersion:
        if self.deployments is not None and name in self.routes:
            target = self.deployments.target(name, version)
            if target is not None:
                return target  # type: ignore[return-value]
        try:
            return super().get(name, version)
        except ServingError as e:
            if e.status == 404 and not self._versions.get(name) and self.routes:
                deployments = ", ".join(sorted(self.routes))
                raise ServingError(
                    404, f"{e.message.rstrip('.')} (deployments served: {deployments})"
                ) from None
            raise

    def versions_of(self, name: str) -> list[str]:
        route = self.routes.get(name)
        if route is None:
            return super().versions_of(name)
        return sorted({v.version for v in (route.main, route.canary) if v is not None})

    def ready(self) -> bool:
        routed = [v for r in self.routes.values() for v in r.versions()]
        return super().ready() and all(v.state is ModelState.READY for v in routed)

    async def index(self, ready_only: bool = False) -> list[dict[str, str]]:
        """The served models, then each deployment with its main version."""
        rows = [
            r
            for r in await super().index(ready_only)
            if not (r["name"] in self.routes and not r["version"])
        ]
        for name, route in sorted(self.routes.items()):
            state = route.main.state.value
            if not ready_only or state == ModelState.READY.value:
                rows.append(
                    {"name": name, "version": route.main.version, "state": state, "reason": ""}
                )
        return rows


class Deployments:
    """The deployments one server answers, kept in step with the store."""

    def __init__(self, repository: RoutedRepository, store: MetadataStore) -> None:
        self.repository = repository
        self.store = store
        self.server = f"{socket.gethostname()}:{os.getpid()}"
        self._wanted: dict[str, _Wanted] = {}
        self._failed: dict[str, _Wanted] = {}
        self._loaded: dict[Key, ServedVersion] = {}
        self._shadows: set[asyncio.Task[Any]] = set()
        self._records: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ serving

    def target(self, name: str, version: str | None) -> Target | None:
        route = self.repository.routes.get(name)
        return None if route is None else route.target(version, self._shadows)

    async def flavors(self, names: list[str]) -> list[str]:
        """The flavours of the versions ``names`` serve now (to warm the zygote for)."""

        def read() -> list[str]:
            found = []
            for name in names:
                for key in self._read(name).keys().values():
                    if key is not None:
                        found.append(self.store.models.get_version(*key).flavor or "")
            return found

        return await asyncio.to_thread(read)

    async def add(self, names: list[str]) -> list[Route]:
        """Serve deployments ``names``; on any failure none of them is served."""
        for name in names:
            if name in self.repository.routes:
                raise ServingError(400, f"deployment '{name}' is served already")
        if names:
            await asyncio.to_thread(self._forget_dead_servers)
        try:
            wanted = [await asyncio.to_thread(self._read, name) for name in names]
            results = await asyncio.gather(
                *(self._route(n, w) for n, w in zip(names, wanted, strict=True)),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        except BaseException:
            await self._release()
            raise
        routes = [r for r in results if isinstance(r, Route)]
        for want, route in zip(wanted, routes, strict=True):
            self._install(route, want)
        return routes

    async def watch(self) -> None:
        """Follow the store: swap a deployment's versions when its references move. A
        read that fails (the store unreachable, an alias deleted) keeps what is served."""
        problems: dict[str, str] = {}
        while True:
            await asyncio.sleep(POLL)
            for name in list(self.repository.routes):
                try:
                    want = await asyncio.to_thread(self._read, name)
                except Exception as e:
                    if problems.get(name) != str(e):  # said once, not every second
                        log.warning("deployment '%s' keeps its versions: %s", name, e)
                        problems[name] = str(e)
                    continue
                problems.pop(name, None)
                served = self._wanted[name]
                if want.keys() == served.keys() and want.percent == served.percent:
                    continue
                if self._failed.get(name) == want:
                    continue  # this combination failed to load; wait for the next change
                await self.swap(name, want)

    async def swap(self, name: str, want: _Wanted) -> None:
        """Load what ``want`` names, then route to it, then close what is no longer used."""
        try:
            route = await self._route(name, want)
        except Exception as e:
            self._failed[name] = want
            log.error(
                "deployment '%s': the new version failed to load; keeping the old: %s", name, e
            )
            await self._release()
            return
        self._failed.pop(name, None)
        self._install(route, want)
        log.info(
            "deployment '%s' now serves %s", name, ", ".join(v.label for v in route.versions())
        )
        await self._release()

    async def close(self) -> None:
        self.repository.routes.clear()
        for task in list(self._shadows):
            task.cancel()
        await asyncio.gather(*self._records, return_exceptions=True)
        await self._release()
        try:
            await asyncio.to_thread(self.store.deployments.stop_serving, self.server)
        except Exception as e:
            log.warning("could not record that this server stopped serving: %s", e)

    # ------------------------------------------------------------------ helpers

    def _forget_dead_servers(self) -> None:
        """Close what servers of this machine killed without saying so left open, so the
        serving history and ``deployments list`` do not show them serving."""
        try:
            gone = self.store.deployments.stop_dead_servers(socket.gethostname(), pid_alive)
        except Exception as e:
            log.warning("could not close the serving rows of stopped servers: %s", e)
            return
        for server in gone:
            log.info("server %s stopped without saying so; its serving rows are closed", server)

    def _read(self, name: str) -> _Wanted:
        """What deployment ``name`` names now (runs in a thread: it reads the store)."""
        try:
            record = self.store.deployments.get(name)
        except NotFound as e:
            raise ServingError(404, e.message) from e

        def key(ref: str | None) -> Key | None:
            if ref is None:
                return None
            try:
                found = self.store.deployments.resolve(ref)
            except NotFound as e:
                raise ServingError(404, f"deployment '{name}': {e.message}") from e
            return (found.model, found.version)

        main = key(record.model)
        assert main is not None
        return _Wanted(
            record.revision, main, key(record.canary), record.canary_percent, key(record.shadow)
        )

    async def _served(self, key: Key) -> ServedVersion:
        found = self._loaded.get(key)
        if found is not None and found.state is not ModelState.UNLOADING:
            return found
        ref = f"{key[0]}:{key[1]}"
        spec, canonical = await asyncio.to_thread(self.repository.registry.resolve, ref)
        if self.repository.launchers.zygote is None:
            await self.repository.launchers.open([spec.flavor])
        repository = self.repository
        served = ServedVersion(
            spec, repository.workers, canonical, repository.launchers, limits=repository.limits
        )
        self._loaded[key] = served
        try:
            await served.load()
        except BaseException:
            self._loaded.pop(key, None)
            raise
        return served

    async def _route(self, name: str, want: _Wanted) -> Route:
        keys = [want.main, want.canary, want.shadow]
        unique = list(dict.fromkeys(k for k in keys if k is not None))
        loaded = await asyncio.gather(*(self._served(k) for k in unique), return_exceptions=True)
        for result in loaded:
            if isinstance(result, BaseException):
                raise result
        by_key = {k: v for k, v in zip(unique, loaded, strict=True) if isinstance(v, ServedVersion)}
        return Route(
            name,
            by_key[want.main],
            None if want.canary is None else by_key[want.canary],
            want.percent,
            None if want.shadow is None else by_key[want.shadow],
        )

    def _install(self, route: Route, want: _Wanted) -> None:
        self.repository.routes[route.name] = route
        self._wanted[route.name] = want
        self._record(route)

    def _record(self, route: Route) -> None:
        """Tell the store what this server now serves (in the background: lineage)."""

        def write() -> None:
            for role, served in zip(_ROLES, (route.main, route.canary, route.shadow), strict=True):
                version = None
                if served is not None:
                    version = self.store.models.get_version(served.name, served.spec.version)
                self.store.deployments.record_serving(route.name, role, version, self.server)

        async def record() -> None:
            try:
                await asyncio.to_thread(write)
            except Exception as e:
                log.warning("deployment '%s': serving history not recorded: %s", route.name, e)

        task = asyncio.get_running_loop().create_task(record())
        self._records.add(task)
        task.add_done_callback(self._records.discard)

    async def _release(self) -> None:
        """Close every loaded version no route uses."""
        used = {id(v) for r in self.repository.routes.values() for v in r.versions()}
        gone = [(k, v) for k, v in self._loaded.items() if id(v) not in used]
        for key, _ in gone:
            del self._loaded[key]
        await asyncio.gather(*(v.close() for _, v in gone), return_exceptions=True)
