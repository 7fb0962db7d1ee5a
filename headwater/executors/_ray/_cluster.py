"""The cluster seen from the engine: its nodes, what a request asks of them, why no node
can meet one, and whether every host sees the folders tasks read and write."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any

import ray
import ray.exceptions
import ray.util.scheduling_strategies

from headwater._config import Settings
from headwater.errors import ConfigurationError
from headwater.executors._base import Resources
from headwater.executors._ray._node import remote_function

# How long the shared-storage probe waits for its Ray tasks.
PROBE_SECONDS = 30.0


def live_nodes() -> list[dict[str, Any]]:
    """Ray's records of the cluster's live nodes."""
    nodes: list[dict[str, Any]] = ray.nodes()
    return [n for n in nodes if n.get("Alive")]


def demand_of(r: Resources) -> dict[str, float]:
    """What the Ray task of a request asks the cluster for, by Ray resource name."""
    demand = {"CPU": r.cpu or 1.0}
    if r.gpu:
        demand["GPU"] = float(r.gpu)
    if r.memory:
        demand["memory"] = float(r.memory)
    if r.accelerator:
        demand[f"accelerator_type:{r.accelerator}"] = 0.001
    for name, amount in r.custom.items():
        demand[name] = float(amount)
    return demand


def fits(demand: Mapping[str, float], free: Mapping[str, float]) -> bool:
    return all(free.get(k, 0.0) + 1e-9 >= v for k, v in demand.items())


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def refusal(r: Resources, nodes: list[Mapping[str, float]]) -> str:
    """Why no node of ``nodes`` (their total resources) can ever run a request."""
    most = {k: max((n.get(k, 0.0) for n in nodes), default=0.0) for k in demand_of(r)}
    if not nodes:
        return "cannot run: the Ray cluster has no live node"
    demand = demand_of(r)
    if demand["CPU"] > most["CPU"]:
        return (
            f"asks for {demand['CPU']:g} CPUs but no node of the Ray cluster has more "
            f"than {most['CPU']:g}"
        )
    if r.gpu and r.gpu > most["GPU"]:
        return (
            f"asks for {r.gpu} GPU(s) but no node of the Ray cluster has more than {most['GPU']:g}"
        )
    if r.memory and r.memory > most["memory"]:
        return (
            f"asks for {_gib(r.memory)} of memory but no node of the Ray cluster offers "
            f"more than {_gib(most['memory'])} to tasks"
        )
    if r.accelerator and not most[f"accelerator_type:{r.accelerator}"]:
        return f"asks for accelerator '{r.accelerator}' but no node of the Ray cluster has one"
    for name, amount in r.custom.items():
        if amount > most[name]:
            have = f"more than {most[name]:g}" if most[name] else "it"
            return (
                f"asks for resource '{name}' = {amount:g} but no node of the Ray cluster has {have}"
            )
    return (
        f"asks for {', '.join(f'{k}={v:g}' for k, v in demand.items())}, but no single node "
        "of the Ray cluster has all of it"
    )


def _is_local_path(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _local_path(url: str) -> str:
    return url[len("file://") :] if url.startswith("file://") else url


def hosts_blind_to(path: str, nodes: list[dict[str, Any]]) -> list[str]:
    """The hosts of ``nodes`` (one node of each is asked) on which ``path`` does not exist."""
    sees = remote_function("sees")
    refs = {}
    for node in one_node_per_host(nodes):
        strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            node["NodeID"], soft=False
        )
        refs[node["NodeManagerHostname"]] = sees.options(
            num_cpus=0, scheduling_strategy=strategy
        ).remote(path)
    blind = []
    for host, ref in refs.items():
        try:
            if not ray.get(ref, timeout=PROBE_SECONDS):
                blind.append(host)
        except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
            blind.append(host)
    return sorted(blind)


def _probe_shared(folder: str, nodes: list[dict[str, Any]]) -> list[str]:
    """The hosts of ``nodes`` that do not see a file written to ``folder`` here."""
    os.makedirs(folder, exist_ok=True)
    marker = os.path.join(folder, f".headwater-probe-{uuid.uuid4().hex}")
    with open(marker, "w"):
        pass
    try:
        return hosts_blind_to(marker, nodes)
    finally:
        with contextlib.suppress(OSError):
            os.remove(marker)


def one_node_per_host(nodes: list[dict[str, Any]], skip: str | None = None) -> list[dict[str, Any]]:
    by_host: dict[str, dict[str, Any]] = {}
    for node in nodes:
        host = node["NodeManagerHostname"]
        if host != skip:
            by_host.setdefault(host, node)
    return list(by_host.values())


_shared_checked: set[tuple[str, ...]] = set()


def check_shared_storage(nodes: list[dict[str, Any]], settings: Settings | None = None) -> None:
    """Refuse a cluster of several hosts when a local folder the tasks read and write
    (``HEADWATER_HOME``, a local ``HEADWATER_ARTIFACT_ROOT``) is not seen by all of them."""
    here = socket.gethostname()
    hosts = {n["NodeManagerHostname"] for n in nodes} | {here}
    if len(hosts) < 2:
        return
    s = settings or Settings.from_env()
    folders = [("HEADWATER_HOME", str(s.home))]
    if _is_local_path(s.artifact_root):
        folders.append(("HEADWATER_ARTIFACT_ROOT", _local_path(s.artifact_root)))
    key = (*sorted(hosts), *(f for _, f in folders))
    if key in _shared_checked:
        return
    others = one_node_per_host(nodes, skip=here)
    for setting, folder in folders:
        blind = _probe_shared(folder, others)
        if blind:
            raise ConfigurationError(
                f"{setting} is {folder}, a folder that the Ray nodes on "
                f"{', '.join(sorted(blind))} cannot see; on a Ray cluster of several hosts "
                "every node reads and writes the task files and artifacts there",
                hint="set HEADWATER_ARTIFACT_ROOT to an object store (s3://..., gs://...) "
                "or a shared filesystem, and HEADWATER_HOME to a folder on a shared "
                "filesystem mounted at the same path on every node",
            )
    _shared_checked.add(key)
