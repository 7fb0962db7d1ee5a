"""Running pipelines on the Ray executor, on a two-node Ray cluster started on this
machine (a head at 127.0.0.2 and a worker at 127.0.0.3, 2 CPUs each, all on loopback).

Two ways of driving runs are measured. A warm driver (``bench/ray_driver.py``, one
process connected to the cluster that runs the pipelines one after another through
``headwater.run``, as ``headwater standalone`` or a scheduler does) and whole
``headwater run --executor ray`` processes, each of which is a new Ray job: it imports
Ray, connects, and waits for Ray to start worker processes for it. Ray's own task round
trip is measured by the warm driver, in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _table import Row
from bench_engine import CLI, HERE, _env, _verdict, median

RAY = str(Path(sys.executable).with_name("ray"))
HEAD, WORKER = "127.0.0.2", "127.0.0.3"


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


class Cluster:
    """A two-node Ray cluster on loopback addresses, stopped by its own processes' ids."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="hwbray-", dir="/tmp"))
        self.port = _free_port(HEAD)
        self.address = f"{HEAD}:{self.port}"

    def _start(self, *args: str) -> None:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        subprocess.run(
            [RAY, "start", *args, "--disable-usage-stats"],
            env=env,
            cwd=self.temp,
            capture_output=True,
            check=True,
            timeout=120,
        )

    def start(self) -> None:
        self._start(
            "--head",
            "--node-ip-address",
            HEAD,
            "--port",
            str(self.port),
            "--ray-client-server-port",
            str(_free_port(HEAD)),
            "--dashboard-port",
            str(_free_port("127.0.0.1")),
            "--num-cpus",
            "2",
            "--include-dashboard=false",
            "--temp-dir",
            str(self.temp),
        )
        self._start("--address", self.address, "--node-ip-address", WORKER, "--num-cpus", "2")

    def stop(self) -> None:
        procs: dict[int, tuple[int, str]] = {}
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
            procs[int(entry)] = (ppid, cmd)
        ours = {p for p, (_, c) in procs.items() if str(self.temp) in c or self.address in c}
        ours.discard(os.getpid())
        grown = True
        while grown:
            more = {p for p, (pp, _) in procs.items() if pp in ours} - ours
            ours |= more
            grown = bool(more)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in ours:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            time.sleep(1.5)
        shutil.rmtree(self.temp, ignore_errors=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def run() -> list[Row]:
    cluster = Cluster()
    home = tempfile.mkdtemp(prefix="hw-bench-ray-")
    rows: list[Row] = []
    base = [sys.executable, str(HERE / "baselines.py")]
    pipelines = HERE / "pipelines"
    try:
        cluster.start()
        warm = json.loads(
            subprocess.run(
                [sys.executable, str(HERE / "ray_driver.py"), cluster.address],
                env=_env(home),
                capture_output=True,
                text=True,
                check=True,
                timeout=1800,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        ray_cli = ["--executor", "ray", "--ray-address", cluster.address]
        chain1 = median(
            [CLI, "run", str(pipelines / "chain.py"), "--no-cache", *ray_cli],
            _env(home, BENCH_CHAIN_N="1"),
        )
        chain100 = median(
            [CLI, "run", str(pipelines / "chain.py"), "--no-cache", *ray_cli],
            _env(home, BENCH_CHAIN_N="100"),
        )
        fan = median([CLI, "run", str(pipelines / "fanout.py"), "--no-cache", *ray_cli], _env(home))
        ml = median([CLI, "run", str(pipelines / "ml3.py"), "--no-cache", *ray_cli], _env(home))
        b_ml = median([*base, "ml3"], _env(home))
        b_fan = median([*base, "fanout", "200"], _env(home))

        per_task = (warm["chain100"] - warm["chain1"]) / 99
        cli_per_task = (chain100.seconds - chain1.seconds) / 99
        rows.append(
            Row(
                "Ray per-task overhead, chain: (chain-100 - chain-1) / 99, warm driver",
                _ms(per_task),
                "<= 15 ms",
                _verdict(per_task <= 0.015),
                f"Ray's own round trip here: a task {_ms(warm['ray_task'])}, a two-item "
                f"generator task {_ms(warm['ray_generator'])}; whole 'headwater run' "
                f"processes: {_ms(cli_per_task)}",
            )
        )
        rows.append(
            Row(
                "Ray chain-1, whole 'headwater run --executor ray' process",
                f"{chain1.seconds:.2f} s",
                "-",
                "yes",
                f"warm driver {warm['chain1']:.3f} s; a new process is a new Ray job: "
                "import, connect, new Ray workers",
            )
        )
        rows.append(
            Row(
                "Ray fanout-200, warm driver",
                f"{warm['fanout']:.2f} s",
                "<= 3 s",
                _verdict(warm["fanout"] <= 3.0),
                f"whole process {fan.seconds:.2f} s; plain script {b_fan.seconds:.3f} s",
            )
        )
        ratio = warm["ml3"] / b_ml.seconds
        cli_ratio = ml.seconds / b_ml.seconds
        rows.append(
            Row(
                "Ray ml-3step, warm driver",
                f"{warm['ml3']:.2f} s",
                "<= 1.3 x plain script",
                _verdict(ratio <= 1.3),
                f"plain script {b_ml.seconds:.2f} s -> {ratio:.2f}x; whole process "
                f"{ml.seconds:.2f} s -> {cli_ratio:.2f}x",
            )
        )
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
    return rows
