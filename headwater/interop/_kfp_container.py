"""The container of a compiled component: its command (installs, the module, Kubeflow's
executor under ``timeout``), resources, and durations and crons in Kubeflow's forms."""

from __future__ import annotations

from typing import Any

from headwater.spec import TaskOptions

KFP_RUNTIME = "kfp==2.17.3"
"""The kfp package each component installs to run its function (``--no-deps``: only its
executor is needed)."""


def duration(seconds: float) -> str:
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


def _quantity_cpu(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{round(cpu * 1000)}m"


def _quantity_memory(size: int) -> str:
    for suffix, unit in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def resources(opts: TaskOptions) -> dict[str, Any]:
    """CPU and memory as limits (Kubernetes makes the request equal), GPUs as an accelerator."""
    res = opts.resources
    if res is None:
        return {}
    out: dict[str, Any] = {}
    if res.cpu is not None:
        out["cpuLimit"] = res.cpu
        out["resourceCpuLimit"] = _quantity_cpu(res.cpu)
    if res.memory_bytes is not None:
        out["memoryLimit"] = res.memory_bytes / 1e9
        out["resourceMemoryLimit"] = _quantity_memory(res.memory_bytes)
    if res.gpu:
        kind = res.accelerator or "nvidia.com/gpu"
        count = str(res.gpu)
        out["accelerator"] = {
            "count": count,
            "resourceCount": count,
            "resourceType": kind,
            "type": kind,
        }
    return out


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def command(packages: list[str], source: str, timeout: float | None) -> list[str]:
    """The container command of a lightweight component: install what it needs, write its
    module to a file, run Kubeflow's executor on it (within ``timeout`` seconds)."""
    installs = ""
    if packages:
        listed = " ".join(_shell_quote(p) for p in packages)
        installs = (
            "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
            f"--no-warn-script-location {listed} && "
        )
    setup = (
        '\nif ! [ -x "$(command -v pip)" ]; then\n'
        "    python3 -m ensurepip || python3 -m ensurepip --user || apt-get install python3-pip\n"
        "fi\n\n"
        f"{installs}PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
        f"--no-warn-script-location {_shell_quote(KFP_RUNTIME)} '--no-deps' && "
        '"$0" "$@"\n'
    )
    limit = f"timeout --kill-after=10 {timeout:g} " if timeout is not None else ""
    run = (
        "program_path=$(mktemp -d)\n\n"
        'printf "%s" "$0" > "$program_path/ephemeral_component.py"\n\n'
        f"_KFP_RUNTIME=true {limit}python3 -m kfp.dsl.executor_main "
        '--component_module_path "$program_path/ephemeral_component.py" "$@"\n'
    )
    return ["sh", "-c", setup, "sh", "-ec", run, source]


_CRON_PRESETS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}


def kubeflow_cron(cron: str) -> str:
    """A five-field cron (or preset) as Kubeflow's six-field one, seconds first."""
    text = cron.strip()
    if text in _CRON_PRESETS:
        return _CRON_PRESETS[text]
    fields = text.split()
    return "0 " + text if len(fields) == 5 else text
