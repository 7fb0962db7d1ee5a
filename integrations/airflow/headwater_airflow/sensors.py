"""Sensors on a Headwater server: :class:`HeadwaterRunSensor` waits for a run to end,
:class:`HeadwaterAssetSensor` for an asset to be updated. Both poke from a worker, or
wait in the triggerer when ``deferrable``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from headwater_airflow._runs import (
    DONE,
    SUCCEEDED,
    Patience,
    deadline,
    newer_event,
    not_succeeded,
    output_parameters,
    parse_time,
    transient,
)
from headwater_airflow.hooks import HeadwaterApiError, HeadwaterHook
from headwater_airflow.links import RUN_ID_KEY, RUN_URL_KEY, HeadwaterRunLink
from headwater_airflow.triggers import HeadwaterAssetTrigger, HeadwaterRunTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["HeadwaterAssetSensor", "HeadwaterRunSensor"]


class _HeadwaterSensor(BaseSensorOperator):
    """What both sensors share: the connection, deferring, and patience with a server that
    does not answer for a while (a refusal fails the sensor at once)."""

    def __init__(
        self,
        *,
        headwater_conn_id: str = HeadwaterHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.headwater_conn_id = headwater_conn_id
        self.deferrable = deferrable
        self._patience = Patience()

    @property
    def hook(self) -> HeadwaterHook:
        return HeadwaterHook(self.headwater_conn_id)

    def _ask(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(...)``, or None while the server does not answer (within the grace)."""
        try:
            found = call(*args, **kwargs)
        except HeadwaterApiError as exc:
            if not transient(exc.status) or self._patience.lost():
                raise
            self.log.warning("Headwater did not answer; asking again: %s", exc)
            return None
        self._patience.answered()
        return found

    def _defer(self, trigger: Any) -> None:
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def _ended_wait(self, event: dict[str, Any], what: str) -> None:
        if event["event"] == "error":
            raise AirflowException(f"waiting for {what} failed: {event['message']}")
        if event["event"] == "timeout":
            raise AirflowSensorTimeout(f"{what} was not seen within {self.timeout:g}s")


class HeadwaterRunSensor(_HeadwaterSensor):
    """Wait for the Headwater run ``run_id`` to end.

    Succeeds (returning the values the run's pipeline returned) when the run succeeds;
    fails with the run's status and failed tasks when it fails or is cancelled. Pushes the
    run's page as ``run_url`` (the "Headwater run" link).

    :param run_id: the run's id (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='train', key='run_id') }}"``.
    :param headwater_conn_id: the ``headwater`` connection to use.
    :param deferrable: wait in Airflow's triggerer, holding no worker slot (default: the
        ``[operators] default_deferrable`` setting).

    ``poke_interval``, ``timeout``, ``mode`` and ``soft_fail`` are those of every sensor.
    """

    template_fields: Sequence[str] = ("run_id",)
    operator_extra_links = (HeadwaterRunLink(),)
    ui_color = "#dbeafe"

    def __init__(self, *, run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id

    def _checked(self) -> str:
        if not isinstance(self.run_id, str) or not self.run_id.strip():
            raise AirflowException(f"run_id must be a Headwater run id, not {self.run_id!r}")
        return self.run_id.strip()

    def _note(self, context: Context, run_id: str) -> None:
        context["ti"].xcom_push(key=RUN_ID_KEY, value=run_id)
        context["ti"].xcom_push(key=RUN_URL_KEY, value=self.hook.run_page(run_id))

    def _outcome(self, run: dict[str, Any]) -> PokeReturnValue:
        if run["status"] != SUCCEEDED:
            raise AirflowException(not_succeeded(run, self.hook.run_page(run["id"])))
        return PokeReturnValue(is_done=True, xcom_value=output_parameters(run))

    def poke(self, context: Context) -> bool | PokeReturnValue:
        run = self._ask(self.hook.get_run, self._checked())
        if run is None or run["status"] not in DONE:
            return False
        return self._outcome(run)

    def execute(self, context: Context) -> Any:
        run_id = self._checked()
        self._note(context, run_id)
        if not self.deferrable:
            return super().execute(context)
        run = self.hook.get_run(run_id)
        if run["status"] in DONE:
            return self._outcome(run).xcom_value
        self._defer(
            HeadwaterRunTrigger(
                headwater_conn_id=self.headwater_conn_id,
                run_id=run_id,
                poll_interval=self.poke_interval or 10.0,
                end_time=deadline(self.timeout),
                cancel_on_kill=False,  # the run is not this task's to stop
            )
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        run_id = event["run_id"]
        self._ended_wait(event, f"the end of Headwater run {run_id}")
        return self._outcome(self.hook.get_run(run_id)).xcom_value


class HeadwaterAssetSensor(_HeadwaterSensor):
    """Wait for the Headwater asset ``asset`` to be updated after ``after``.

    Returns the update (its ``id``, ``run_id``, ``artifact_id``, ``created_at``...).

    :param asset: the asset's name, as pipelines declare it (templated), e.g.
        ``"s3://lake/churn/features"``.
    :param after: an aware datetime or ISO 8601 text (templated); an update at or
        before it does not count. Default: the DAG run's logical date, or the time it was
        due to run when it has none.
    :param headwater_conn_id: the ``headwater`` connection to use.
    :param deferrable: wait in Airflow's triggerer, holding no worker slot (default: the
        ``[operators] default_deferrable`` setting).
    """

    template_fields: Sequence[str] = ("asset", "after")
    ui_color = "#dbeafe"

    def __init__(self, *, asset: str, after: datetime | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asset = asset
        self.after = after

    def _checked(self, context: Context) -> tuple[str, datetime]:
        if not isinstance(self.asset, str) or not self.asset.strip():
            raise AirflowException(f"asset must name a Headwater asset, not {self.asset!r}")
        after = self.after
        if after is None or after == "":
            after = context.get("logical_date") or context["dag_run"].run_after
        try:
            return self.asset.strip(), parse_time(after)
        except ValueError as exc:
            raise AirflowException(f"after: {exc}") from None

    def poke(self, context: Context) -> bool | PokeReturnValue:
        asset, after = self._checked(context)
        page = self._ask(self.hook.asset_events, asset)
        found = newer_event(page, after) if page is not None else None
        if found is None:
            self.log.info("No update of Headwater asset %s after %s yet", asset, after)
            return False
        return PokeReturnValue(is_done=True, xcom_value=found)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        asset, after = self._checked(context)
        found = newer_event(self.hook.asset_events(asset), after)
        if found is not None:
            return found
        self._defer(
            HeadwaterAssetTrigger(
                headwater_conn_id=self.headwater_conn_id,
                asset=asset,
                after=after.isoformat(),
                poll_interval=self.poke_interval or 30.0,
                end_time=deadline(self.timeout),
            )
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        self._ended_wait(event, f"an update of Headwater asset {event['asset']}")
        return event["asset_event"]
