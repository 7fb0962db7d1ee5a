"""What a served model version may take: how long a request may run on its worker, and
how much memory its worker may hold.

``--request-timeout`` (the load parameter ``request_timeout``): a worker that has not
answered a request within that many seconds is killed (a hung model must not hold its
slot forever) and started again; the request gets a 504 (gRPC DEADLINE_EXCEEDED).

``--worker-memory-mb`` (``worker_memory_mb``): each worker of the version runs under
``RLIMIT_DATA`` of that many MiB, set in the worker before it loads the model.
``RLIMIT_DATA`` (Linux 4.7 and later) counts the private writable memory a process has
mapped: the heap, numpy's arrays, thread stacks, what the worker inherited from the
zygote; not the shared libraries' code, and not glibc's reserved-but-unused arenas,
which is why ``RLIMIT_AS`` is not used (it counts both, and breaks threads far below
the memory actually used). An allocation past the limit raises ``MemoryError`` in the
model: that request gets a 500 that names the limit and the worker answers on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from headwater.errors import ServingError

#: The default --request-timeout: generous for an inference, short of forever.
DEFAULT_REQUEST_TIMEOUT = 60.0
_TIMEOUT_HINT = "give a number of seconds above 0, e.g. 30 or 2.5"
_MEMORY_HINT = "give a whole number of MiB, e.g. 2048"


@dataclass(frozen=True, slots=True)
class Limits:
    """``request_timeout``: seconds a worker may take to answer one request (None: no
    limit); ``memory_mb``: MiB of private memory each worker may map (None: no limit)."""

    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    memory_mb: int | None = None

    def with_parameters(self, parameters: dict[str, Any]) -> Limits:
        """These limits, with what the repository API's load parameters
        ``request_timeout`` and ``worker_memory_mb`` say instead; a 400 for a bad value."""
        timeout, memory = self.request_timeout, self.memory_mb
        if parameters.get("request_timeout") is not None:
            timeout = seconds(parameters["request_timeout"], "request_timeout")
        if parameters.get("worker_memory_mb") is not None:
            memory = megabytes(parameters["worker_memory_mb"], "worker_memory_mb")
        return Limits(timeout, memory)


def seconds(value: Any, name: str) -> float:
    """``value`` (a number, or its text) as a positive, finite number of seconds."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        raise ServingError(400, f"{name} {value!r} is not a number", hint=_TIMEOUT_HINT)
    if not 0 < number < math.inf:
        raise ServingError(
            400, f"{name} {value!r} must be more than 0 seconds, and finite", hint=_TIMEOUT_HINT
        )
    return number


def megabytes(value: Any, name: str) -> int:
    """``value`` (a whole number, or its text) as a positive number of MiB."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise ServingError(400, f"{name} {value!r} is not a whole number", hint=_MEMORY_HINT)
    if number < 1:
        raise ServingError(400, f"{name} {value!r} must be at least 1 MiB", hint=_MEMORY_HINT)
    return number
