"""Fixed cost of a workflow job: start-up of every stage, cold and forked from the warm stage server,
and Snakemake's planning time for the paper's grid and the demo's. One run, one machine.

    python benchmarks/job_startup.py [--repeats 3] [--out benchmarks/results/job-startup.md]

Cold: a new Python process imports the stage's module (what a job without the server pays before
its work). Warm: a new Python process hands a no-op to the stage server and gets its answer (what a
local job pays with `warm_start: true`). Planning: `snakemake -n --forceall all_tables` (every job
planned), wall clock.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# rule -> the module its script hands the work to; train's with torch._dynamo, which torch.optim imports
# when a training builds its first optimizer (the stage server preloads it)
STAGES = {
    "prune": "n2n.pruners", "add_skips": "n2n.skips", "train": "n2n.training, torch._dynamo",
    "evaluate": "n2n.evaluation",
    "adjacency": "n2n.connectivity", "heat_signature": "n2n.heat", "table": "n2n.tables", "figure": "n2n.plots",
}
NOOP_JOB = "from n2n.stage import run_stage; run_stage('n2n.registry:all_methods', {log!r})"


def wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    return planned(cmd, env)[0]


def planned(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds of `cmd` and, for a Snakemake dry run, the jobs it plans (its "total" line; 0 otherwise)."""
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, env=env)
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, flags=re.M)
    return time.perf_counter() - began, int(total.group(1)) if total else 0


def median_wall(cmd: list[str], repeats: int, env: dict[str, str] | None = None) -> float:
    return statistics.median(wall(cmd, env) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the figures as a Markdown page here (a publish block)")
    args = parser.parse_args()
    from n2n import stage
    from n2n.provenance import machine, matmul_rate

    rate = matmul_rate(1024, 1, 2.0)

    python = sys.executable
    bare = median_wall([python, "-c", "pass"], args.repeats)
    print(f"{'stage':<16}{'cold start (s)':>16}")
    cold = {}
    for rule, module in STAGES.items():
        cold[rule] = median_wall([python, "-c", f"import {module}"], args.repeats)
        print(f"{rule:<16}{cold[rule]:>16.2f}")
    process = stage.start_server()
    try:
        time.sleep(1)
        log = str(ROOT / "results" / ".job_startup_benchmark.log")
        env = dict(os.environ)
        wall([python, "-c", NOOP_JOB.format(log=log)], env)  # the server finishes its preload
        warm = median_wall([python, "-c", NOOP_JOB.format(log=log)], args.repeats, env)
    finally:
        stage.stop_server(process)
        Path(log).unlink(missing_ok=True)
    print(f"\nbare python: {bare:.2f} s; a job forked from the stage server: {warm:.2f} s")
    print(f"cold start / warm start: train {cold['train'] / warm:.0f}x, heat_signature "
          f"{cold['heat_signature'] / warm:.0f}x, figure {cold['figure'] / warm:.0f}x")
    paper, paper_jobs = planned([SNAKEMAKE, "-n", "--forceall", "all_tables", "--cores", "2", "--nolock"])
    demo, demo_jobs = planned([SNAKEMAKE, "-n", "--forceall", "all_tables", "--cores", "2", "--nolock", "--configfile",
                               "config/demo.yaml"])
    print(f"\nplanning (snakemake -n --forceall all_tables): paper grid {paper:.1f} s, demo grid {demo:.1f} s "
          f"(= {paper / cold['train']:.1f} and {demo / cold['train']:.1f} cold train-job starts)")
    if args.out is not None:
        notes = {"figure": " (seaborn)", "train": " (with torch._dynamo, for its first optimizer)"}
        text = "\n".join([
            f"*`benchmarks/job_startup.py`: {machine()}, {datetime.date.today().isoformat()}, fp32 matmul "
            f"{rate:.1f} GFLOP/s on one thread, the median of {args.repeats} starts.*", "",
            "| stage | start-up of a job without the server (s) |", "|---|---|",
            *(f"| {rule} | {cold[rule]:.2f}{notes.get(rule, '')} |" for rule in STAGES), "",
            f"A job forked from the server starts in {warm:.2f} s (bare Python: {bare:.2f} s), "
            f"{cold['train'] / warm:.0f}x faster than a cold training job. Planning every job "
            f"(Snakemake's dry run with `-n --forceall all_tables`) "
            f"takes {paper:.1f} s for the paper grid's {paper_jobs:,} jobs and {demo:.1f} s for the demo's "
            f"{demo_jobs:,} (as much as "
            f"{paper / cold['train']:.1f} and {demo / cold['train']:.1f} cold training-job starts)."]) + "\n"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
