"""Triggers that wait in Airflow's triggerer, holding no worker slot: for a Headwater run to
end (:class:`HeadwaterRunTrigger`) and for an asset to be updated
(:class:`HeadwaterAssetTrigger`).

They poll the same REST endpoints as :class:`headwater.client.Client`, with
``httpx.AsyncClient`` so that one triggerer serves many waits. Each fires one event, a
dict whose ``event`` says how the wait ended:

- ``ended`` (a run trigger): the run ended; ``status`` is its final status;
- ``updated`` (an asset trigger): ``asset_event`` is the update seen;
- ``timeout``: ``end_time`` passed first;
- ``error``: the server refused (a bad token, an unknown run), or could not be reached for
  longer than the grace; ``message`` says which.

The task resumes with the event and reads the run (its outputs, its failed tasks) once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from headwater_airflow._runs import DONE, Patience, newer_event, parse_time, passed, transient
from headwater_airflow.hooks import Endpoint, HeadwaterApiError, HeadwaterHook

__all__ = ["HeadwaterAssetTrigger", "HeadwaterRunTrigger"]


class _Api:
    """The few REST calls the triggers make, on one ``httpx.AsyncClient``."""

    def __init__(self, where: Endpoint) -> None:
        self.url = where.url
        self._http = httpx.AsyncClient(
            base_url=where.url,
            headers={"Authorization": f"Bearer {where.token}"},
            timeout=where.timeout,
        )

    async def __aenter__(self) -> _Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as exc:
            raise HeadwaterApiError(
                0,
                f"cannot reach the Headwater server at {self.url}: {exc}",
                "check the URL, and that 'headwater server' or 'headwater standalone' runs",
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {"error": response.text or response.reason_phrase}
            raise HeadwaterApiError(
                response.status_code,
                f"{body.get('error') or response.reason_phrase} (HTTP {response.status_code})",
                body.get("hint"),
            )
        return response.json()


def _event(payload: dict[str, Any]) -> TriggerEvent:
    return TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's is untyped


async def _endpoint(conn_id: str) -> Endpoint:
    return HeadwaterHook.endpoint_of(await HeadwaterHook.aget_connection(conn_id))


class HeadwaterRunTrigger(BaseTrigger):
    """Fires when the Headwater run ``run_id`` ends, or ``end_time`` (seconds since the
    epoch) passes first. With ``cancel_on_kill``, a user who marks the waiting task failed
    or clears it cancels the run too.
    """

    def __init__(
        self,
        *,
        headwater_conn_id: str,
        run_id: str,
        poll_interval: float = 10.0,
        end_time: float | None = None,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.headwater_conn_id = headwater_conn_id
        self.run_id = run_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "headwater_conn_id": self.headwater_conn_id,
                "run_id": self.run_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        base = {"run_id": self.run_id}
        try:
            where = await _endpoint(self.headwater_conn_id)
        except Exception as exc:  # a missing or malformed connection: the task says which
            yield _event({**base, "event": "error", "message": str(exc)})
            return
        patience = Patience()
        async with _Api(where) as api:
            while True:
                try:
                    run = await api.call("GET", f"/runs/{quote(self.run_id, safe='')}")
                except HeadwaterApiError as exc:
                    if not transient(exc.status) or patience.lost():
                        yield _event({**base, "event": "error", "message": str(exc)})
                        return
                    self.log.warning("Headwater did not answer; asking again: %s", exc)
                else:
                    patience.answered()
                    if run["status"] in DONE:
                        yield _event({**base, "event": "ended", "status": run["status"]})
                        return
                    self.log.info("Headwater run %s is %s", self.run_id, run["status"])
                if passed(self.end_time):
                    yield _event({**base, "event": "timeout"})
                    return
                await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        if not self.cancel_on_kill:
            return
        async with _Api(await _endpoint(self.headwater_conn_id)) as api:
            try:
                await api.call("POST", f"/runs/{quote(self.run_id, safe='')}/cancel")
            except HeadwaterApiError as exc:
                if exc.status != 409:  # 409: the run has already ended
                    raise
            self.log.info("Cancelled Headwater run %s", self.run_id)


class HeadwaterAssetTrigger(BaseTrigger):
    """Fires when the Headwater asset ``asset`` gets an update newer than ``after`` (ISO
    8601), or ``end_time`` (seconds since the epoch) passes first."""

    def __init__(
        self,
        *,
        headwater_conn_id: str,
        asset: str,
        after: str,
        poll_interval: float = 30.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.headwater_conn_id = headwater_conn_id
        self.asset = asset
        self.after = after
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "headwater_conn_id": self.headwater_conn_id,
                "asset": self.asset,
                "after": self.after,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        base = {"asset": self.asset}
        try:
            where = await _endpoint(self.headwater_conn_id)
            after: datetime = parse_time(self.after)
        except Exception as exc:
            yield _event({**base, "event": "error", "message": str(exc)})
            return
        patience = Patience()
        async with _Api(where) as api:
            while True:
                try:
                    page = await api.call(
                        "GET", "/asset-events", params={"asset": self.asset, "limit": 1}
                    )
                except HeadwaterApiError as exc:
                    if not transient(exc.status) or patience.lost():
                        yield _event({**base, "event": "error", "message": str(exc)})
                        return
                    self.log.warning("Headwater did not answer; asking again: %s", exc)
                else:
                    patience.answered()
                    found = newer_event(page, after)
                    if found is not None:
                        yield _event({**base, "event": "updated", "asset_event": found})
                        return
                if passed(self.end_time):
                    yield _event({**base, "event": "timeout"})
                    return
                await asyncio.sleep(self.poll_interval)
