"""Data-parallel training of one cell over several processes (one per GPU; gloo on the CPU).

`run_train(..., processes=N)` starts N workers; each joins a process group, wraps the network in
DistributedDataParallel (which averages the gradients) and trains on its share of every batch.
Every rank draws the same global batch from the (seed, epoch) generator, so the data order and
augmentation are those of one process with the global batch; rank r takes the r-th contiguous
share. Sums (loss, correct, count) are all-reduced, so metrics cover every rank; rank 0 alone
writes checkpoints and outputs, and every rank resumes from the same checkpoint.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes of one cell."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of `n` (ceil(n / world) each, the last rank less)."""
        per = -(-n // self.world)
        return slice(min(n, self.rank * per), min(n, (self.rank + 1) * per))

    def sum(self, *values: torch.Tensor | float) -> list[float]:
        """Each value summed over the ranks."""
        packed = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(packed)
        return packed.tolist()

    def any(self, flag: bool) -> bool:
        return self.sum(float(flag))[0] > 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


SINGLE = Ranks()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def join(rank: int, world: int, port: int, device_type: str) -> Ranks:
    """Join the cell's process group (NCCL on CUDA, gloo on the CPU)."""
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo", rank=rank, world_size=world)
    return Ranks(rank, world)


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
