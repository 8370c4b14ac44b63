"""Snakemake's scheduler, kept flat as jobs finish: one pending wake-up at a time, on a daemon thread.

Snakemake 9 rate-limits job starts (`--max-jobs-per-timespan`, default 100/1s) by starting a one-second
`threading.Timer` after every scheduling pass. Each finished job triggers a pass, each pass a timer and each
timer's wake-up another pass, so the chains of wake-ups, Snakemake's threads and its CPU grow with the number
of finished jobs (snakemake/snakemake#3804, #2967), and non-daemon timers hold its exit. The limiter cannot be
switched off from the command line. `coalesce_reevaluations` replaces the scheduler's wake-up so that at most
one is pending: the rate limit still frees up within its timespan, the threads stay flat, and a daemon thread
never holds the exit. The workflow applies it when the Snakefile is read (rules/scheduler.smk), so every typed
command gets it; `benchmarks/scheduler_scaling.py` measures it and tests/test_scheduler.py holds it.

This module never imports Snakemake: it is handed the scheduler class.
"""

from __future__ import annotations

import threading
from typing import Any

PENDING = "_n2n_pending_reevaluation"  # the scheduler's attribute holding its one pending timer
METHOD = "_schedule_reevalutation"  # Snakemake's own spelling (snakemake/scheduling/job_scheduler.py)


def _reevaluate_once(scheduler: Any, delay: float) -> None:
    """Wake the scheduler after `delay` seconds unless a wake-up is already pending (it comes sooner or as
    soon: a pass is idempotent, so one serves every request made while it waits)."""
    lock = scheduler.__dict__.setdefault("_n2n_pending_lock", threading.Lock())
    with lock:
        pending = getattr(scheduler, PENDING, None)
        if pending is not None and pending.is_alive():
            return
        timer = threading.Timer(delay, scheduler._open_jobs.release)
        timer.daemon = True
        setattr(scheduler, PENDING, timer)
        timer.start()


def coalesce_reevaluations(scheduler_class: type) -> bool:
    """Give Snakemake's JobScheduler the one-pending-wake-up reevaluation. False (and nothing changed) where the
    class has no such method: a Snakemake whose scheduler works otherwise."""
    if not callable(getattr(scheduler_class, METHOD, None)):
        return False
    setattr(scheduler_class, METHOD, _reevaluate_once)
    return True
