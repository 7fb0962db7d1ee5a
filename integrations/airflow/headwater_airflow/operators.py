""":class:`HeadwaterTriggerRunOperator`: run a deployed Headwater pipeline from an Airflow
task, wait for it (in the triggerer, when deferrable), and hand its outputs downstream."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException

from headwater_airflow._runs import (
    DONE,
    SUCCEEDED,
    Patience,
    deadline,
    not_succeeded,
    output_artifacts,
    output_parameters,
    passed,
    transient,
)
from headwater_airflow.hooks import HeadwaterApiError, HeadwaterHook
from headwater_airflow.links import RUN_ID_KEY, RUN_URL_KEY, HeadwaterRunLink
from headwater_airflow.triggers import HeadwaterRunTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["HeadwaterTriggerRunOperator", "seconds"]


def seconds(value: float | timedelta | None, name: str) -> float | None:
    """A duration argument in seconds; a ValueError naming it when it is not above 0."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be seconds above 0 or a timedelta, not {value!r}")
    return float(value)


class HeadwaterTriggerRunOperator(BaseOperator):
    """Trigger a run of the deployed Headwater pipeline ``pipeline`` and, unless
    ``wait_for_completion`` is False, wait for it to end.

    The task succeeds when the run succeeds, and returns the values the pipeline returned
    (its return value XCom, e.g. ``{"accuracy": 0.93}``); artifacts it returned are pushed
    as ``artifacts`` (an artifact id by name). The run's id is pushed as ``run_id`` and its
    page in the Headwater UI as ``run_url`` (the "Headwater run" link). A run that fails or
    is cancelled fails the task with a message naming the run, its status and its failed
    tasks.

    :param pipeline: name of a pipeline deployed to the server (templated).
    :param parameters: run parameters, checked against the pipeline's schema by the server
        (templated: Airflow renders Jinja in the values first; a JSON object as text is
        accepted too).
    :param version: a pipeline version id; the newest deployed version if None (templated).
    :param cache: whether the run may take cached task results.
    :param headwater_conn_id: the ``headwater`` connection to use.
    :param wait_for_completion: wait for the run to end; if False the task ends once the
        run is queued.
    :param poke_interval: seconds between two looks at the run.
    :param timeout: seconds (or a timedelta) to wait for the run; past it the run is
        cancelled and the task fails. None waits as long as the run takes.
    :param deferrable: wait in Airflow's triggerer, holding no worker slot (default: the
        ``[operators] default_deferrable`` setting).
    :param cancel_on_kill: cancel the run when the task is killed (marked failed, cleared,
        timed out by Airflow) while it waits.
    """

    template_fields: Sequence[str] = ("pipeline", "parameters", "version")
    template_fields_renderers: ClassVar[dict[str, str]] = {"parameters": "json"}
    operator_extra_links = (HeadwaterRunLink(),)
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        pipeline: str,
        parameters: dict[str, Any] | str | None = None,
        version: str | None = None,
        cache: bool = True,
        headwater_conn_id: str = HeadwaterHook.default_conn_name,
        wait_for_completion: bool = True,
        poke_interval: float | timedelta = 10.0,
        timeout: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.parameters = parameters
        self.version = version
        self.cache = cache
        self.headwater_conn_id = headwater_conn_id
        self.wait_for_completion = wait_for_completion
        self.poke_interval = seconds(poke_interval, "poke_interval")
        self.timeout = seconds(timeout, "timeout")
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill
        self.run_id: str | None = None

    @property
    def hook(self) -> HeadwaterHook:
        return HeadwaterHook(self.headwater_conn_id)

    def _checked(self) -> tuple[str, dict[str, Any]]:
        """The pipeline name and parameters as rendered, or why they cannot be sent."""
        if not isinstance(self.pipeline, str) or not self.pipeline.strip():
            raise AirflowException(
                f"pipeline must name a deployed Headwater pipeline, not {self.pipeline!r}"
            )
        parameters = self.parameters
        if isinstance(parameters, str):
            try:
                parameters = json.loads(parameters)
            except ValueError as exc:
                raise AirflowException(
                    f"parameters is text that is not a JSON object ({exc}): {parameters!r}"
                ) from None
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise AirflowException(
                f"parameters must be a dict of parameter values, not {type(parameters).__name__}"
            )
        return self.pipeline.strip(), parameters

    def execute(self, context: Context) -> Any:
        pipeline, parameters = self._checked()
        hook = self.hook
        run = hook.trigger_run(pipeline, parameters, version=self.version, cache=self.cache)
        self.run_id = run_id = run["id"]
        page = hook.run_page(run_id)
        context["ti"].xcom_push(key=RUN_ID_KEY, value=run_id)
        context["ti"].xcom_push(key=RUN_URL_KEY, value=page)
        self.log.info("Triggered Headwater run %s of pipeline '%s': %s", run_id, pipeline, page)
        if not self.wait_for_completion:
            return None
        end = deadline(self.timeout)
        if self.deferrable:
            self.defer(
                trigger=HeadwaterRunTrigger(
                    headwater_conn_id=self.headwater_conn_id,
                    run_id=run_id,
                    poll_interval=self.poke_interval or 10.0,
                    end_time=end,
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
            )
        return self._finish(hook, self._wait(hook, run_id, end), context)

    def _wait(self, hook: HeadwaterHook, run_id: str, end: float | None) -> dict[str, Any]:
        """Poll the run from this worker until it ends."""
        patience = Patience()
        while True:
            try:
                run = hook.get_run(run_id)
            except HeadwaterApiError as exc:
                if not transient(exc.status) or patience.lost():
                    raise
                self.log.warning("Headwater did not answer; asking again: %s", exc)
            else:
                patience.answered()
                if run["status"] in DONE:
                    return run
                self.log.info("Headwater run %s is %s", run_id, run["status"])
            if passed(end):
                self._time_out(hook, run_id)
            time.sleep(self.poke_interval or 10.0)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: read the ended run once, or say why the wait
        ended without it."""
        self.run_id = run_id = event["run_id"]
        hook = self.hook
        if event["event"] == "error":
            raise AirflowException(f"waiting for Headwater run {run_id} failed: {event['message']}")
        if event["event"] == "timeout":
            self._time_out(hook, run_id)
        return self._finish(hook, hook.get_run(run_id), context)

    def _finish(self, hook: HeadwaterHook, run: dict[str, Any], context: Context) -> Any:
        if run["status"] != SUCCEEDED:
            raise AirflowException(not_succeeded(run, hook.run_page(run["id"])))
        artifacts = output_artifacts(run)
        if artifacts:
            context["ti"].xcom_push(key="artifacts", value=artifacts)
        outputs = output_parameters(run)
        self.log.info("Headwater run %s succeeded; its outputs: %s", run["id"], outputs)
        return outputs

    def _time_out(self, hook: HeadwaterHook, run_id: str) -> None:
        self._cancel(hook, run_id)
        raise AirflowException(
            f"Headwater run {run_id} did not end within {self.timeout:g}s, so it was "
            f"cancelled. See {hook.run_page(run_id)}"
        )

    def _cancel(self, hook: HeadwaterHook, run_id: str) -> None:
        try:
            hook.cancel_run(run_id)
        except HeadwaterApiError as exc:
            if exc.status != 409:  # 409: it has already ended
                raise
        else:
            self.log.info("Cancelled Headwater run %s", run_id)

    def on_kill(self) -> None:
        if self.run_id is not None and self.cancel_on_kill:
            self._cancel(self.hook, self.run_id)
