"""Per-component and per-task options: parsed and checked into spec-shaped dicts."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from headwater.errors import DefinitionError, Location
from headwater.sdk._assets import asset_name
from headwater.sdk._notify import notification_specs
from headwater.sdk._requirements import parse_requirements_text, requirement_problem
from headwater.sdk._secrets import REF_NAME_HINT, ref_name_problem

# Airflow's 13 trigger rules, as the spec's TriggerRule (tests/sdk pin them equal).
TRIGGER_RULES = (
    "all_success",
    "all_failed",
    "all_done",
    "all_done_min_one_success",
    "all_done_setup_success",
    "all_skipped",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "always",
)

OPTION_NAMES = (
    "retries",
    "retry_delay",
    "retry_backoff",
    "retry_max_delay",
    "timeout",
    "cache",
    "cache_ttl",
    "cpu",
    "memory",
    "gpu",
    "accelerator",
    "resources",
    "env",
    "display_name",
    "packages",
    "requirements",
    "image",
    "trigger_rule",
    "setup",
    "teardown",
    "on_failure_fail_run",
    "fresh_interpreter",
    "pool",
    "pool_slots",
    "priority",
    "assets",
    "register",
    "notify",
    "secrets",
    "connections",
    "variables",
    "poke_interval",
    "wait_timeout",
    "soft_fail",
    "exponential_backoff",
    "max_poke_interval",
    "updates_asset",
)

# The same rule as headwater/spec/_validate/_common.py (which the SDK must not import
# at `import headwater` time); tests/spec/test_validate_pools_assets.py pins them equal.
POOL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?)?B?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "KI": 2**10,
    "MI": 2**20,
    "GI": 2**30,
    "TI": 2**40,
    "PI": 2**50,
}


def _fail(message: str, where: Location, hint: str | None = None) -> DefinitionError:
    return DefinitionError(message, location=where, hint=hint)


def parse_duration(value: Any, what: str, where: Location) -> float:
    """Seconds from a number, a timedelta, or text such as '90s', '5m', '1h30m', '2d'."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (m := _DURATION.match(value)):
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = d * 86400 + h * 3600 + mi * 60 + s
    else:
        raise _fail(
            f"{what} {value!r} is not a duration",
            where,
            "use seconds (30), a timedelta, or text like '90s', '5m', '1h30m', '2d'",
        )
    if not math.isfinite(seconds):
        raise _fail(
            f"{what} {value!r} is not a finite number of seconds",
            where,
            "use seconds (30), a timedelta, or text like '90s', '5m', '1h30m', '2d'",
        )
    if seconds < 0:
        raise _fail(
            f"{what} must not be negative, got {value!r}", where, "use a duration of zero or more"
        )
    return seconds


_RESOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
_BUILT_IN = {"cpu": "cpu=", "gpu": "gpu=", "memory": "memory=", "object_store_memory": None}


def _custom_resources(value: Any, where: Location) -> dict[str, float]:
    """``resources={"name": amount}``: resources the executor's nodes declare."""
    hint = "use e.g. resources={'fast_disk': 1}"
    if not isinstance(value, dict) or not value:
        raise _fail(
            f"resources must be a non-empty dict of name to amount, got {value!r}", where, hint
        )
    out: dict[str, float] = {}
    for name, amount in value.items():
        if not isinstance(name, str) or not _RESOURCE_NAME.match(name):
            raise _fail(f"resource name {name!r} is not a name", where, hint)
        if name.lower() in _BUILT_IN:
            use = _BUILT_IN[name.lower()]
            raise _fail(
                f"resources names '{name}', which is not a custom resource",
                where,
                f"use {use}" if use else "leave it out",
            )
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            raise _fail(f"resource '{name}' needs a positive amount, got {amount!r}", where, hint)
        out[name] = float(amount)
    return out


