"""A Python client for a Headwater server.

Example::

    from headwater.client import Client

    hw = Client("http://127.0.0.1:8080", token="hw_...")
    run = hw.trigger("churn", parameters={"min_accuracy": 0.9})
    hw.wait(run["id"])
    print(hw.run(run["id"])["status"])

Every method returns the server's JSON; errors raise :class:`ClientError` carrying the
server's message, hint and HTTP status. Parameters that cannot be sent as JSON text
(NaN, a lone surrogate from an undecodable byte) raise :class:`ParameterError` before
anything is sent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from headwater.errors import ClientError, ParameterError
from headwater.states import RUN_DONE

__all__ = ["Client", "ClientError"]

_DONE = {s.value for s in RUN_DONE}


def _given(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters that were given: httpx would send ``None`` as an empty value, which
    the server reads as a filter on ''."""
    return {k: v for k, v in filters.items() if v is not None}


def _refused(response: httpx.Response) -> ClientError:
    """The server's error (its message and hint) as a ClientError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": response.text or response.reason_phrase}
    return ClientError(
        response.status_code,
        f"{body.get('error') or response.reason_phrase} (HTTP {response.status_code})",
        body.get("hint"),
    )


def _check_request(path: str, body: Any, params: Any) -> None:
    """Refuse, before sending, what the server would refuse for not being storable text
    (a lone surrogate from an undecodable byte, NaN): a clear error instead of an
    encoding traceback from deep inside httpx."""
    from headwater._values import json_problem, text_problem

    problem = text_problem(path)
    if problem:
        raise ClientError(0, f"request not sent: the path {path!r} {problem}", _UTF8)
    given = body.get("parameters") if isinstance(body, dict) else None
    for name, value in given.items() if isinstance(given, dict) else ():
        found = json_problem({name: value}, "parameters")
        if found is not None:
            at, why = found
            raise ParameterError(f"{at} {why}", hint=_UTF8)
    for where, value in (("body", body), ("query", params)):
        found = json_problem(value, where) if value is not None else None
        if found is not None:
            at, why = found
            raise ClientError(0, f"request not sent: {at} {why}", _UTF8)


_UTF8 = "give text as UTF-8 and numbers as finite JSON numbers"


class Client:
    """Talks to ``url`` with a bearer ``token`` (default: ``HEADWATER_TOKEN``), in
    ``namespace`` (default: ``HEADWATER_NAMESPACE``)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        namespace: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("HEADWATER_TOKEN")
        # The namespace every call works in (None: HEADWATER_NAMESPACE, else the server's
        # choice: 'default', or the user's only namespace).
        self.namespace = namespace or os.environ.get("HEADWATER_NAMESPACE") or None
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.namespace:
            from headwater._config import NAMESPACE_RE

            if not NAMESPACE_RE.match(self.namespace):
                raise ClientError(
                    0,
                    f"namespace {self.namespace[:80]!r} is not a namespace name",
                    hint="use lower-case letters, digits and dashes, starting with a letter",
                )
            headers["X-Headwater-Namespace"] = self.namespace
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unreachable(self, exc: httpx.HTTPError) -> ClientError:
        return ClientError(
            0,
            f"cannot reach the Headwater server at {self.url}: {exc}",
            hint="check the URL, and that 'headwater server' or 'headwater standalone' runs",
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        _check_request(path, kwargs.get("json"), kwargs.get("params"))
        try:
            response = self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise _refused(response)
        if response.status_code == 204:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    # ------------------------------------------------------------------ pipelines and runs

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def me(self) -> dict[str, Any]:
        """Who the token belongs to: ``user``, ``role`` and the token's own record."""
        result: dict[str, Any] = self._call("GET", "/me")
        return result

    def pipelines(self, **filters: Any) -> dict[str, Any]:
        """A page of pipelines: ``prefix``, ``tag``, ``limit``, ``offset``..."""
        result: dict[str, Any] = self._call("GET", "/pipelines", params=_given(filters))
        return result

    def deploy(self, target: str) -> dict[str, Any]:
        """Deploy ``target`` (``FILE[:PIPELINE]``) to the server, as ``headwater deploy``
        does locally: the pipeline is compiled here to find the files it needs, and those
        files go up as a source bundle (:meth:`deploy_bundle`)."""
        from headwater.engine import make_bundle

        bundle, inside = make_bundle(target)
        return self.deploy_bundle(bundle, inside)

    def deploy_bundle(self, bundle: bytes, target: str) -> dict[str, Any]:
        """Deploy a source bundle (a tar.gz of the pipeline's files, paths relative to the
        pipeline file's folder); ``target`` is ``FILE[:PIPELINE]`` inside it. Returns the
        version; its ``new`` is False when these sources were deployed before."""
        result: dict[str, Any] = self._call(
            "POST",
            "/pipelines",
            params={"target": target},
            content=bundle,
            headers={"Content-Type": "application/gzip"},
            timeout=max(self._http.timeout.read or 0.0, 300.0),  # the server compiles it
        )
        return result

    def trigger(
        self,
        pipeline: str,
        parameters: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        cache: bool = True,
        experiment: str | None = None,
    ) -> dict[str, Any]:
        """Queue a run (in ``experiment``, by default the pipeline's); parameters are
        checked against the pipeline's schema."""
        body: dict[str, Any] = {"parameters": parameters or {}, "version": version, "cache": cache}
        if experiment is not None:
            body["experiment"] = experiment
        result: dict[str, Any] = self._call("POST", f"/pipelines/{pipeline}/runs", json=body)
        return result

    def runs(self, **filters: Any) -> dict[str, Any]:
        """A page of runs: ``pipeline``, ``status``, ``trigger``, ``limit``, ``offset``..."""
        result: dict[str, Any] = self._call("GET", "/runs", params=_given(filters))
        return result

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/runs/{run_id}")
        return result

    def experiments(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Experiments, the one with the newest run first."""
        result: list[dict[str, Any]] = self._call("GET", "/experiments", params={"limit": limit})
        return result

    def experiment_runs(
        self,
        name: str,
        *,
        where: list[str] | None = None,
        sort: str | None = None,
        order: str = "asc",
        best: str | None = None,
        direction: str = "maximize",
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """An experiment's runs side by side: ``parameters`` and ``metrics`` (the column
        names), ``runs`` (a page of rows), ``matched`` and ``total``. ``where`` holds
        conditions such as ``"accuracy>0.9"``; ``best`` keeps the best run only."""
        params = _given(
            {
                "where": where or None,
                "sort": sort,
                "order": order,
                "best": best,
                "direction": direction,
                "limit": limit,
                "offset": offset,
            }
        )
        result: dict[str, Any] = self._call(
            "GET", f"/experiments/{quote(name, safe='')}/runs", params=params
        )
        return result

    def wait(self, run_id: str, timeout: float = 3600.0, poll: float = 0.5) -> dict[str, Any]:
        """Poll until the run ends; returns it."""
        deadline = time.time() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in _DONE:
                return run
            if time.time() > deadline:
                raise ClientError(0, f"run {run_id} did not end within {timeout:g}s")
            time.sleep(poll)

    def cancel(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/cancel")
        return result

    def retry(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/runs/{run_id}/retry")
        return result

    def clear(self, run_id: str, task: str, *, downstream: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/runs/{run_id}/tasks/{task}/clear", json={"downstream": downstream}
        )
        return result

    def logs(self, run_id: str, task: str, *, attempt: int | None = None, offset: int = 0) -> str:
        params: dict[str, Any] = {"offset": offset}
        if attempt is not None:
            params["attempt"] = attempt
        text: str = self._call("GET", f"/runs/{run_id}/tasks/{task}/logs", params=params)["text"]
        return text

    def follow_logs(self, run_id: str, task: str) -> Iterator[str]:
        """The log as it grows, until the attempt ends."""
        import json

        url = f"/api/v1/runs/{run_id}/tasks/{task}/logs/follow"
        try:
            with self._http.stream("GET", url) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _refused(r)
                for line in r.iter_lines():
                    if line.startswith("data: ") and line != "data: {}":
                        yield json.loads(line[6:])["text"]
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def audit(self, **filters: Any) -> dict[str, Any]:
        """A page of the audit log: ``user``, ``method``, ``route``, ``outcome``, ``since``,
        ``until``, ``limit``, ``offset``."""
        result: dict[str, Any] = self._call("GET", "/audit", params=_given(filters))
        return result

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/runs/{run_id}/metrics")
        return result

    def artifact(self, artifact_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/artifacts/{artifact_id}")
        return result

    def download(self, artifact_id: str, path: str | None = None) -> bytes:
        params = {"path": path} if path else None
        data: bytes = self._call("GET", f"/artifacts/{artifact_id}/download", params=params)
        return data

    def lineage(self, artifact_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/artifacts/{artifact_id}/lineage")
        return result

    # ------------------------------------------------------------------ schedules

    def schedules(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/schedules")
        return result

    def edit_schedule(self, pipeline: str, **changes: Any) -> dict[str, Any]:
        """Change ``cron``, ``interval_seconds``, ``timezone``, dates, ``catchup``,
        ``max_active_runs`` or ``paused`` without redeploying."""
        body = {k: v for k, v in changes.items() if v is not None}
        result: dict[str, Any] = self._call("PATCH", f"/schedules/{pipeline}", json=body)
        return result

    def pause(self, pipeline: str) -> dict[str, Any]:
        return self.edit_schedule(pipeline, paused=True)

    def unpause(self, pipeline: str) -> dict[str, Any]:
        return self.edit_schedule(pipeline, paused=False)

    def backfill(
        self, pipeline: str, start: str, end: str, reprocess: str = "none"
    ) -> dict[str, Any]:
        body = {"start": start, "end": end, "reprocess": reprocess}
        result: dict[str, Any] = self._call("POST", f"/schedules/{pipeline}/backfills", json=body)
        return result

    def assets(self, **filters: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/assets", params=_given(filters))
        return result

    def asset_events(self, **filters: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/asset-events", params=_given(filters))
        return result

    def emit_asset_event(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record that asset ``name`` was updated outside any run, with ``metadata``: the
        pipelines scheduled on it run (see the event's ``triggered`` later)."""
        from urllib.parse import quote

        body = {"metadata": metadata} if metadata is not None else {}
        result: dict[str, Any] = self._call(
            "POST", f"/assets/{quote(name, safe='')}/events", json=body
        )
        return result

    # ------------------------------------------------------------------ model registry

    def models(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Registered models, by name."""
        result: list[dict[str, Any]] = self._call("GET", "/models", params={"limit": limit})
        return result

    def model(self, name: str) -> dict[str, Any]:
        """A model with its aliases (alias -> version number)."""
        result: dict[str, Any] = self._call("GET", f"/models/{quote(name, safe='')}")
        return result

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of a model, newest first."""
        result: list[dict[str, Any]] = self._call("GET", f"/models/{quote(name, safe='')}/versions")
        return result

    def model_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """Version ``version`` of a model, or the one ``alias`` points at (``latest``: the
        newest)."""
        where = (
            f"versions/{int(version)}"
            if version is not None
            else f"aliases/{quote(alias or 'latest', safe='')}"
        )
        result: dict[str, Any] = self._call("GET", f"/models/{quote(name, safe='')}/{where}")
        return result

    def register_model(
        self,
        name: str,
        artifact_id: str,
        *,
        aliases: list[str] | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Register an artifact as the next version of model ``name``."""
        body = {
            "artifact_id": artifact_id,
            "aliases": aliases or [],
            "tags": tags or {},
            "description": description,
        }
        result: dict[str, Any] = self._call(
            "POST", f"/models/{quote(name, safe='')}/versions", json=body
        )
        return result

    def set_alias(self, name: str, alias: str, version: int) -> dict[str, Any]:
        """Point ``alias`` of model ``name`` at ``version``; the move as recorded."""
        result: dict[str, Any] = self._call(
            "PUT",
            f"/models/{quote(name, safe='')}/aliases/{quote(alias, safe='')}",
            json={"version": version},
        )
        return result

    def delete_alias(self, name: str, alias: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "DELETE", f"/models/{quote(name, safe='')}/aliases/{quote(alias, safe='')}"
        )
        return result

    def alias_history(self, name: str) -> list[dict[str, Any]]:
        """Every move of a model's aliases, newest first."""
        result: list[dict[str, Any]] = self._call("GET", f"/models/{quote(name, safe='')}/history")
        return result

    # ------------------------------------------------------------------ deployments

    def deployments(self) -> list[dict[str, Any]]:
        """Deployments, by name."""
        result: list[dict[str, Any]] = self._call("GET", "/deployments")
        return result

    def deployment(self, name: str) -> dict[str, Any]:
        """A deployment: the references it follows (``model``, ``canary``, ``shadow``)."""
        result: dict[str, Any] = self._call("GET", f"/deployments/{quote(name, safe='')}")
        return result

    def create_deployment(
        self,
        name: str,
        model: str,
        *,
        canary: str | None = None,
        canary_percent: float | None = None,
        shadow: str | None = None,
    ) -> dict[str, Any]:
        """A deployment of ``model`` (``NAME@ALIAS``, ``NAME:VERSION``), e.g.
        ``hw.create_deployment("web", "churn@champion", canary="churn@challenger")``."""
        body = {"name": name, "model": model, "canary": canary, "shadow": shadow}
        if canary_percent is not None:
            body["canary_percent"] = canary_percent  # type: ignore[assignment]
        result: dict[str, Any] = self._call("POST", "/deployments", json=body)
        return result

    def update_deployment(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change ``model``, ``canary``, ``canary_percent`` or ``shadow`` (None removes
        the canary or the shadow)."""
        result: dict[str, Any] = self._call(
            "PATCH", f"/deployments/{quote(name, safe='')}", json=changes
        )
        return result

    def promote_deployment(self, name: str) -> dict[str, Any]:
        """The canary becomes the main version."""
        result: dict[str, Any] = self._call("POST", f"/deployments/{quote(name, safe='')}/promote")
        return result

    def rollback_deployment(self, name: str) -> dict[str, Any]:
        """Back to the main version served before the current one."""
        result: dict[str, Any] = self._call("POST", f"/deployments/{quote(name, safe='')}/rollback")
        return result

    def delete_deployment(self, name: str, force: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "DELETE", f"/deployments/{quote(name, safe='')}", params={"force": force}
        )
        return result

    def deployment_serving(self, name: str) -> list[dict[str, Any]]:
        """What a deployment's servers served, in which role, since when."""
        result: list[dict[str, Any]] = self._call(
            "GET", f"/deployments/{quote(name, safe='')}/serving"
        )
        return result
