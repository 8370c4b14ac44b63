"""What a study's run cost, recorded by the run itself: `results/<study>/run.json`.

`python -m n2n timed results/sparse -- snakemake ...` (the Makefile's study targets) measures the
machine's fp32 matmul rate just before the command, runs it, and records its wall time, exit code,
the CPU time the hypervisor stole from the machine meanwhile (/proc/stat), the jobs it ran (their
benchmark files) and each training's seconds. A run that was stopped and started again is recorded as
its invocations, each with its own jobs; one that ran no job adds nothing. `make publish-study-sparse`
keeps the record in the study's folder of the repository and publishes it as the page's `run` block,
so that no page states a run's time, machine or rate by hand. What a study left out for time is priced
at its record's seconds per training (`left_out.yaml` beside it: the page's `left-out` block).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from n2n.io import write_json
from n2n.provenance import commit, machine, matmul_rate

RECORD = "run.json"


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of every CPU since boot, or None where /proc/stat is absent."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_fraction(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time stolen between two cpu_times() readings (None where either is missing)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


def benchmark_seconds(path: Path) -> float | None:
    """A Snakemake benchmark file's wall seconds (None where it holds no finished measurement)."""
    try:
        return float(path.read_text().splitlines()[1].split("\t")[0])
    except (OSError, IndexError, ValueError):
        return None


def minutes_text(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)  # rounded first: 59.6 s is "1 min 0 s", never "0 min 60 s"
    return f"{minutes} min {rest} s"


def training_seconds(results: Path, since: float = 0.0) -> list[dict[str, Any]]:
    """Each training's wall seconds (its Snakemake benchmark file) finished after `since` (epoch seconds)."""
    rows = []
    for bench in sorted(results.glob("*/*/*/*/seed*/logs/train.benchmark.tsv")):
        if bench.stat().st_mtime < since:
            continue
        model, dataset, method, density, seed = bench.parts[-7:-2]
        seconds = benchmark_seconds(bench)
        if seconds is None:  # not a finished benchmark file: the record is written anyway
            continue
        rows.append({"model": model, "dataset": dataset, "method": method, "density": density,
                     "seed": int(seed[4:]), "seconds": round(seconds, 1)})
    return rows


def _call(command: list[str]) -> int:
    """The command's exit code. Ctrl-C reaches it from the terminal, so this process only waits for it to
    finish its own clean-up (Snakemake's removal of half-written outputs); SIGTERM and SIGHUP are passed on."""
    proc = subprocess.Popen(command)

    def forward(signum: int, frame: Any) -> None:
        proc.send_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGINT, lambda signum, frame: None), (signal.SIGTERM, forward), (signal.SIGHUP, forward))}
    try:
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def timed(results: str, command: list[str], root: str = ".", rate_seconds: float = 2.0) -> int:
    """Run `command`, then add its invocation to the run record in `results`; returns its exit code.
    The matmul rate is the best over `rate_seconds` for each thread count."""
    folder = Path(results)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    rates = {str(threads): round(matmul_rate(1024, threads, rate_seconds), 1) for threads in sorted({1, cores})}
    cpu_before, started = cpu_times(), time.time()
    code = _call(command)
    ended, cpu_after = time.time(), cpu_times()
    jobs = [p for p in folder.glob("**/*.benchmark.tsv") if p.stat().st_mtime >= started]
    if not jobs:
        return code  # nothing was (re)computed: the record of the run that computed it stands
    steal = steal_fraction(cpu_before, cpu_after)
    invocation = {
        "command": " ".join(command),  # as typed: the Makefile's `.venv/bin/snakemake ...`
        "exit_code": code, "started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "seconds": round(ended - started, 1), "commit": commit(Path(root)), "machine": machine(),
        "matmul_gflops": rates, "steal_fraction": steal, "jobs": len(jobs),
        "trainings": training_seconds(folder, since=started)}
    path = folder / RECORD
    earlier = json.loads(path.read_text())["invocations"] if path.exists() else []
    # a run that ended well starts a new record; one that was stopped is continued by the next invocation
    if earlier and earlier[-1]["exit_code"] == 0:
        earlier = []
    write_json(path, {"invocations": earlier + [invocation]})
    return code


