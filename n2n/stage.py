"""Running one pipeline stage: in the job's own process, or forked from a warm stage server.

Every workflow job is a new Python process, and importing torch costs more CPU than most stages'
work (docs/speed.md, "Why local runs are fast", and benchmarks/job_startup.py give the figures). For local
runs the Snakefile starts one stage server (`warm_start: true`) that imports torch, pandas,
scipy, matplotlib and n2n once. A job's script then hands its stage call to the server, which
forks a child for it: the child starts with every module imported, takes over the job's
standard streams, working directory and environment, runs the stage under the job's log and
reports its exit code. A client that dies takes its child with it.

Without a server (cluster jobs, `warm_start: false`, a server that cannot be reached) the
stage runs in the job's own process. Either way it is the same function with the same
arguments, so the outputs are the same.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SERVER_ENV = "N2N_STAGE_SERVER"  # the server's socket path, inherited by local jobs
# torch._dynamo: torch.optim's optimizers import it when the first one is built, which costs a training
# job as much CPU as importing torch itself
PRELOAD = ("numpy", "scipy.sparse", "scipy.linalg", "pandas", "pyarrow.parquet", "torch", "torch._dynamo",
           "matplotlib.pyplot",
           "n2n.pruners", "n2n.skips", "n2n.training", "n2n.evaluation", "n2n.connectivity", "n2n.data",
           "n2n.heat", "n2n.tables", "n2n.plots")


def run_stage(target: str, log_path: str, **kwargs: Any) -> None:
    """Run `target` ("module:function") with `kwargs`, logging to `log_path`; exit non-zero if it fails.

    A stage with a `device` argument runs on GPUs of its own (`n2n.gpus`): `processes` of them, or one.
    """
    from n2n.stop import install_stop_handler

    install_stop_handler()  # SLURM's SIGUSR1 may come while torch is still being imported
    kwargs = plain(kwargs)
    address = os.environ.get(SERVER_ENV)
    code = _run_on_server(address, target, log_path, kwargs) if address else None
    if code is None:
        code = _run_here(target, log_path, kwargs)
    if code:
        sys.exit(code)


def plain(value: Any) -> Any:
    """Snakemake's path strings and named lists as plain str, list and dict (picklable without snakemake)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def gpus_needed(kwargs: dict[str, Any]) -> int:
    """How many GPUs a stage called with `kwargs` uses: 0 on the CPU, else its processes."""
    from n2n.gpus import device_count, wants_gpu

    if not wants_gpu(str(kwargs.get("device", "cpu"))) or device_count() == 0:
        return 0
    return max(1, int(kwargs.get("processes", 1)))


def _run_here(target: str, log_path: str, kwargs: dict[str, Any]) -> int:
    from n2n.gpus import claim_gpus
    from n2n.joblog import job_logging

    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    try:
        with job_logging(log_path), claim_gpus(gpus_needed(kwargs)):
            function(**kwargs)
    except SystemExit as stop:  # training's resumable stop (exit 75)
        return stop.code if isinstance(stop.code, int) else 1
    except Exception:  # job_logging has logged the traceback and printed the error
        return 1
    return 0


def _send(sock: socket.socket, payload: bytes, fds: list[int] | None = None) -> None:
    header = struct.pack("!Q", len(payload))
    if fds:
        socket.send_fds(sock, [header], fds)
    else:
        sock.sendall(header)
    sock.sendall(payload)


def _receive(sock: socket.socket, with_fds: bool = False) -> tuple[bytes, list[int]]:
    fds: list[int] = []
    if with_fds:
        header, fds, _, _ = socket.recv_fds(sock, 8, 3)
    else:
        header = sock.recv(8)
    while 0 < len(header) < 8:
        header += sock.recv(8 - len(header))
    if len(header) < 8:
        raise ConnectionError("the other side closed the connection")
    size = struct.unpack("!Q", header)[0]
    chunks, received = [], 0
    while received < size:
        chunk = sock.recv(min(size - received, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks), fds


def _run_on_server(address: str, target: str, log_path: str, kwargs: dict[str, Any]) -> int | None:
    """The stage's exit code from the server, or None when there is no server to run it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        return None
    with sock:
        request = {"target": target, "log": log_path, "kwargs": kwargs, "cwd": os.getcwd(),
                   "env": dict(os.environ)}
        _send(sock, pickle.dumps(request), [0, 1, 2])
        try:
            reply, _ = _receive(sock)
        except ConnectionError:
            print(f"error: the stage server died while running {target} (log: {log_path})", file=sys.stderr)
            return 1
    return int(json.loads(reply)["exit"])


class _StageHandler(socketserver.BaseRequestHandler):
    """Runs in the forked child: one stage with the client's streams, directory and environment."""

    def handle(self) -> None:
        payload, fds = _receive(self.request, with_fds=True)
        request = pickle.loads(payload)
        for fd, target_fd in zip(fds, (0, 1, 2)):
            os.dup2(fd, target_fd)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # the client closing its end (killed by Snakemake or Ctrl-C) ends this child too
        threading.Thread(target=self._die_with_client, daemon=True).start()
        code = _run_here(request["target"], request["log"], request["kwargs"])
        sys.stdout.flush()
        sys.stderr.flush()
        _send(self.request, json.dumps({"exit": code}).encode())

    def _die_with_client(self) -> None:
        try:
            self.request.recv(1)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)


class _StageServer(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    max_children = 256


def serve(address: str, parent_pid: int) -> None:
    """Listen on `address`, preload the heavy modules, and fork one child per stage until `parent_pid` exits."""
    import matplotlib

    matplotlib.use("Agg")
    try:
        with _StageServer(address, _StageHandler) as server:
            for module in PRELOAD:  # requests wait in the socket's backlog meanwhile
                if os.getppid() != parent_pid:  # the run ended (a dry run, Ctrl-C) before the imports did
                    return
                importlib.import_module(module)
            server.timeout = 1.0
            while os.getppid() == parent_pid:
                server.handle_request()
                server.collect_children()
    finally:  # the parent is gone without stop_server: leave no socket behind
        shutil.rmtree(Path(address).parent, ignore_errors=True)


def start_server() -> subprocess.Popen:
    """Start a stage server for this process's jobs and point them at it (sets N2N_STAGE_SERVER)."""
    folder = tempfile.mkdtemp(prefix="n2n-stage-")  # mode 0700: only this user reaches the socket
    address = str(Path(folder) / "server.sock")
    process = subprocess.Popen([sys.executable, "-m", "n2n.stage", address, str(os.getpid())])
    deadline = time.monotonic() + 30
    while not Path(address).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if Path(address).exists():
        os.environ[SERVER_ENV] = address
    return process


def stop_server(process: subprocess.Popen | None) -> None:
    address = os.environ.pop(SERVER_ENV, None)
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
    if address:
        shutil.rmtree(Path(address).parent, ignore_errors=True)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
