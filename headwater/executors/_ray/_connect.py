"""Connecting this process to a Ray cluster, once."""

from __future__ import annotations

import logging
import os
import socket
import threading

import ray

from headwater.errors import ConfigurationError

ADDRESS_SETTING = "HEADWATER_RAY_ADDRESS"

_connect_lock = threading.Lock()
_connected: str | None = None


def ray_address(address: str | None = None) -> str:
    """The cluster to use: ``address``, else ``HEADWATER_RAY_ADDRESS``, else Ray's own
    ``RAY_ADDRESS``, else ``auto`` (the cluster started on this machine)."""
    return (
        address or os.environ.get(ADDRESS_SETTING) or os.environ.get("RAY_ADDRESS") or "auto"
    ).strip()


def _reachable(address: str) -> str | None:
    """Why ``host:port`` cannot be reached, or None (a quick look before Ray's own,
    slower, retries)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return f"'{address}' is not HOST:PORT"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def connect(address: str | None = None) -> str:
    """Connect this process to the Ray cluster at ``address`` (see :func:`ray_address`)
    once; later calls reuse the connection. Raises ConfigurationError when it cannot."""
    global _connected
    wanted = ray_address(address)
    hint = (
        f"start a cluster with 'ray start --head' and pass its address (--ray-address, "
        f"{ADDRESS_SETTING} or RAY_ADDRESS), or 'auto' for the one started on this machine"
    )
    if wanted.startswith("ray://"):
        raise ConfigurationError(
            f"the Ray executor cannot use a Ray Client address ('{wanted}')",
            hint="run Headwater on a node of the cluster: 'ray start --address HEAD:6379 "
            "--num-cpus 0' on its machine, then use --ray-address auto",
        )
    with _connect_lock:
        if ray.is_initialized():
            if _connected not in (None, wanted) and address is not None:
                raise ConfigurationError(
                    f"this process is already connected to the Ray cluster at {_connected}, "
                    f"not {wanted}",
                    hint="use one Ray cluster per Headwater process",
                )
            return _connected or wanted
        if wanted != "auto":
            problem = _reachable(wanted)
            if problem is not None:
                raise ConfigurationError(
                    f"cannot reach the Ray cluster at {wanted}: {problem}", hint=hint
                )
        try:
            ray.init(
                address=wanted,
                namespace="headwater",
                log_to_driver=False,  # a task's output goes to its attempt's log
                logging_level=logging.WARNING,
                include_dashboard=False,
            )
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ConfigurationError(
                f"cannot connect to the Ray cluster at {wanted}: {message}", hint=hint
            ) from exc
        _connected = wanted
        return wanted
