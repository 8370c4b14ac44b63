"""Snakemake's scheduler, kept flat as jobs finish: one pending wake-up at a time, on a daemon thread.

Snakemake 9 rate-limits job starts (`--max-jobs-per-timespan`, default 100/1s) by starting a one-second
`threading.Timer` after every scheduling pass. Each finished job triggers a pass, each pass a timer and each
timer's wake-up another pass, so the chains of wake-ups and Snakemake's threads grow with the number of
finished jobs (snakemake/snakemake#3804, #2967), and non-daemon timers hold its exit. The limiter cannot be
switched off from the command line. `coalesce_reevaluations` replaces the scheduler's wake-up so that at most
one is pending: a request for an earlier wake-up replaces a later pending one, a later request is served by
the pending one (a pass is idempotent), the threads stay flat, and a daemon thread never holds the exit.

The patch can never cost a run: `patch_snakemake` skips it, with one warning, where the scheduler's module or
members are not the ones it was written for, and a wake-up that meets anything unexpected during a run hands
the request to Snakemake's own method. The workflow applies it in the main Snakemake process only
(rules/scheduler.smk); `benchmarks/scheduler_scaling.py` measures it and tests/test_scheduler.py holds it.

This module never imports Snakemake at import time: `patch_snakemake` imports the scheduler's module when called.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any, Callable

SCHEDULER_MODULE = "snakemake.scheduling.job_scheduler"  # from Snakemake 9.10 (pyproject.toml's lower bound)
SCHEDULER_CLASS = "JobScheduler"
METHOD = "_schedule_reevalutation"  # Snakemake's own spelling
RELEASE = "_open_jobs"  # the semaphore a wake-up releases
STATE = "_n2n_wake_up"  # the scheduler's attribute holding its one pending wake-up
ORIGINAL = "_n2n_original_reevaluation"  # the class's own method, kept for the fallback


class _WakeUp:
    """The one pending wake-up of a scheduler: its timer and when it is due; cleared by the timer itself."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.due = 0.0


def _fire(scheduler: Any, state: _WakeUp) -> None:
    """The pending timer's callback, run in the timer's own thread: it clears itself, unless replaced meanwhile."""
    with state.lock:
        if state.timer is threading.current_thread():
            state.timer = None
    getattr(scheduler, RELEASE).release()


def _reevaluate_once(scheduler: Any, delay: float) -> None:
    """Wake the scheduler after `delay` seconds, with at most one wake-up pending: an earlier request replaces
    the pending one, a later one is served by it. Anything unexpected hands the request to Snakemake's own."""
    try:
        state = scheduler.__dict__.get(STATE) or scheduler.__dict__.setdefault(STATE, _WakeUp())
        getattr(scheduler, RELEASE).release  # noqa: B018  (the member a wake-up needs, checked before arming)
        due = time.monotonic() + float(delay)
        with state.lock:
            if state.timer is not None:
                if state.due <= due:
                    return
                state.timer.cancel()
            timer = threading.Timer(float(delay), _fire, args=(scheduler, state))
            timer.daemon = True
            state.timer, state.due = timer, due
            timer.start()
    except Exception:  # noqa: BLE001  (a Snakemake the patch does not know: its own method, as if unpatched)
        getattr(type(scheduler), ORIGINAL)(scheduler, delay)


def coalesce_reevaluations(scheduler_class: type) -> bool:
    """Give Snakemake's JobScheduler the one-pending-wake-up reevaluation. False (and nothing changed) where the
    class has no such method: a Snakemake whose scheduler works otherwise."""
    original = getattr(scheduler_class, METHOD, None)
    if not callable(original):
        return False
    if original is not _reevaluate_once:
        setattr(scheduler_class, ORIGINAL, original)
        setattr(scheduler_class, METHOD, _reevaluate_once)
    return True


def patch_snakemake(warn: Callable[[str], Any]) -> bool:
    """Patch the installed Snakemake's scheduler; where its module, class or method is not there, change nothing
    and say so once through `warn`. True where patched."""
    try:
        scheduler_class = getattr(importlib.import_module(SCHEDULER_MODULE), SCHEDULER_CLASS)
    except (ImportError, AttributeError) as err:
        warn(f"n2n: this Snakemake has no {SCHEDULER_MODULE}.{SCHEDULER_CLASS} ({err}); its scheduler's wake-ups "
             "are left as they are (threads may grow with finished jobs: benchmarks/scheduler_scaling.py)")
        return False
    if not coalesce_reevaluations(scheduler_class):
        warn(f"n2n: this Snakemake's scheduler has no {METHOD}; its wake-ups are left as they are (threads may "
             "grow with finished jobs: benchmarks/scheduler_scaling.py measures it)")
        return False
    return True
