"""The limits on what a request can make Headwater do, with their defaults.

Each limit is read from a ``HEADWATER_*`` environment variable and, where a command takes
options (``headwater server``, ``standalone``, ``scheduler``), from a flag that overrides
it. A process reads them once (:func:`limits`); a command that takes flags sets them
with :func:`configure` before it serves anything. Every refusal names the limit and how
to raise it (:func:`how_to_raise`), so an operator never has to guess.

Limits are a policy of the process that applies them: the server checks request bodies,
parameter values and schedule edits; whoever renders templates (server, scheduler, CLI)
bounds the render; ``headwater deploy`` and ``schedules set`` check schedule intervals,
and the scheduler refuses to run a schedule that is more frequent than it allows.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headwater.errors import ConfigurationError

__all__ = ["LIMITS", "Limit", "Limits", "configure", "how_to_raise", "limits"]


@dataclass(frozen=True)
class Limit:
    """One configurable limit: its field on :class:`Limits`, variable, flag and meaning."""

    field: str
    env: str
    flag: str
    unit: str
    about: str
    integer: bool = True
    minimum: float = 1
    commands: tuple[str, ...] = ("server", "standalone")


LIMITS: tuple[Limit, ...] = (
    Limit(
        "max_request_bytes",
        "HEADWATER_MAX_REQUEST_BYTES",
        "--max-request-bytes",
        "bytes",
        "size of a request body the API reads",
        minimum=1024,
    ),
    Limit(
        "max_parameter_bytes",
        "HEADWATER_MAX_PARAMETER_BYTES",
        "--max-parameter-bytes",
        "bytes",
        "size of one run parameter value, written as JSON",
    ),
    Limit(
        "max_json_depth",
        "HEADWATER_MAX_JSON_DEPTH",
        "--max-json-depth",
        "levels",
        "nesting of lists and objects in a request body or parameter value",
        minimum=4,
    ),
    Limit(
        "max_render_seconds",
        "HEADWATER_MAX_RENDER_SECONDS",
        "--max-render-seconds",
        "seconds",
        "time one parameter template may take to render",
        integer=False,
        minimum=0.01,
        commands=("server", "standalone", "scheduler"),
    ),
    Limit(
        "max_render_bytes",
        "HEADWATER_MAX_RENDER_BYTES",
        "--max-render-bytes",
        "bytes",
        "size of what one parameter template renders to",
        commands=("server", "standalone", "scheduler"),
    ),
    Limit(
        "max_render_memory_bytes",
        "HEADWATER_MAX_RENDER_MEMORY_BYTES",
        "--max-render-memory-bytes",
        "bytes",
        "memory (address space) of the process that renders templates",
        minimum=64 << 20,
        commands=("server", "standalone", "scheduler"),
    ),
    Limit(
        "min_schedule_interval",
        "HEADWATER_MIN_SCHEDULE_INTERVAL",
        "--min-schedule-interval",
        "seconds",
        "shortest time between two runs of a schedule (interval and cron)",
        integer=False,
        minimum=1,
        commands=("server", "standalone", "scheduler"),
    ),
    Limit(
        "max_runs_per_pass",
        "HEADWATER_MAX_RUNS_PER_PASS",
        "--max-runs-per-pass",
        "runs",
        "runs one scheduler pass creates for one schedule (a long catchup is spread over passes)",
        commands=("standalone", "scheduler"),
    ),
    Limit(
        "max_bundle_bytes",
        "HEADWATER_MAX_BUNDLE_BYTES",
        "--max-bundle-bytes",
        "bytes",
        "size of a source bundle that 'headwater deploy --server' uploads, packed and unpacked",
        minimum=1024,
    ),
    Limit(
        "max_bundle_files",
        "HEADWATER_MAX_BUNDLE_FILES",
        "--max-bundle-files",
        "files",
        "entries (files and folders) in one source bundle",
    ),
    Limit(
        "max_compile_seconds",
        "HEADWATER_MAX_COMPILE_SECONDS",
        "--max-compile-seconds",
        "seconds",
        "time the process that imports and compiles an uploaded pipeline may take",
        integer=False,
        minimum=0.5,
    ),
    Limit(
        "max_compile_memory_bytes",
        "HEADWATER_MAX_COMPILE_MEMORY_BYTES",
        "--max-compile-memory-bytes",
        "bytes",
        "private memory (RLIMIT_DATA) of the process that compiles an uploaded pipeline",
        minimum=64 << 20,
    ),
    Limit(
        "max_backfill_runs",
        "HEADWATER_MAX_BACKFILL_RUNS",
        "--max-backfill-runs",
        "runs",
        "runs one backfill creates",
    ),
)
_BY_FIELD = {limit.field: limit for limit in LIMITS}


@dataclass(frozen=True)
class Limits:
    """The limits in force; the defaults suit a shared server."""

    max_request_bytes: int = 1 << 20
    max_parameter_bytes: int = 256 << 10
    max_json_depth: int = 32
    max_render_seconds: float = 1.0
    max_render_bytes: int = 64 << 10
    max_render_memory_bytes: int = 512 << 20
    min_schedule_interval: float = 60.0
    max_runs_per_pass: int = 100
    max_backfill_runs: int = 1000
    max_bundle_bytes: int = 16 << 20
    max_bundle_files: int = 1000
    max_compile_seconds: float = 60.0
    max_compile_memory_bytes: int = 1 << 30

    def __post_init__(self) -> None:
        for limit in LIMITS:
            value = getattr(self, limit.field)
            bad = isinstance(value, bool) or not isinstance(value, int | float)
            if bad or not math.isfinite(value) or value < limit.minimum:
                raise ConfigurationError(
                    f"{limit.env} (or {limit.flag}) is {value!r}; it must be a "
                    f"{'whole ' if limit.integer else ''}number of {limit.unit} of at least "
                    f"{limit.minimum:g}",
                    hint=f"it limits the {limit.about}; leave it unset for the default "
                    f"({getattr(Limits, limit.field):g})",
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with every ``HEADWATER_*`` limit variable that is set applied."""
        env = os.environ if environ is None else environ
        given: dict[str, Any] = {
            limit.field: parse(limit, env[limit.env])
            for limit in LIMITS
            if env.get(limit.env, "").strip()
        }
        return cls(**given)

    def replace(self, **changes: float | None) -> Limits:
        """These limits with the ``changes`` that are not None (flags left out are None)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given)  # type: ignore[arg-type]


def parse(limit: Limit, text: str) -> float:
    """The value of ``limit`` written as ``text`` (from a variable or a flag)."""
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        value = math.nan
    if limit.integer and math.isfinite(value) and value == int(value):
        return int(value)
    if limit.integer or not math.isfinite(value):
        raise ConfigurationError(
            f"{limit.env} (or {limit.flag}) is {text!r}, not a "
            f"{'whole ' if limit.integer else ''}number of {limit.unit}",
            hint=f"it limits the {limit.about}; write e.g. {limit.env}="
            f"{getattr(Limits, limit.field):g}",
        )
    return value


_current: Limits | None = None
_lock = threading.Lock()


def limits() -> Limits:
    """The limits of this process: those :func:`configure` set, else the environment's."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Limits.from_env()
    return _current


def configure(new: Limits) -> Limits:
    """Make ``new`` the limits of this process (a command's flags); returns the old ones."""
    global _current
    with _lock:
        old, _current = _current or Limits.from_env(), new
    return old


def how_to_raise(field: str) -> str:
    """How an operator raises the limit ``field``: its variable and, where there is one,
    its flag."""
    limit = _BY_FIELD[field]
    commands = " / ".join(f"'headwater {c}'" for c in limit.commands)
    value = getattr(limits(), field)
    shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
    return f"set {limit.env} (or {limit.flag} of {commands}); it is {shown} {limit.unit}"
