"""Prometheus exposition, read from the database when scraped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector


class _StoreCollector(Collector):
    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self.state.ws.store
        runs, tasks = store.queries.counts_by_status()
        g = GaugeMetricFamily("headwater_runs", "Runs by status.", labels=["status"])
        for status, n in sorted(runs.items()):
            g.add_metric([status], n)
        yield g
        g = GaugeMetricFamily(
            "headwater_task_attempts", "Task attempts by status.", labels=["status"]
        )
        for status, n in sorted(tasks.items()):
            g.add_metric([status], n)
        yield g
        used = GaugeMetricFamily("headwater_pool_slots_used", "Pool slots in use.", labels=["pool"])
        total = GaugeMetricFamily(
            "headwater_pool_slots", "Pool slots (-1: unlimited).", labels=["pool"]
        )
        for pool in store.pools.list():
            used.add_metric([pool.name], pool.occupied)
            total.add_metric([pool.name], -1 if pool.slots is None else pool.slots)
        yield used
        yield total
        yield GaugeMetricFamily(
            "headwater_server_uptime_seconds",
            "Seconds since the server started.",
            value=time.time() - self.state.started_at,
        )


def render(state: Any) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(_StoreCollector(state))
    return generate_latest(registry), CONTENT_TYPE_LATEST
