"""Shared pieces of the validator: names, scopes, value kinds and type rules."""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from headwater._values import text_problem
from headwater.spec._models import (
    Condition,
    ConditionGroup,
    ExitHandlerGroup,
    IOSpec,
    Logical,
    LoopGroup,
    ParamType,
    TaskOutputBinding,
    TaskSpec,
)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# headwater/sdk/_options.py keeps copies of these two (the SDK must not import the spec
# at `import headwater` time); tests/spec/test_validate_pools_assets.py pins them equal.
POOL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A copy of headwater/sdk/_secrets.py's REF_NAME_RE (pinned equal by a test).
REF_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")
REF_NAME_MAX = 64
ASSET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
ASSET_MAX_LENGTH = 512
BASE_ARTIFACT = "headwater.Artifact"

# A scope entry is (group kind, group name, branch index or -1).
Scope = tuple[tuple[str, str, int], ...]


@dataclass
class NodeInfo:
    node: TaskSpec | ConditionGroup | LoopGroup | ExitHandlerGroup
    scope: Scope
    is_exit_task: bool = False

    @property
    def path(self) -> tuple[tuple[str, str, int], ...]:
        """The scope plus the node itself, for finding where two nodes' paths part."""
        return (*self.scope, ("node", self.node.name, -1))


@dataclass
class Value:
    """What a binding delivers: an IOSpec-like description, or a constant."""

    io: IOSpec | None
    constant: Any = None
    is_constant: bool = False


def same_group(
    longer: tuple[tuple[str, str, int], ...], shorter: tuple[tuple[str, str, int], ...], i: int
) -> bool:
    """True when ``shorter`` ends at a group node that is where ``longer`` continues inside."""
    if i != len(shorter) - 1 or i >= len(longer):
        return False
    kind, name, _ = longer[i]
    return kind != "node" and name == shorter[i][1]


def path_name(entry: tuple[str, str, int]) -> str:
    return entry[1]


def condition_tasks(cond: Condition) -> Iterator[str]:
    if isinstance(cond, Logical):
        for sub in cond.operands:
            yield from condition_tasks(sub)
        return
    for side in (cond.left, cond.right):
        if isinstance(side, TaskOutputBinding):
            yield side.task


def value_kind(v: Value) -> str:
    if v.is_constant:
        c = v.constant
        if isinstance(c, bool):
            return "bool"
        if isinstance(c, int):
            return "int"
        if isinstance(c, float):
            return "float"
        if isinstance(c, str):
            return "str"
        if isinstance(c, list):
            return "list"
        if isinstance(c, dict):
            return "dict"
        return "any"
    if v.io is not None and v.io.type is not None:
        return v.io.type.kind
    return "any"


def infer_type(values: list[Any]) -> ParamType | None:
    kinds = set()
    for v in values:
        kinds.add(value_kind(Value(None, v, True)))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind in ("int", "float", "str", "bool", "list", "dict"):
            return ParamType(kind=kind)
    if kinds == {"int", "float"}:
        return ParamType(kind="float")
    return None


def assignable(src: ParamType, dst: ParamType) -> bool:
    """Whether a value of type ``src`` may be passed where ``dst`` is expected."""
    if dst.kind == "any" or src.kind == "any":
        return True
    if src.optional and not dst.optional:
        return False
    if src.kind != dst.kind:
        return src.kind == "int" and dst.kind == "float"
    if src.items is not None and dst.items is not None:
        return assignable(src.items, dst.items)
    if src.values is not None and dst.values is not None:
        return assignable(src.values, dst.values)
    return True


@functools.lru_cache(maxsize=4096)
def cron_error(expr: str) -> str | None:
    """Why ``expr`` is not a valid cron expression or preset, or one that never fires,
    or None. Remembered per expression: a scheduler checks the same few expressions for
    every schedule it loads."""
    from croniter import CroniterBadDateError, croniter

    presets = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
    if expr.startswith("@"):
        return None if expr in presets else f"unknown preset '{expr}'"
    if len(expr.split()) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(expr.split())}"
    try:
        walker = croniter(expr, datetime(2000, 1, 1))
    except (ValueError, KeyError) as exc:
        return str(exc) or "not a cron expression"
    try:
        walker.get_next(datetime)
    except (CroniterBadDateError, OverflowError):
        return "it never fires: no date matches its day-of-month and month fields"
    return None


# Interval schedules: at least a second (the scheduler looks once a second) and at most
# ten years (a longer one never comes round, and timedelta stops at 999,999,999 days).
MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 10 * 366 * 86400.0


def interval_error(seconds: float) -> str | None:
    """Why an interval schedule of ``seconds`` cannot be scheduled, or None."""
    if not math.isfinite(seconds):
        return f"the interval {seconds!r} is not a finite number of seconds"
    if seconds < MIN_INTERVAL_SECONDS:
        return f"the interval of {seconds:g} seconds is shorter than a second"
    if seconds > MAX_INTERVAL_SECONDS:
        return (
            f"the interval of {seconds:g} seconds is longer than ten years "
            f"({MAX_INTERVAL_SECONDS:,.0f} seconds)"
        )
    return None


@functools.lru_cache(maxsize=4096)
def shortest_interval(kind: str, cron: str | None, interval_seconds: float | None) -> float | None:
    """The shortest time in seconds between two runs of a schedule, or None when it has
    no regular runs (once, assets) or cannot be worked out (an invalid cron).

    For a cron this is measured on its first ticks of a year, in wall-clock time: a
    minute field of several values shows its shortest step within the first hour it
    fires, which those ticks always cover.
    """
    if kind == "interval":
        return interval_seconds
    if kind != "cron" or not cron or cron_error(cron):
        return None
    from croniter import croniter

    walker = croniter(cron, datetime(2001, 1, 1))
    ticks = [walker.get_next(datetime) for _ in range(_SAMPLED_TICKS)]
    return min((b - a).total_seconds() for a, b in itertools.pairwise(ticks))


_SAMPLED_TICKS = 100


def text_problems(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, why) for each string in ``data`` (spec data) that is not valid
    Unicode or holds a NUL, and each number that is not finite."""
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            yield path, problem
    elif isinstance(data, float) and not math.isfinite(data):
        yield path, f"is {data!r}, which is not a JSON number"
    elif isinstance(data, dict):
        for key, value in data.items():
            inner = f"{path}.{key}" if path else str(key)
            problem = text_problem(key) if isinstance(key, str) else None
            if problem:
                yield inner, f"has a name that {problem}"
                continue
            yield from text_problems(value, inner)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from text_problems(value, f"{path}[{i}]")


def asset_error(name: str) -> str | None:
    """Why ``name`` is not an asset name (``scheme://rest``, at most 512 characters), or None."""
    if len(name) > ASSET_MAX_LENGTH:
        return f"asset name is {len(name)} characters long (at most {ASSET_MAX_LENGTH})"
    if not ASSET_RE.fullmatch(name):
        return f"invalid asset name {name!r}"
    return None


def timezone_error(name: str) -> str | None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone '{name}'"
    return None