def seconds_by_method(record: dict[str, Any]) -> dict[str, list[float]]:
    """Each method's seconds per training over the record's invocations."""
    by_method: dict[str, list[float]] = {}
    for run in record["invocations"]:
        for row in run["trainings"]:
            by_method.setdefault(row["method"], []).append(row["seconds"])
    return by_method


def run_block(record: dict[str, Any], shown: str) -> str:
    """The record as a page's `run` block: what ran, how long, on what, and each method's seconds per training."""
    runs = record["invocations"]
    first, last = runs[0], runs[-1]
    rates = first["matmul_gflops"]
    rate_text = " and ".join(f"{rate:.0f}" + (" GFLOP/s" if i == 0 else "") + f" on {threads} thread"
                             + ("s" if int(threads) > 1 else "")
                             for i, (threads, rate) in enumerate(sorted(rates.items(), key=lambda kv: int(kv[0]))))
    steals = [r["steal_fraction"] for r in runs]
    steal_text = ("not measured" if None in steals else
                  f"{100 * max(steals):.1f} % of the CPU time" + (" at most" if len(runs) > 1 else ""))
    seconds, jobs = sum(r["seconds"] for r in runs), sum(r["jobs"] for r in runs)
    over = "" if len(runs) == 1 else (f" over {len(runs)} invocations ("
                                     + ", ".join(minutes_text(r["seconds"]) for r in runs) + ")")
    outcome = "" if last["exit_code"] == 0 else f" Its last invocation failed (exit code {last['exit_code']})."
    if "recovered_from" in last:  # studies/recover_cells.py: a run whose outputs are gone
        outcome += (f" Recovered from what the run published (`{last['recovered_from']}`); "
                    "each training's own seconds were not kept.")
    if "note" in last:
        outcome += " " + last["note"]
    lines = [f"*From `{shown}/{RECORD}`: commit {last['commit']}, {last['machine']}, {first['started'][:10]}.*", "",
             f"`{last['command']}` ran {jobs} job{'s' if jobs != 1 else ''} in **{minutes_text(seconds)}** ({seconds:.0f} s){over}. "
             f"The machine's fp32 matmul ran at {rate_text} just before; "
             f"steal time during the run: {steal_text}.{outcome}"]
    by_method = seconds_by_method(record)
    if by_method:
        lines += ["", "| method | trainings | seconds per training (min, median, max) |", "|---|---|---|"]
        lines += [f"| {method} | {len(secs)} | {min(secs):.0f}, {statistics.median(secs):.0f}, {max(secs):.0f} |"
                  for method, secs in sorted(by_method.items())]
    return "\n".join(lines) + "\n"


def left_out_block(record: dict[str, Any], spec: dict[str, Any], shown: str) -> str:
    """The cells a study left out for time (`spec`: its left_out.yaml), each row's trainings priced at the
    run's median seconds per training of the methods that stand for them, `at_a_time` trainings at once."""
    medians = {method: statistics.median(secs) for method, secs in seconds_by_method(record).items()}
    at_a_time = spec["at_a_time"]
    run_seconds = sum(r["seconds"] for r in record["invocations"])
    lines = [f"*Priced from `{shown}/{RECORD}` (the run's median seconds per training, {at_a_time} trainings at "
             f"a time) and `{shown}/left_out.yaml`; the run itself took {minutes_text(run_seconds)}.*", "",
             "| left out | trainings | priced as | cost | the run with it |", "|---|---|---|---|---|"]
    for row in spec["left_out"]:
        priced = row.get("priced_as")
        if priced is None:
            lines.append(f"| {row['cells']} | {row.get('trainings', '')} | | {row['unpriced']} | |")
            continue
        missing = sorted(set(priced) - set(medians))
        if missing:
            raise ValueError(f"{shown}/left_out.yaml prices {row['cells']!r} as {missing}, which the run did not "
                             f"train (it trained {sorted(medians)})")
        seconds = sum(count * medians[method] for method, count in priced.items()) / at_a_time
        as_text = ", ".join(f"{count} × {method}" for method, count in priced.items())
        lines.append(f"| {row['cells']} | {sum(priced.values())} | {as_text} | {minutes_text(seconds)} | "
                     f"{minutes_text(run_seconds + seconds)} |")
    return "\n".join(lines) + "\n"


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    if not path.exists():
        raise FileNotFoundError(f"a block names the run of {folder}, but {path} does not exist (the Makefile's "
                                "study targets write it: run the study with `make`, then `make publish-...`)")
    return json.loads(path.read_text())
