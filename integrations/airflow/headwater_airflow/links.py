"""The "Headwater run" button on a task: the page of the run it triggered, in the Headwater
web UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["RUN_ID_KEY", "RUN_URL_KEY", "HeadwaterRunLink"]

# The XCom keys a task that triggers or waits for a run pushes.
RUN_ID_KEY = "run_id"
RUN_URL_KEY = "run_url"


class HeadwaterRunLink(BaseOperatorLink):
    """Links a task to the Headwater run it triggered or waited for (its ``run_url`` XCom).

    Airflow asks for the link when the task ends and keeps it, so the button works while
    the Headwater server is down, and points wherever the connection pointed then.
    """

    name = "Headwater run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(ti_key=ti_key, key=RUN_URL_KEY)
        return url if isinstance(url, str) else ""
