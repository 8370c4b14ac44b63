"""A stage call in a process of its own, forked from one warm process, as `n2n.stage`'s server runs a
local job: multiprocessing's fork server, with torch and the stages imported once per test worker.

A test that kills, signals or crashes a training needs the training in a process of its own; forked
from the warm server it starts in a fraction of a second instead of paying for the interpreter, torch
and torch._dynamo each time. The cluster's path, a fresh interpreter per job and per rank, has tests
of its own (test_distributed's Snakemake job with `warm_start: false`, tests/test_cluster_slurm.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from n2n.stage import PRELOAD

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload([*PRELOAD, "forked"])  # what the stage server imports before it forks a job


def _call(target: str, kwargs: dict[str, Any], env: dict[str, str], stderr_path: str, logged: bool) -> None:
    """In the forked child: the caller's environment, standard error to a file, then `module:function`."""
    import importlib

    os.environ.clear()
    os.environ.update(env)
    for path, fd in ((stderr_path, 2), (os.devnull, 1)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(opened, fd)
        os.close(opened)
    if logged:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    module, function = target.split(":")
    getattr(importlib.import_module(module), function)(**kwargs)  # an exception: traceback on stderr, exit 1


class Forked:
    """The running call, with subprocess.Popen's ways: pid, poll, wait, send_signal, kill, returncode
    (minus the signal's number when a signal ended it), and the standard error it wrote."""

    def __init__(self, target: str, kwargs: dict[str, Any], stderr_path: Path, env: dict[str, str] | None = None,
                 logged: bool = False) -> None:
        self.stderr_path = Path(stderr_path)
        self.process = CONTEXT.Process(target=_call, args=(target, kwargs, dict(os.environ if env is None else env),
                                                           str(self.stderr_path), logged))
        self.process.start()
        self.pid = self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired(f"forked {self.process.name}", timeout or 0)
        return self.process.exitcode

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        self.process.kill()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def run(target: str, kwargs: dict[str, Any], env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Call `target` with `kwargs` in a forked process and wait for it, as subprocess.run would."""
    with tempfile.TemporaryDirectory(prefix="n2n-forked-") as folder:
        proc = Forked(target, kwargs, Path(folder) / "stderr", env)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        return subprocess.CompletedProcess(target, proc.returncode, "", proc.stderr)
