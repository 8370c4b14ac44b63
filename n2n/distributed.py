"""Data-parallel training of one cell over several processes (one per GPU; gloo on the CPU).

`run_ranks(...)` starts N ranks; each joins a process group, wraps the network in
DistributedDataParallel (which averages the gradients) and trains on its share of every batch.
Every rank draws the same global batch from the (seed, epoch) generator, so the data order and
augmentation are those of one process with the global batch; rank r takes the r-th contiguous
share. Sums (loss, correct, count) are all-reduced, so metrics cover every rank; rank 0 alone
writes checkpoints and outputs, and every rank resumes from the same checkpoint.

The ranks meet through a file in the run's own temporary folder, not a TCP port: a port picked as
free can be taken by another job on the node before rank 0 listens on it, and a group that meets at
a port another group also uses fails to connect.

On CUDA the ranks start as fresh interpreters (`python -m n2n.rank`): CUDA cannot be used in a
forked child, and multiprocessing's `spawn` would re-run the caller's main file (a Snakemake
job's script) in every rank. On the CPU they are forked, which saves re-importing torch.
`N2N_RANK_START=spawn|fork` overrides the choice (the tests start CPU ranks the CUDA way).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from n2n.stop import RESUMABLE_EXIT_CODE, StopRequested

log = logging.getLogger(__name__)

RANK_START_ENV = "N2N_RANK_START"
# the process group's backend for each device type. Collectives dispatch on the tensor's device and
# NCCL serves CUDA tensors only: the small host-side sums and the barrier go through gloo.
BACKENDS = {"cuda": "cpu:gloo,cuda:nccl", "cpu": "gloo"}


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes of one cell."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of `n`: sizes differ by at most one, and
        every rank has an image whenever n >= world."""
        return slice(self.rank * n // self.world, (self.rank + 1) * n // self.world)

    def sum(self, *values: torch.Tensor | float) -> list[float]:
        """Each value summed over the ranks (on the host: one small gloo all-reduce)."""
        packed = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(packed)
        return packed.tolist()

    def average_(self, tensors: list[torch.Tensor]) -> None:
        """Each tensor replaced by its mean over the ranks, in place, on its own device."""
        if self.world > 1:
            for tensor in tensors:
                dist.all_reduce(tensor)
                tensor.div_(self.world)

    def any(self, flag: bool) -> bool:
        return self.sum(float(flag))[0] > 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


SINGLE = Ranks()


def join(rank: int, world: int, rendezvous: str, device_type: str) -> Ranks:
    """Join the cell's process group (NCCL for CUDA tensors and gloo for host ones; gloo on the CPU).

    `rendezvous` is a file path that no earlier group used (run_ranks makes one per run)."""
    dist.init_process_group(BACKENDS[device_type], init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    return Ranks(rank, world)


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def start_method(device_type: str) -> str:
    method = os.environ.get(RANK_START_ENV) or ("spawn" if device_type == "cuda" else "fork")
    if method not in ("spawn", "fork"):
        raise ValueError(f"{RANK_START_ENV}={method!r}: expected spawn or fork")
    return method


class RankFailed(RuntimeError):
    """A rank of a data-parallel training exited with an error; the others were stopped."""


def run_ranks(target: str, world: int, device_type: str, kwargs: dict[str, Any], log_files: list[str]) -> None:
    """Call `target` ("module:function", with rank, world, rendezvous and **kwargs) in `world` ranks.

    Returns when every rank has finished. Raises StopRequested when every rank stopped to resume
    (SIGUSR1), RankFailed naming the first rank that failed otherwise (the others are then stopped).
    SIGUSR1 sent to this process alone is passed on to the ranks; SIGTERM stops them.
    """
    method = start_method(device_type)
    with tempfile.TemporaryDirectory(prefix="n2n-ranks-") as folder:
        spec = Path(folder) / "ranks.json"
        rendezvous = str(Path(folder) / "rendezvous")
        spec.write_text(json.dumps({"target": target, "world": world, "rendezvous": rendezvous, "log_files": log_files,
                                    "kwargs": kwargs}))
        if method == "spawn":
            procs: list[Any] = [subprocess.Popen([sys.executable, "-m", "n2n.rank", str(spec), str(rank)])
                                for rank in range(world)]
        else:
            from n2n.rank import run_rank

            context = multiprocessing.get_context("fork")
            procs = [context.Process(target=run_rank, args=(str(spec), rank)) for rank in range(world)]
            for proc in procs:
                proc.start()
        log.info("training on %d processes (started by %s)", world, method)
        codes = _supervise(procs)
    if all(code == 0 for code in codes):
        return
    if all(code == RESUMABLE_EXIT_CODE for code in codes):
        raise StopRequested()
    # the first rank that failed; else (some finished, some stopped to resume) the first that stopped
    failed = [(r, c) for r, c in enumerate(codes) if c not in (0, RESUMABLE_EXIT_CODE)]
    rank, code = failed[0] if failed else next((r, c) for r, c in enumerate(codes) if c == RESUMABLE_EXIT_CODE)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    raise RankFailed(f"rank {rank} of {world} {how} (its error is in the log above); the other ranks were stopped")


def _exit_code(proc: Any) -> int | None:
    return proc.poll() if isinstance(proc, subprocess.Popen) else proc.exitcode


def _supervise(procs: list[Any]) -> list[int]:
    """Wait for every rank; the first to fail (not 0, not 75) has the others terminated."""
    def forward(signum, frame) -> None:
        for proc in procs:
            if _exit_code(proc) is None:
                os.kill(proc.pid, signum)

    def terminate(signum, frame) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGUSR1, forward), (signal.SIGTERM, terminate))}
    try:
        while True:
            codes = [_exit_code(proc) for proc in procs]
            if all(code is not None for code in codes):
                return codes  # type: ignore[return-value]
            if any(code not in (None, 0, RESUMABLE_EXIT_CODE) for code in codes):
                break
            time.sleep(0.2)
        _stop(procs, grace_s=10)
        return [_exit_code(proc) for proc in procs]  # type: ignore[misc]
    except BaseException:
        _stop(procs, grace_s=10)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(procs: list[Any], grace_s: float) -> None:
    for proc in procs:
        if _exit_code(proc) is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    while any(_exit_code(proc) is None for proc in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in procs:
        if _exit_code(proc) is None:
            proc.kill()
        proc.wait() if isinstance(proc, subprocess.Popen) else proc.join()
