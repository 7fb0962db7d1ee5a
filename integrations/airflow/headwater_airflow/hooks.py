"""The ``headwater`` connection and :class:`HeadwaterHook`, Airflow's handle on a Headwater
server's REST API (through :class:`headwater.client.Client`).

A connection holds the server's URL in its host (``http://headwater.internal:8080``) and
an API token in its password (``headwater users create airflow`` prints one); its optional
extra ``timeout`` is the seconds one request may take. As an environment variable::

    AIRFLOW_CONN_HEADWATER_DEFAULT='{"conn_type": "headwater",
        "host": "http://headwater.internal:8080", "password": "hw_..."}'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from headwater.errors import ClientError, HeadwaterError
from headwater_airflow._runs import run_page

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from headwater.client import Client

__all__ = ["Endpoint", "HeadwaterApiError", "HeadwaterHook"]

DEFAULT_TIMEOUT = 30.0


class HeadwaterApiError(AirflowException):
    """The Headwater server refused a request, or could not be reached (``status`` 0).

    The message is the server's own (what was wrong), followed by its hint (how to fix it).
    """

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        self.status = status
        self.message = message
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)

    @classmethod
    def of(cls, exc: HeadwaterError) -> HeadwaterApiError:
        return cls(exc.status if isinstance(exc, ClientError) else 0, exc.message, exc.hint)


class Endpoint(NamedTuple):
    """Where a connection points: the server's base URL, its token, a request timeout."""

    url: str
    token: str
    timeout: float


class HeadwaterHook(BaseHook):
    """Calls a Headwater server's REST API with the connection ``headwater_conn_id``.

    Every call returns the server's JSON and raises :class:`HeadwaterApiError` (an
    ``AirflowException``) with the server's message when it refuses or cannot be reached::

        hook = HeadwaterHook("headwater_default")
        run = hook.trigger_run("churn", {"min_accuracy": 0.9})
        hook.get_run(run["id"])["status"]
    """

    conn_name_attr = "headwater_conn_id"
    default_conn_name = "headwater_default"
    conn_type = "headwater"
    hook_name = "Headwater"

    def __init__(
        self, headwater_conn_id: str = default_conn_name, *, timeout: float | None = None
    ) -> None:
        super().__init__()
        self.headwater_conn_id = headwater_conn_id
        self.timeout = timeout
        self._endpoint: Endpoint | None = None
        self._client: Client | None = None

    # ------------------------------------------------------------------ the connection

    @staticmethod
    def endpoint_of(conn: Connection) -> Endpoint:
        """The server's URL, token and request timeout a connection names; an
        ``AirflowException`` saying which field is wrong and what to put there otherwise."""
        name = f"the Airflow connection '{conn.conn_id}'"
        host = (conn.host or "").strip()
        if not host:
            raise AirflowException(
                f"{name} has no Headwater URL (its host field). Set it to the server's "
                "address, e.g. http://headwater.internal:8080"
            )
        if "://" not in host:  # a URI-style connection: headwater://:TOKEN@host:port
            host = f"{conn.schema or 'http'}://{host}"
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AirflowException(
                f"{name} has the Headwater URL {host!r}, which is not an http:// or https:// "
                "address. Set its host to the server's address, e.g. http://headwater:8080"
            )
        url = host.rstrip("/")
        if conn.port and parts.port is None:
            url = parts._replace(netloc=f"{parts.netloc}:{conn.port}").geturl().rstrip("/")
        token = (conn.password or "").strip()
        if not token:
            raise AirflowException(
                f"{name} has no token (its password field). Make one with 'headwater users "
                "create airflow' (or 'headwater tokens create --user NAME') and put it there"
            )
        extra = conn.extra_dejson
        raw = extra.get("timeout", extra.get("extra__headwater__timeout"))
        try:
            timeout = DEFAULT_TIMEOUT if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            timeout = -1.0
        if not timeout > 0:
            raise AirflowException(
                f"{name} has the timeout {raw!r} in its extra: give the seconds one request "
                "may take, a number above 0"
            )
        return Endpoint(url, token, timeout)

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            self._endpoint = self.endpoint_of(self.get_connection(self.headwater_conn_id))
        return self._endpoint

    def get_conn(self) -> Client:
        """The :class:`headwater.client.Client` of this connection (made once)."""
        if self._client is None:
            from headwater.client import Client

            where = self.endpoint
            self._client = Client(where.url, where.token, timeout=self.timeout or where.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run_page(self, run_id: str) -> str:
        """The run's page in the Headwater web UI."""
        return run_page(self.endpoint.url, run_id)

    # ------------------------------------------------------------------ the API

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self.get_conn()
        try:
            return getattr(client, method)(*args, **kwargs)
        except HeadwaterError as exc:
            raise HeadwaterApiError.of(exc) from None

    def trigger_run(
        self,
        pipeline: str,
        parameters: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        cache: bool = True,
    ) -> dict[str, Any]:
        """Queue a run of ``pipeline`` (its newest deployed version unless ``version``)."""
        run: dict[str, Any] = self._call(
            "trigger", pipeline, parameters, version=version, cache=cache
        )
        return run

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A run with its tasks and, once it has succeeded, its outputs."""
        run: dict[str, Any] = self._call("run", run_id)
        return run

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("cancel", run_id)
        return result

    def asset_events(self, asset: str, *, limit: int = 1) -> dict[str, Any]:
        """The newest updates of ``asset``, newest first."""
        page: dict[str, Any] = self._call("asset_events", asset=asset, limit=limit)
        return page

    def test_connection(self) -> tuple[bool, str]:
        """For the Test button of Airflow's connection form: reach the server, check the
        token."""
        try:
            me = self._call("me")
            health = self._call("health")
        except AirflowException as exc:
            return False, str(exc)
        finally:
            self.close()
        return True, (
            f"Connected to Headwater {health.get('version', '')} at {self.endpoint.url} "
            f"as {me.get('user')} ({me.get('role')})"
        )
