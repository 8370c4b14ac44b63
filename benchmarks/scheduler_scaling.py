"""Snakemake's own cost as the job count grows: threads, CPU and exit delay on trivial jobs shaped like the grid.

    .venv/bin/python benchmarks/scheduler_scaling.py --jobs 100 300 1000 3443 --variants default shipped
    .venv/bin/python benchmarks/scheduler_scaling.py --jobs 300 --profile slurm   # on tests/slurm/local_slurm.sh
    .venv/bin/python benchmarks/scheduler_scaling.py watch make demo              # a real run, sampled

A generated workflow has one chain of the six cell stages (prune, add_skips, train, evaluate, adjacency,
heat_signature: each `touch`es its output) per cell and one aggregate over every cell, so N jobs are about
N / 6 cells. Snakemake runs it as the README types it (`--cores 2`, or a shipped profile: `profiles/local`,
or `slurm` for the SLURM executor) while its process is sampled every 0.1 s. Per N and variant it prints:
Snakemake's own CPU seconds (user + system, its threads included, its jobs' processes not) and per finished
job, its peak thread count, wall seconds per job, and the delay from the last job's output to its exit.

Variants: `default` is Snakemake as installed; `shipped` reads the project's `rules/scheduler.smk` first, as
the project's Snakefile does (n2n/scheduling.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["prune", "add_skips", "train", "evaluate", "adjacency", "heat_signature"]
VARIANTS = {
    "default": "",
    "shipped": f'include: "{ROOT / "rules" / "scheduler.smk"}"\n',
}


def snakefile(variant: str, cells: int, job_seconds: float = 0.0) -> str:
    rules = [VARIANTS[variant], f"CELLS = range({cells})\n",
             'rule all:\n    input: "aggregate.txt"\n    localrule: True\n',
             'rule aggregate:\n    input: expand("c{i}/heat_signature.txt", i=CELLS)\n    output: "aggregate.txt"\n'
             '    shell: "touch {output}"\n']
    previous = None
    for stage in STAGES:
        needs = f'    input: "c{{i}}/{previous}.txt"\n' if previous else ""
        work = f"sleep {job_seconds:g}; " if job_seconds else ""
        rules.append(f'rule {stage}:\n{needs}    output: "c{{i}}/{stage}.txt"\n    shell: "{work}touch {{output}}"\n')
        previous = stage
    return "\n".join(rules)


def run_once(jobs: int, variant: str, profile: str | None, keep: bool, job_seconds: float = 0.0,
             extra: tuple[str, ...] = ()) -> dict[str, float]:
    cells = max(1, round((jobs - 2) / len(STAGES)))
    folder = Path(tempfile.mkdtemp(prefix=f"sched-{variant}-{jobs}-", dir=os.environ.get("BENCH_DIR")))
    (folder / "Snakefile").write_text(snakefile(variant, cells, job_seconds))
    if profile:
        source = ROOT / (profile if profile != "local" else "profiles/local")
        shutil.copytree(source, folder / Path(profile).name, ignore=shutil.ignore_patterns("bin"))
    command = [str(Path(sys.executable).parent / "snakemake"), "--quiet", "progress"]
    command += (["--profile", Path(profile).name] if profile else ["--cores", "2"]) + list(extra)
    began = time.perf_counter()
    log = (folder / "snakemake.log").open("w")  # a file, not a pipe: a full pipe would stop Snakemake
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(process.pid)
    peak_threads, cpu = 0, 0.0
    while process.poll() is None:
        try:
            with watched.oneshot():
                peak_threads = max(peak_threads, watched.num_threads())
                times = watched.cpu_times()
                cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    ended = time.perf_counter()
    log.close()
    if process.returncode != 0:
        raise RuntimeError(f"snakemake exited {process.returncode} in {folder}:\n"
                           f"{(folder / 'snakemake.log').read_text()[-2000:]}")
    last_output = (folder / "aggregate.txt").stat().st_mtime
    exit_delay = time.time() - (time.perf_counter() - ended) - last_output
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    total = cells * len(STAGES) + 2
    return {"jobs": total, "cpu": cpu, "cpu_per_job": cpu / total, "threads": peak_threads,
            "wall_per_job": (ended - began) / total, "exit_delay": exit_delay, "wall": ended - began}


def watch(command: list[str]) -> None:
    """Run `command` (`make demo`, say) and sample every Snakemake process it starts (by its program, not the
    jobs' `python -m snakemake`): the busiest one's CPU against the run's wall time x cores, and its peak
    thread count."""
    began = time.perf_counter()
    process = subprocess.Popen(command)
    stats: dict[int, list[float]] = {}  # pid -> [cpu seconds, peak threads]
    while process.poll() is None:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                if "bin/snakemake" not in " ".join(child.cmdline()[:2]):
                    continue
                with child.oneshot():
                    times, threads = child.cpu_times(), child.num_threads()
                entry = stats.setdefault(child.pid, [0.0, 0])
                entry[0], entry[1] = times.user + times.system, max(entry[1], threads)
            except psutil.Error:
                pass
        time.sleep(0.2)
    wall = time.perf_counter() - began
    cores = len(os.sched_getaffinity(0))
    cpu, threads = max(stats.values(), default=[0.0, 0])
    print(f"{' '.join(command)}: exit {process.returncode}, {wall:.0f} s; Snakemake's own CPU {cpu:.1f} s, "
          f"{100 * cpu / (wall * cores):.2f} % of wall time x {cores} cores; peak threads {threads:.0f}")


def main() -> None:
    if sys.argv[1:2] == ["watch"]:
        return watch(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", nargs="+", type=int, default=[100, 300, 1000, 3443])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["default", "shipped"])
    parser.add_argument("--profile", help="a shipped profile: local or slurm (default: --cores 2, no profile)")
    parser.add_argument("--keep", action="store_true", help="keep each run's folder")
    parser.add_argument("--job-seconds", type=float, default=0.0, help="each stage sleeps this long before it "
                        "touches its output (0: trivial jobs)")
    parser.add_argument("--snakemake-args", default="", help="more arguments for Snakemake, e.g. the SLURM "
                        "executor's shorter status checks")
    parser.add_argument("--out", type=Path, help="also write the table here (Markdown, with its machine)")
    args = parser.parse_args()
    import datetime

    from matmul_rate import rate
    from n2n.publish import machine

    version = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--version"], capture_output=True,
                             text=True).stdout.strip()
    lines = [f"*`benchmarks/scheduler_scaling.py --jobs {' '.join(map(str, args.jobs))} --variants "
             f"{' '.join(args.variants)}{' --profile ' + args.profile if args.profile else ''}"
             f"{f' --job-seconds {args.job_seconds:g}' if args.job_seconds else ''}"
             f"{f' --snakemake-args {chr(34)}{args.snakemake_args}{chr(34)}' if args.snakemake_args else ''}`: "
             f"Snakemake {version}, "
             f"{machine()}, fp32 matmul {rate(1024, 1, 2.0):.0f} GFLOP/s on one thread, "
             f"{datetime.date.today().isoformat()}.*", "",
             "| variant | jobs | Snakemake CPU (s) | CPU per job (ms) | peak threads | wall per job (ms) | exit delay (s) |",
             "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for variant in args.variants:
        for jobs in args.jobs:
            r = run_once(jobs, variant, args.profile, args.keep, args.job_seconds, tuple(shlex.split(args.snakemake_args)))
            lines.append(f"| {variant} | {r['jobs']:.0f} | {r['cpu']:.1f} | {1000 * r['cpu_per_job']:.1f} | "
                         f"{r['threads']:.0f} | {1000 * r['wall_per_job']:.0f} | {r['exit_delay']:.1f} |")
            print(lines[-1], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
