"""Snakemake's own threads stay flat as jobs finish, with the workflow's scheduler setting (rules/scheduler.smk),
on a real Snakemake run of 98 trivial jobs shaped like the grid (benchmarks/scheduler_scaling.py)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from scheduler_scaling import run_once  # noqa: E402

from n2n.scheduling import METHOD, coalesce_reevaluations  # noqa: E402


def test_the_shipped_setting_keeps_threads_flat_and_exits_soon_after_the_last_job(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    # Snakemake 9 as installed ends 98 such jobs with over 90 threads, one more wake-up chain per finished job
    run = run_once(98, "shipped", "local", keep=False, job_seconds=0.1)  # 16 cells of 6 stages, and 2 more
    assert run["jobs"] >= 98
    assert run["threads"] <= 20, run
    assert run["exit_delay"] < 10, run


def test_one_pending_wake_up_serves_every_request_and_never_holds_the_exit():
    class Scheduler:  # the two members of Snakemake's JobScheduler the wake-up uses
        def __init__(self):
            self._open_jobs = threading.Semaphore(0)

        def _schedule_reevalutation(self, delay):
            raise AssertionError("replaced")

    assert coalesce_reevaluations(Scheduler) and not coalesce_reevaluations(object)
    scheduler = Scheduler()
    before = threading.active_count()
    for _ in range(50):
        getattr(scheduler, METHOD)(0.2)
    assert threading.active_count() - before == 1
    pending = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    assert pending and all(t.daemon for t in pending)
    assert scheduler._open_jobs.acquire(timeout=2)  # it fires once
    assert not scheduler._open_jobs.acquire(timeout=0.4)  # and only once
    time.sleep(0.05)
    getattr(scheduler, METHOD)(0.01)  # a wake-up after the last fired is armed again
    assert scheduler._open_jobs.acquire(timeout=2)
