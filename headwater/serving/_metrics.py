"""What the serving front counts: Prometheus metrics per model and version, served as
``GET /metrics`` on the REST port, and a sampled access log.

Metrics (labels ``model`` and ``version`` on each)::

    headwater_serving_requests_total{protocol, outcome}   outcome: ok, client_error, server_error
    headwater_serving_errors_total{protocol, status}      every answer that is not a success
    headwater_serving_request_duration_seconds{protocol}  a histogram, request in to answer out
    headwater_serving_batch_size                          a histogram of requests per batch
                                                          (1 for each unbatched request)
    headwater_serving_in_flight_requests                  a gauge

Only requests for a model version served here are counted (a request for an unknown model
is answered with a 404 and not counted: its name is the client's, and labels must not
grow with what clients send). Each server has a registry of its own, so that two servers
in one process (tests) never share counts.

The access log writes one line to stderr for a sampled fraction of the requests
(``--access-log-sample``, 0 by default)::

    headwater serve: access id=ID model=NAME version=V protocol=rest status=200 latency_ms=0.41
"""

from __future__ import annotations

import random
import sys
import time
from typing import IO, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

#: Latency buckets, in seconds: from a fraction of a millisecond (one row on a fast
#: model) to seconds (a big batch, a model restarting).
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "server_error"


class Metrics:
    """One server's metrics and access log; ``access_log_sample``: the fraction of
    requests logged (0 to 1)."""

    def __init__(self, access_log_sample: float = 0.0, log: IO[str] | None = None) -> None:
        if not 0.0 <= access_log_sample <= 1.0:
            raise ValueError(f"the access log sample {access_log_sample} is not within 0 to 1")
        self.sample = access_log_sample
        self._log = log
        self.registry = CollectorRegistry(auto_describe=False)
        labels = ["model", "version"]
        self.requests = Counter(
            "headwater_serving_requests",
            "Inference requests answered, by protocol and outcome.",
            [*labels, "protocol", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "headwater_serving_errors",
            "Inference requests answered with an error, by protocol and HTTP status.",
            [*labels, "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "headwater_serving_request_duration_seconds",
            "Time from a request's arrival to its answer.",
            [*labels, "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "headwater_serving_batch_size",
            "Requests per call on a model worker (1 without batching).",
            labels,
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "headwater_serving_in_flight_requests",
            "Inference requests received and not yet answered.",
            labels,
            registry=self.registry,
        )
        # Label lookups cost microseconds; a request should not pay them each time.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric._name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def begin(self, model: str, version: str) -> float:
        """A request for ``model`` ``version`` has arrived: its start time."""
        self._child(self.in_flight, model, version).inc()
        return time.perf_counter()

    def end(
        self,
        model: str,
        version: str,
        protocol: str,
        started: float,
        status: int,
        request_id: str = "",
    ) -> None:
        """The request ``begin`` started is answered with ``status`` (HTTP's numbers)."""
        took = time.perf_counter() - started
        self._child(self.in_flight, model, version).dec()
        outcome = outcome_of(status)
        self._child(self.requests, model, version, protocol, outcome).inc()
        self._child(self.latency, model, version, protocol).observe(took)
        if outcome != "ok":
            self._child(self.errors, model, version, protocol, str(status)).inc()
        if self.sample and random.random() < self.sample:
            log = self._log or sys.stderr
            shown = "".join(c if c.isprintable() and not c.isspace() else "?" for c in request_id)
            print(
                f"headwater serve: access id={shown[:128] or '-'} model={model} "
                f"version={version} protocol={protocol} status={status} "
                f"latency_ms={took * 1000:.2f}",
                file=log,
                flush=True,
            )

    def batch(self, model: str, version: str, size: int) -> None:
        self._child(self.batch_size, model, version).observe(size)

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return generate_latest(self.registry)
