"""A real Ray cluster on this machine, for the Ray executor's tests.

The cluster has two nodes, each a ``ray start`` of its own with its own address in
127.0.0.0/8 (127.0.0.1 itself is rewritten by Ray), so that none of its traffic leaves
this machine: a head (127.0.0.2, 2 CPUs, resource ``head_only``) and a worker
(127.0.0.3, 2 CPUs, 2 fake GPUs, resource ``special``). This test process connects to it
as a Ray driver; the cluster is stopped by the ids of its own processes (never by a name
other programs could share). Nothing of it is put in this process's environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HEAD_IP = "127.0.0.2"
WORKER_IP = "127.0.0.3"
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def _ray_env() -> dict[str, str]:
    """A small environment for the cluster's processes (they pass none of it to tasks):
    the machine's basics, and how it trusts TLS and finds packages, which a node building
    a per-step environment needs as any machine would."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        (k, v)
        for k, v in os.environ.items()
        if k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HEADWATER_ENVS_DIR")
        or k.startswith(("UV_", "PIP_"))
    )
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: its parent and its command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        found[int(entry)] = (ppid, cmd)
    return found


@dataclass
class RayCluster:
    """A Ray cluster this test session started."""

    temp_dir: Path
    port: int
    marks: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    def _start(self, *args: str) -> None:
        proc = subprocess.run(
            [RAY, "start", *args, "--disable-usage-stats"],
            env=_ray_env(),
            cwd=self.temp_dir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")

    def start_head(self) -> None:
        self._start(
            "--head",
            "--node-ip-address",
            HEAD_IP,
            "--port",
            str(self.port),
            "--ray-client-server-port",
            str(_free_port(HEAD_IP)),
            "--dashboard-port",
            str(_free_port("127.0.0.1")),
            "--num-cpus",
            "2",
            "--num-gpus",
            "0",
            "--resources",
            '{"head_only": 1}',
            "--include-dashboard=false",
            "--temp-dir",
            str(self.temp_dir),
        )

    def add_node(self, ip: str, *args: str) -> None:
        """Start another node of this cluster at ``ip``."""
        self.marks.append(f"--node_ip_address={ip}")
        self._start("--address", self.address, "--node-ip-address", ip, *args)

    def raylet_of(self, ip: str) -> int:
        """The pid of the raylet of the node at ``ip``."""
        for pid, (_, cmd) in _processes().items():
            if "/raylet " in cmd and f"--node_ip_address={ip} " in cmd and self.address in cmd:
                return pid
        raise LookupError(f"no raylet for {ip}")

    def stop(self) -> None:
        """Stop every process of this cluster, and what they started."""
        procs = _processes()
        ours = {
            pid
            for pid, (_, cmd) in procs.items()
            if str(self.temp_dir) in cmd or self.address in cmd
        }
        ours.discard(os.getpid())
        grown = True
        while grown:
            more = {pid for pid, (ppid, _) in procs.items() if ppid in ours} - ours
            ours |= more
            grown = bool(more)
        # The raylets and workers end on SIGTERM at once; the GCS server takes its time.
        for sig, grace in ((signal.SIGTERM, 1.5), (signal.SIGKILL, 5.0)):
            for pid in ours:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(
                os.path.exists(f"/proc/{pid}") and _running(pid) for pid in ours
            ):
                time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def running_cluster() -> Iterator[RayCluster]:
    """A two-node Ray cluster on loopback addresses, this process connected to it."""
    import ray

    temp = Path(tempfile.mkdtemp(prefix="hwray-", dir="/tmp"))  # short: Ray's socket paths
    cluster = RayCluster(temp, _free_port(HEAD_IP))
    try:
        cluster.start_head()
        cluster.add_node(
            WORKER_IP,
            "--num-cpus",
            "2",
            "--num-gpus",
            "2",
            "--resources",
            # Ray names a node's accelerators accelerator_type:NAME; these GPUs are fake.
            '{"special": 1, "accelerator_type:T4": 1}',
        )
        from headwater.executors import make_executor

        make_executor("ray", address=cluster.address).close()  # connects this process

        @ray.remote(num_cpus=1)
        def warm() -> str:
            time.sleep(0.2)
            return str(ray.get_runtime_context().get_node_id())

        # Start a Ray worker process on every CPU of both nodes before the tests time them.
        ray.get([warm.remote() for _ in range(4)])
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            ray.shutdown()
        cluster.stop()
        shutil.rmtree(temp, ignore_errors=True)
