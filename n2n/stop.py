"""Stopping a training early on request: SLURM's warning before a time limit (`--signal=USR1@N`).

SIGUSR1 only sets a flag; the training reads it after each epoch, saves its checkpoint and exits
with RESUMABLE_EXIT_CODE, from which the next attempt resumes. SLURM signals every process of the
job step, so every process of a job must survive the signal: Snakemake's job process ignores it
(`ignore_stop_signal`, called by the workflow), a stage installs the flag at once, before its slow
imports, and the parent of data-parallel ranks passes it on to them. This module imports no torch.
"""

from __future__ import annotations

import signal
import threading

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
