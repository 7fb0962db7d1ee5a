"""Per-step environments: virtual environments built with uv, content-addressed by the
interpreter and the fully pinned requirement set (a lock), built once under
``HEADWATER_ENVS_DIR`` (default ``$HEADWATER_HOME/envs``) and shared by every step and
run that needs the same set (docs/adr/0014).

- :func:`resolve` turns requested requirements into a :class:`Lock` (cached).
- :func:`build` makes the environment of a lock (once, under a file lock) and
  :class:`Lease` marks it in use; :func:`shim_dir` makes Headwater importable in it.
- :func:`list_envs` and :func:`prune` are ``headwater envs list|prune``.
"""

from headwater.envs._build import Lease, Venv, build, env_path, is_built, shim_dir
from headwater.envs._catalog import EnvInfo, Pruned, list_envs, prune
from headwater.envs._lock import Lock, lock_digest, normalize_requirements, resolve
from headwater.envs._paths import DIR_SETTING, TTL_SETTING, envs_dir, interpreter_tag
from headwater.envs._uv import Report, uv_binary

__all__ = [
    "DIR_SETTING",
    "TTL_SETTING",
    "EnvInfo",
    "Lease",
    "Lock",
    "Pruned",
    "Report",
    "Venv",
    "build",
    "env_path",
    "envs_dir",
    "interpreter_tag",
    "is_built",
    "list_envs",
    "lock_digest",
    "normalize_requirements",
    "prune",
    "resolve",
    "shim_dir",
    "uv_binary",
]
