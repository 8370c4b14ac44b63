"""Which GPUs a job uses.

Under SLURM the job uses the GPUs the scheduler gave it (CUDA_VISIBLE_DEVICES is set per job).
On a workstation every job sees every GPU and CUDA would put them all on GPU 0: there a job claims
free GPUs, one lock file per GPU, and sets CUDA_VISIBLE_DEVICES to them before CUDA starts, so
concurrent jobs (Snakemake's `--resources gpu=N` bounds how many) never share a GPU. A job that
finds none free waits for one, up to N2N_GPU_WAIT_S seconds (default 600), then fails naming who
holds them; one that needs more GPUs than the machine has fails at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "N2N_GPU_LOCK_DIR"  # one folder per machine, shared by its users
WAIT_ENV = "N2N_GPU_WAIT_S"
VISIBLE = "CUDA_VISIBLE_DEVICES"


class NoFreeGpu(RuntimeError):
    """The job's GPUs cannot be had: too few on the machine, or all held by other jobs too long."""


def device_count() -> int:
    """GPUs visible to this process, counted without starting CUDA (which would fix the visible set)."""
    import torch

    return torch.cuda.device_count()


def wants_gpu(device: str) -> bool:
    return device in ("auto", "cuda") or device.startswith("cuda:")


def lock_dir() -> Path:
    folder = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "n2n-gpu-locks")
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):
            folder.chmod(0o1777)  # every user of the machine takes locks here
    return folder


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {os.uname().nodename}\n".encode())
    return fd


def _holders(folder: Path, ids: list[str]) -> str:
    held = []
    for gpu in ids:
        with contextlib.suppress(OSError):
            held.append(f"GPU {gpu}: pid {(folder / f'gpu{gpu}.lock').read_text().split()[0]}")
    return "; ".join(held) or "unknown processes"


@contextlib.contextmanager
def claim_gpus(count: int, wait_s: float | None = None) -> Iterator[list[str]]:
    """Hold `count` GPUs of this machine for the duration, visible to CUDA as devices 0..count-1."""
    if count <= 0 or "SLURM_JOB_ID" in os.environ:  # the scheduler assigned this job's GPUs
        yield os.environ.get(VISIBLE, "").split(",") if count > 0 else []
        return
    previous = os.environ.get(VISIBLE)
    ids = previous.split(",") if previous else [str(i) for i in range(device_count())]
    if count > len(ids):
        raise NoFreeGpu(f"this job needs {count} GPU{'s' if count > 1 else ''}; this machine has {len(ids)} "
                        "visible to it (lower `gpu` in the config's resources, or run it where there are more)")
    folder = lock_dir()
    wait_s = float(os.environ.get(WAIT_ENV, 600)) if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    held: list[tuple[str, int]] = []
    announced = False
    while True:
        for gpu in ids:
            fd = _try_lock(folder / f"gpu{gpu}.lock")
            if fd is not None:
                held.append((gpu, fd))
                if len(held) == count:
                    break
        if len(held) == count:
            break
        for _, fd in held:
            os.close(fd)
        held = []
        if time.monotonic() >= deadline:
            raise NoFreeGpu(f"no {count} free GPU{'s' if count > 1 else ''} after {wait_s:.0f} s "
                            f"(held: {_holders(folder, ids)}); run fewer GPU jobs at once "
                            f"(`--resources gpu=N`) or raise {WAIT_ENV}")
        if not announced:
            log.warning("waiting for %d free GPU(s) (held: %s)", count, _holders(folder, ids))
            announced = True
        time.sleep(0.5)
    claimed = [gpu for gpu, _ in held]
    os.environ[VISIBLE] = ",".join(claimed)
    log.info("GPUs %s claimed for this job", ",".join(claimed))
    try:
        yield claimed
    finally:
        if previous is None:
            os.environ.pop(VISIBLE, None)
        else:
            os.environ[VISIBLE] = previous
        for _, fd in held:
            os.close(fd)
