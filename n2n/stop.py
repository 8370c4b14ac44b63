"""Stopping a training early on request (SLURM's warning before a time limit, `--signal=USR1@N`),
and its attempts across allocations.

SIGUSR1 only sets a flag; the training reads it after each epoch, saves its checkpoint and exits
with RESUMABLE_EXIT_CODE, from which the next attempt resumes. SLURM signals every process of the
job step, so every process of a job must survive the signal: Snakemake's job process ignores it
(`ignore_stop_signal`, called by the workflow), a stage installs the flag at once, before its slow
imports, and the parent of data-parallel ranks passes it on to them. This module imports no torch.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

RESUMABLE_EXIT_CODE = 75  # EX_TEMPFAIL: stopped early on request, the checkpoint is current

_requested = False


class StopRequested(SystemExit):
    """SIGUSR1 arrived: the epoch's checkpoint is saved, exit to resume."""

    def __init__(self) -> None:
        super().__init__(RESUMABLE_EXIT_CODE)


def _request_stop(signum, frame) -> None:  # a signal handler: only sets a flag, read after each epoch
    global _requested
    _requested = True


def requested() -> bool:
    return _requested


def install_stop_handler() -> None:
    """On SIGUSR1, remember the request (the training finishes its epoch, checkpoints it and exits)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, _request_stop)


def ignore_stop_signal() -> None:
    """SIGUSR1 ignored in this process and, until they install their own handler, in its children."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)


# Attempts across allocations: a training that checkpoints at least one epoch per attempt may use as
# many attempts as it needs (resources.train.retries); once STALLED_ATTEMPTS attempts in a row of one
# Snakemake run started from the same epoch, the next is refused.
STALLED_ATTEMPTS = 2
RUN_ENV = "N2N_RUN"  # one Snakemake run (set by the workflow at its start; its jobs inherit it)


class NoProgress(RuntimeError):
    """The latest attempts of a training each ended without checkpointing an epoch."""


def mark_run() -> None:
    """Name this Snakemake run for the attempts of its jobs (called by the workflow's onstart)."""
    import uuid

    os.environ[RUN_ENV] = uuid.uuid4().hex


def attempts_path(checkpoint: str | Path) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.attempts.jsonl")


def begin_attempt(checkpoint: str | Path, epoch: int, name: str, env: Mapping[str, str] | None = None) -> None:
    """Log where this attempt runs and the epoch it resumes after; record it beside the checkpoint.

    If the last STALLED_ATTEMPTS attempts of this Snakemake run (N2N_RUN) all started after this
    same `epoch`, raise NoProgress instead. Without N2N_RUN (a direct call) nothing is refused.
    """
    env = os.environ if env is None else env
    run, slurm_job = env.get(RUN_ENV), env.get("SLURM_JOB_ID")
    job = f"SLURM job {slurm_job}" if slurm_job else f"pid {os.getpid()}"
    path = attempts_path(checkpoint)
    records = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
    earlier = [r for r in records if run and r.get("run") == run]
    stalled = []
    for record in reversed(earlier):
        if record["epoch"] != epoch:
            break
        stalled.append(record["job"])
    log.info("attempt %d: %s on %s, %s", len(earlier) + 1, job, os.uname().nodename,
             f"resuming after epoch {epoch}" if epoch else "starting from epoch 0")
    if len(stalled) >= STALLED_ATTEMPTS:
        raise NoProgress(
            f"{name}: the last {len(stalled)} attempts ({', '.join(reversed(stalled))}) all started after "
            f"epoch {epoch} and none checkpointed another epoch: an allocation is shorter than one epoch and the "
            "start-up, or the training fails before it ends one (see this log). Raise resources.train.runtime or "
            "fix the error, then run Snakemake again")
    from n2n.io import append_line

    append_line(path, json.dumps({"run": run, "job": job, "host": os.uname().nodename, "epoch": epoch,
                                  "time": time.strftime("%Y-%m-%dT%H:%M:%S")}))
