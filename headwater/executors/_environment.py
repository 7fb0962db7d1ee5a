"""The environment a task process starts with.

A task does not inherit the engine's environment: that holds the engine's own
credentials (``HEADWATER_TOKEN``, the database URL, cloud keys), and a task's code and
log are not the place for them. A task gets a small base that programs and Python need
(:data:`BASE`, :data:`BASE_PATTERNS`), the names the operator allows in
``HEADWATER_TASK_ENV_ALLOW`` (names or shell-style globs, separated by commas or
spaces, e.g. ``AWS_*,GOOGLE_APPLICATION_CREDENTIALS``), and then what the task asks for:
its component's ``env=`` and the ``HEADWATER_RUN_ID``, ``HEADWATER_TASK``,
``HEADWATER_ATTEMPT`` (and ``CUDA_VISIBLE_DEVICES``) that the executor sets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase

from headwater.errors import ConfigurationError

ALLOW_SETTING = "HEADWATER_TASK_ENV_ALLOW"

BASE = frozenset(
    {
        # Finding programs and files, who and where the user is.
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TEMP",
        "TMP",
        # Language, encoding and time zone.
        "LANG",
        "LANGUAGE",
        "TZ",
        # The interpreter (PYTHONPATH is set by the executor).
        "PYTHONHOME",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONWARNINGS",
        "PYTHONFAULTHANDLER",
        "PYTHONNOUSERSITE",
        "VIRTUAL_ENV",
        # Shared libraries (CUDA and other native libraries are often found through it).
        "LD_LIBRARY_PATH",
        # Which certificate authorities TLS clients trust (paths, not secrets).
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)
# Locale categories, and the GPU runtime's settings (device order and visibility).
BASE_PATTERNS = ("LC_*", "CUDA_*", "NVIDIA_*")

_ENTRY = re.compile(r"[A-Za-z_*?\[][A-Za-z0-9_*?\[\]!-]*")


def allowed_patterns(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The names and globs ``HEADWATER_TASK_ENV_ALLOW`` lists; a bad entry is an error."""
    env = os.environ if environ is None else environ
    raw = env.get(ALLOW_SETTING, "")
    entries = [e for e in re.split(r"[,\s]+", raw) if e]
    for entry in entries:
        if not _ENTRY.fullmatch(entry):
            raise ConfigurationError(
                f"{ALLOW_SETTING} lists '{entry}', which is not an environment variable "
                "name or a glob of names",
                hint=f"list names or globs separated by commas, e.g. "
                f"{ALLOW_SETTING}='AWS_*,GOOGLE_APPLICATION_CREDENTIALS'",
            )
    return tuple(entries)


def base_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a task may see of ``environ`` (this process's environment by default): the
    base names and patterns, and what the operator allows."""
    env = os.environ if environ is None else environ
    patterns = (*BASE_PATTERNS, *allowed_patterns(env))
    return {
        name: value
        for name, value in env.items()
        if name in BASE or any(fnmatchcase(name, p) for p in patterns)
    }


def allowed_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` (this process's by default) that the operator lets
    tasks see (``HEADWATER_TASK_ENV_ALLOW``), without the base: what travels with a task
    to another machine, whose own base it gets there."""
    env = os.environ if environ is None else environ
    patterns = allowed_patterns(env)
    return {
        name: value for name, value in env.items() if any(fnmatchcase(name, p) for p in patterns)
    }


def task_environment(
    asked: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of a task process: the base, then what the task asks for."""
    return {**base_environment(environ), **asked}
