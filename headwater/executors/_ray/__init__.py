"""The Ray executor: every task attempt is a Ray task on a Ray cluster (docs/adr/0013).

Each attempt is one Ray task with ``max_retries=0`` (retries are Headwater's: one policy,
one state machine) asking Ray for the attempt's CPUs (one when it asks for none, as Ray's
own tasks do), GPUs, memory, accelerator type and custom resources. On the node Ray picks,
the Ray task runs the attempt the way the local executor does, by driving a
:class:`~headwater.executors.LocalExecutor` of its own: forked from a warm worker, or
``python -m headwater.runtime INPUT`` in a fresh interpreter; in its own session, its
output going to the attempt's log, with a scrubbed environment and
``CUDA_VISIBLE_DEVICES`` set to the GPUs Ray gave it; its timeout and memory request are
enforced there. The Ray task is a generator: it yields once when the task process has
started (its pid and node) and once when it has ended (exit status, why it was stopped,
peak memory, wall time).

A Ray worker that dies (a forced cancel, a crash, its node going away) cannot stop what
it started, and Ray kills only a dead worker's direct children. So each Ray worker
starts, once, a small guard process outside its own process tree, and tells it the
process group of each task it runs; when the worker's end of the pipe closes, the guard
kills every group it still holds.

The engine's process connects to the cluster (``ray.init``) once. Task files (input,
output, log) and artifacts are read and written where the engine put them, so on a
cluster of more than one host ``HEADWATER_HOME`` and ``HEADWATER_ARTIFACT_ROOT`` must be
reachable from every node: the executor checks that and refuses to start otherwise.
"""

from headwater.executors._ray._cluster import check_shared_storage, hosts_blind_to, live_nodes
from headwater.executors._ray._connect import ADDRESS_SETTING, connect, ray_address
from headwater.executors._ray._executor import RayExecutor

__all__ = [
    "ADDRESS_SETTING",
    "RayExecutor",
    "check_shared_storage",
    "connect",
    "hosts_blind_to",
    "live_nodes",
    "ray_address",
]
