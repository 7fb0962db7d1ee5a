"""Apache Airflow provider for Headwater.

Trigger runs of deployed Headwater pipelines from Airflow DAGs, wait for them without
holding a worker slot, and hand their outputs to downstream tasks::

    from headwater_airflow import HeadwaterTriggerRunOperator

    train = HeadwaterTriggerRunOperator(
        task_id="train",
        pipeline="churn",
        parameters={"day": "{{ ds }}"},
        deferrable=True,
    )

The classes are importable from here or from their modules (``headwater_airflow.hooks``,
``.operators``, ``.sensors``, ``.triggers``, ``.links``); importing this package alone
imports no Airflow module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from headwater_airflow._version import __version__

if TYPE_CHECKING:
    from headwater_airflow.hooks import HeadwaterApiError, HeadwaterHook
    from headwater_airflow.links import HeadwaterRunLink
    from headwater_airflow.operators import HeadwaterTriggerRunOperator
    from headwater_airflow.sensors import HeadwaterAssetSensor, HeadwaterRunSensor
    from headwater_airflow.triggers import HeadwaterAssetTrigger, HeadwaterRunTrigger

__all__ = [
    "HeadwaterApiError",
    "HeadwaterAssetSensor",
    "HeadwaterAssetTrigger",
    "HeadwaterHook",
    "HeadwaterRunLink",
    "HeadwaterRunSensor",
    "HeadwaterRunTrigger",
    "HeadwaterTriggerRunOperator",
    "__version__",
]

_WHERE = {
    "HeadwaterApiError": "hooks",
    "HeadwaterHook": "hooks",
    "HeadwaterRunLink": "links",
    "HeadwaterTriggerRunOperator": "operators",
    "HeadwaterAssetSensor": "sensors",
    "HeadwaterRunSensor": "sensors",
    "HeadwaterAssetTrigger": "triggers",
    "HeadwaterRunTrigger": "triggers",
}


def __getattr__(name: str) -> Any:
    # Airflow reads the provider info through this package on every start: the classes
    # (and so Airflow's task SDK) are imported only when a DAG asks for one.
    if name in _WHERE:
        return getattr(import_module(f"headwater_airflow.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'headwater_airflow' has no attribute {name!r}")