def parse_memory(value: Any, where: Location) -> int:
    """Bytes from an int or text such as '512Mi', '4G', '2GiB'."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _MEMORY.match(value)):
        size = int(float(m.group(1)) * _UNITS[(m.group(2) or "").upper()])
    else:
        raise _fail(
            f"memory {value!r} is not a size",
            where,
            "use bytes (an int) or text like '512Mi', '4G', '16GiB'",
        )
    if size <= 0:
        raise _fail(
            f"memory must be positive, got {value!r}", where, "use e.g. memory='512Mi' or '4Gi'"
        )
    return size


def normalize(raw: dict[str, Any], where: Location, base_dir: str | None = None) -> dict[str, Any]:
    """Turn user-facing option keywords into the spec's TaskOptions shape (only keys set).

    A ``requirements`` file is read now, relative to ``base_dir`` (the folder of the file
    the option is written in), into ``packages``."""
    unknown = sorted(set(raw) - set(OPTION_NAMES))
    if unknown:
        raise _fail(
            f"unknown option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            where,
            "valid options are: " + ", ".join(OPTION_NAMES),
        )
    out: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    if (n := raw.get("retries")) is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise _fail(
                f"retries must be a whole number >= 0, got {n!r}",
                where,
                "use e.g. retries=3, or 0 for none",
            )
        retry["max_retries"] = n
    if (d := raw.get("retry_delay")) is not None:
        retry["delay_seconds"] = parse_duration(d, "retry_delay", where)
    if (b := raw.get("retry_backoff")) is not None:
        if b is True:
            b = 2.0
        elif b is False:
            b = 1.0
        if not isinstance(b, int | float) or b < 1:
            raise _fail(
                f"retry_backoff must be True, False or a factor >= 1, got {b!r}",
                where,
                "retry_backoff=2.0 doubles the wait after each failed attempt",
            )
        retry["backoff_factor"] = float(b)
    if (md := raw.get("retry_max_delay")) is not None:
        retry["max_delay_seconds"] = parse_duration(md, "retry_max_delay", where)
    if retry:
        out["retry"] = retry
    if (t := raw.get("timeout")) is not None:
        seconds = parse_duration(t, "timeout", where)
        if seconds <= 0:
            raise _fail(
                f"timeout must be positive, got {t!r}",
                where,
                "use e.g. timeout='30m', or leave it out for no timeout",
            )
        out["timeout_seconds"] = seconds
    _sensor(raw, out, where)
    cache: dict[str, Any] = {}
    if (c := raw.get("cache")) is not None:
        if not isinstance(c, bool):
            raise _fail(
                f"cache must be True or False, got {c!r}",
                where,
                "use cache=False to turn caching off",
            )
        cache["enabled"] = c
    if (ttl := raw.get("cache_ttl")) is not None:
        seconds = parse_duration(ttl, "cache_ttl", where)
        if seconds <= 0:
            raise _fail(
                f"cache_ttl must be positive, got {ttl!r}",
                where,
                "use e.g. cache_ttl='7d', or leave it out to never expire",
            )
        cache["ttl_seconds"] = seconds
    if cache:
        out["cache"] = cache
    res: dict[str, Any] = {}
    if (cpu := raw.get("cpu")) is not None:
        if isinstance(cpu, str) and cpu.endswith("m") and cpu[:-1].isdigit():
            cpu = int(cpu[:-1]) / 1000
        if isinstance(cpu, bool) or not isinstance(cpu, int | float) or cpu <= 0:
            raise _fail(
                f"cpu must be a positive number of cores, got {cpu!r}",
                where,
                "use e.g. cpu=2, cpu=0.5 or cpu='500m'",
            )
        res["cpu"] = float(cpu)
    if (mem := raw.get("memory")) is not None:
        res["memory_bytes"] = parse_memory(mem, where)
    if (gpu := raw.get("gpu")) is not None:
        if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
            raise _fail(
                f"gpu must be a whole number of devices >= 0, got {gpu!r}", where, "use e.g. gpu=1"
            )
        res["gpu"] = gpu
    if (acc := raw.get("accelerator")) is not None:
        if not isinstance(acc, str) or not acc:
            raise _fail(
                f"accelerator must be a name, got {acc!r}",
                where,
                "use e.g. accelerator='nvidia-h100'",
            )
        res["accelerator"] = acc
    if (custom := raw.get("resources")) is not None:
        res["custom"] = _custom_resources(custom, where)
    if res:
        out["resources"] = res
    if (env := raw.get("env")) is not None:
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise _fail(
                "env must be a dict of str to str", where, "use e.g. env={'LOG_LEVEL': 'debug'}"
            )
        out["env"] = {k: str(v) for k, v in env.items()}
    if (dn := raw.get("display_name")) is not None:
        if not isinstance(dn, str):
            raise _fail(
                f"display_name must be a str, got {dn!r}",
                where,
                "use a short label such as 'Train model'",
            )
        out["display_name"] = dn
    if (pk := raw.get("packages")) is not None:
        if isinstance(pk, str) or not all(isinstance(p, str) for p in pk):
            raise _fail(
                f"packages must be a list of requirement strings, got {pk!r}",
                where,
                "for example packages=['scikit-learn>=1.4', 'pandas']",
            )
        for line in pk:
            problem = requirement_problem(line)
            if problem:
                raise _fail(
                    f"packages entry {line!r} {problem}",
                    where,
                    "list requirements from the package index, e.g. packages=['pandas>=2.1']",
                )
        out["packages"] = [" ".join(p.split()) for p in pk]
    if (req := raw.get("requirements")) is not None:
        out["packages"] = [*out.get("packages", []), *read_requirements(req, where, base_dir)]
    if (img := raw.get("image")) is not None:
        if not isinstance(img, str) or not img:
            raise _fail(
                f"image must be an image name, got {img!r}",
                where,
                "use e.g. image='python:3.11-slim'",
            )
        out["image"] = img
    if (tr := raw.get("trigger_rule")) is not None:
        value = getattr(tr, "value", tr)
        if value not in TRIGGER_RULES:
            raise _fail(
                f"unknown trigger_rule {tr!r}",
                where,
                "use one of: " + ", ".join(TRIGGER_RULES),
            )
        out["trigger_rule"] = value
    _setup_teardown(raw, out, where)
    if (fi := raw.get("fresh_interpreter")) is not None:
        if not isinstance(fi, bool):
            raise _fail(
                f"fresh_interpreter must be True or False, got {fi!r}",
                where,
                "use fresh_interpreter=True for tasks that cannot run in a forked worker",
            )
        out["fresh_interpreter"] = fi
    _scheduling(raw, out, where)
    return out


def _setup_teardown(raw: dict[str, Any], out: dict[str, Any], where: Location) -> None:
    """``setup=``, ``teardown=`` and ``on_failure_fail_run=`` (Airflow's setup/teardown)."""
    for key in ("setup", "teardown", "on_failure_fail_run"):
        if (flag := raw.get(key)) is not None:
            if not isinstance(flag, bool):
                raise _fail(
                    f"{key} must be True or False, got {flag!r}",
                    where,
                    f"use {key}=True, or leave it out",
                )
            out[key] = flag
    if out.get("setup") and out.get("teardown"):
        raise _fail(
            "a task cannot be both a setup and a teardown",
            where,
            "make one task the setup (setup=True) and another its teardown "
            "(teardown=True, after the setup)",
        )


def read_requirements(path: Any, where: Location, base_dir: str | None) -> list[str]:
    """The requirement lines of the file at ``path`` (relative to ``base_dir``)."""
    import os

    if not isinstance(path, str | os.PathLike) or not str(path):
        raise _fail(
            f"requirements must be the path of a requirements file, got {path!r}",
            where,
            "use e.g. requirements='requirements/train.txt' (relative to this file)",
        )
    full = os.path.join(base_dir or os.getcwd(), os.fspath(path))
    try:
        with open(full, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise _fail(
            f"cannot read requirements file {os.fspath(path)!r} ({exc.strerror or exc})",
            where,
            "the path is relative to the file that sets requirements=",
        ) from None
    lines = []
    for number, line in parse_requirements_text(text):
        problem = requirement_problem(line)
        if problem:
            raise _fail(
                f"requirements file {os.fspath(path)!r}, line {number}: {line!r} {problem}",
                where,
                "list requirements from the package index only (no -e, --index-url or local paths)",
            )
        lines.append(line)
    return lines


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scheduling(raw: dict[str, Any], out: dict[str, Any], where: Location) -> None:
    """Pools, priority, assets and notifications: how a task competes and what it tells."""
    if (pool := raw.get("pool")) is not None:
        if not isinstance(pool, str) or not POOL_RE.fullmatch(pool):
            raise _fail(
                f"pool must be a name of 1 to 64 letters, digits, '_', '-' or '.', got {pool!r}",
                where,
                "use e.g. pool='gpu'; create the pool with its number of slots where the "
                "pipeline runs",
            )
        out["pool"] = pool
    if (slots := raw.get("pool_slots")) is not None:
        if not _whole(slots) or slots < 1:
            raise _fail(
                f"pool_slots must be a whole number >= 1, got {slots!r}",
                where,
                "a task holds pool_slots slots of its pool while it runs; use e.g. pool_slots=2",
            )
        out["pool_slots"] = slots
    if (prio := raw.get("priority")) is not None:
        if not _whole(prio):
            raise _fail(
                f"priority must be a whole number, got {prio!r}",
                where,
                "higher runs first when tasks wait for pool slots or concurrency limits; "
                "use e.g. priority=10 (the default is 0)",
            )
        out["priority"] = prio
    if (assets := raw.get("assets")) is not None:
        if not isinstance(assets, dict) or not all(isinstance(k, str) for k in assets):
            raise _fail(
                f"assets must map output names to assets, got {assets!r}",
                where,
                "use e.g. assets={'model': Asset('models://churn')}",
            )
        out["assets"] = {
            output: asset_name(value, f"asset of output '{output}'", where)
            for output, value in assets.items()
        }
    if (register := raw.get("register")) is not None:
        from headwater.sdk._models import MODEL_NAME_RE

        if not isinstance(register, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in register.items()
        ):
            raise _fail(
                f"register must map output names to model names, got {register!r}",
                where,
                "use e.g. register={'model': 'churn'}",
            )
        for output, model in register.items():
            if not MODEL_NAME_RE.match(model):
                raise _fail(
                    f"register names model {model!r} for output '{output}', which is not a "
                    "valid model name",
                    where,
                    "use 1 to 128 letters, digits, '_', '.' or '-', e.g. register={'model': "
                    "'churn'}",
                )
        out["register_models"] = dict(register)
    if "notify" in raw and raw["notify"] is not None:
        out["notifications"] = notification_specs(raw["notify"], where, task=True)
    _references(raw, out, where)


def _references(raw: dict[str, Any], out: dict[str, Any], where: Location) -> None:
    """``secrets=``, ``connections=``, ``variables=``: names only; the values are read from
    the store when an attempt starts and never enter the spec."""
    for key in ("secrets", "connections", "variables"):
        names = raw.get(key)
        if names is None:
            continue
        example = f"{key}=['warehouse']"
        if isinstance(names, str) or not isinstance(names, list | tuple):
            raise _fail(
                f"{key} must be a list of names, got {names!r}",
                where,
                f"use e.g. {example}; set the values with 'headwater {key} ...'",
            )
        seen: set[str] = set()
        for name in names:
            problem = ref_name_problem(name)
            if problem:
                raise _fail(f"{key}: {problem}", where, REF_NAME_HINT)
            if name.upper() in seen:
                raise _fail(
                    f"{key} names {name!r} twice (names are compared without case)",
                    where,
                    f"list each of the {key} once",
                )
            seen.add(name.upper())
        out[key] = list(names)


def _sensor(raw: dict[str, Any], out: dict[str, Any], where: Location) -> None:
    """A sensor's policy: how often it checks, for how long, and how it ends."""
    policy: dict[str, Any] = {}
    for word, key in (
        ("poke_interval", "poke_interval_seconds"),
        ("wait_timeout", "timeout_seconds"),
        ("max_poke_interval", "max_interval_seconds"),
    ):
        if (v := raw.get(word)) is not None:
            seconds = parse_duration(v, word, where)
            if seconds <= 0:
                raise _fail(
                    f"{word} must be positive, got {v!r}",
                    where,
                    f"use e.g. {word}='30s' or '2h'",
                )
            policy[key] = seconds
    for word in ("soft_fail", "exponential_backoff"):
        if (v := raw.get(word)) is not None:
            if not isinstance(v, bool):
                raise _fail(f"{word} must be True or False, got {v!r}", where)
            policy[word] = v
    if (a := raw.get("updates_asset")) is not None:
        policy["updates_asset"] = asset_name(a, "updates", where)
    if policy:
        out["sensor"] = policy


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` laid over it; nested policies merge key by key."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
