"""Snakemake's own threads stay flat as jobs finish, with the workflow's scheduler setting (rules/scheduler.smk),
on a real Snakemake run of 98 trivial jobs shaped like the grid (benchmarks/scheduler_scaling.py); the patch
never costs a run (a Snakemake it does not know is left as it is); and a canary says when upstream no longer
needs it."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from scheduler_scaling import run_once  # noqa: E402

from n2n import scheduling  # noqa: E402
from n2n.scheduling import METHOD, coalesce_reevaluations, patch_snakemake  # noqa: E402

JOBS = 98  # 16 cells of 6 stages, and 2 more


def test_the_shipped_setting_keeps_threads_flat_and_exits_soon_after_the_last_job(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    run = run_once(JOBS, "shipped", "local", keep=False, job_seconds=0.1)
    assert run["jobs"] >= JOBS
    assert run["threads"] <= 20, run
    assert run["exit_delay"] < 10, run


def test_canary_unpatched_snakemake_still_grows_threads_with_finished_jobs(tmp_path, monkeypatch):
    """The day this fails, upstream has fixed its wake-ups: rules/scheduler.smk and n2n/scheduling.py can go."""
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    run = run_once(JOBS, "default", "local", keep=False, job_seconds=0.1)
    assert run["threads"] > 40, f"unpatched Snakemake peaked at {run['threads']} threads: the patch may be obsolete"


class Scheduler:  # the two members of Snakemake's JobScheduler the wake-up uses
    def __init__(self):
        self._open_jobs = threading.Semaphore(0)
        self.own_calls = []

    def _schedule_reevalutation(self, delay):
        self.own_calls.append(delay)


def test_one_pending_wake_up_serves_every_later_request_and_never_holds_the_exit():
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
    assert scheduler.__dict__[scheduling.STATE].timer is None  # cleared by the timer itself
    getattr(scheduler, METHOD)(0.01)  # a wake-up after the last fired is armed again
    assert scheduler._open_jobs.acquire(timeout=2)
    assert scheduler.own_calls == []


def test_a_wake_up_requested_earlier_than_the_pending_one_is_honoured():
    coalesce_reevaluations(Scheduler)
    scheduler = Scheduler()
    getattr(scheduler, METHOD)(30)
    began = time.monotonic()
    getattr(scheduler, METHOD)(0.05)
    assert scheduler._open_jobs.acquire(timeout=5)
    assert time.monotonic() - began < 5
    assert not scheduler._open_jobs.acquire(timeout=0.3)  # the later one was replaced, not kept as well
    assert [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()] == []


def test_a_surprise_during_a_run_falls_back_to_snakemakes_own_wake_up():
    coalesce_reevaluations(Scheduler)
    scheduler = Scheduler()
    del scheduler._open_jobs  # a renamed member, say
    getattr(scheduler, METHOD)(1)
    assert scheduler.own_calls == [1]


def test_a_snakemake_without_the_scheduler_it_knows_is_left_as_it_is_with_one_warning(monkeypatch):
    warnings = []
    monkeypatch.setattr(scheduling, "SCHEDULER_MODULE", "snakemake.no_such_scheduler")
    assert not patch_snakemake(warnings.append)
    assert len(warnings) == 1 and "snakemake.no_such_scheduler" in warnings[0]
    monkeypatch.setattr(scheduling, "SCHEDULER_MODULE", "threading")
    monkeypatch.setattr(scheduling, "SCHEDULER_CLASS", "Timer")  # a class without the method
    assert not patch_snakemake(warnings.append)
    assert len(warnings) == 2 and METHOD in warnings[1]


def test_the_patch_applies_in_the_main_process_only(tmp_path):
    """A cluster job's own Snakemake process (`--mode remote`, as the SLURM plugin starts it) schedules nothing:
    it reads the Snakefile without the patch and without its import's risk."""
    import subprocess

    (tmp_path / "Snakefile").write_text(
        f'include: "{ROOT / "rules" / "scheduler.smk"}"\n'
        "from snakemake.scheduling.job_scheduler import JobScheduler\n"
        "import n2n.scheduling\n"
        'with open(f"patched-{workflow.exec_mode.name}", "w") as fh:\n'
        "    fh.write(str(JobScheduler._schedule_reevalutation is n2n.scheduling._reevaluate_once))\n"
        'rule a:\n    output: "a.txt"\n    shell: "touch {output}"\n')
    python = str(Path(sys.executable))
    for mode in ("default", "remote"):
        proc = subprocess.run([python, "-m", "snakemake", "--mode", mode, "--cores", "1", "--forceall", "a.txt"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "patched-DEFAULT").read_text() == "True"
    assert (tmp_path / "patched-REMOTE").read_text() == "False"
