"""The README's quick start as a new user meets it: `make demo` then `make test`, each timed, in a fresh clone.

    .venv/bin/python benchmarks/fresh_clone.py --out benchmarks/results/fresh-clone.md

Clones the checkout's commit into an empty folder beside it, runs `make demo` (the install included) and
`make test` there, and prints the wall time of each, the steal time during it (/proc/stat), the test
summary line and the machine's fp32 matmul rate measured before. `--without-slurm` hides SLURM's
daemons from `make test` (its live tests then skip), as on a machine without a cluster;
`--without-system-data` hides Debian's data sets from it (N2N_SYSTEM_DATA=off), as on a new machine;
`--test-runs N` runs `make test` N times in a row (a flake shows as one failed run); `--commit REV` times
another commit than the checkout's (a baseline, timed on the same machine in the same session). The clone,
with its 6 GB venv, is deleted afterwards, whatever happened. docs/tests.md publishes `--out`'s table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from n2n.provenance import commit, machine, matmul_rate
from n2n.registry import SYSTEM_DATA_ENV
from n2n.runrecord import cpu_times, minutes_text, steal_fraction

ROOT = Path(__file__).resolve().parent.parent
# the live SLURM tests run where these daemons are found (tests/test_cluster_slurm.py); the client programs
# share /usr/bin with make and python, so only the daemons' folders are left out
SLURM_DAEMONS = ("slurmctld", "slurmdbd", "slurmd")


def path_without_slurm() -> str:
    """PATH with every folder that holds a SLURM daemon left out."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any((Path(d) / program).exists() for program in SLURM_DAEMONS)]
    return os.pathsep.join(kept)


def timed_make(target: str, folder: Path, env: dict[str, str], log: Path) -> dict:
    before, began = cpu_times(), time.time()
    with open(log, "w") as fh:
        code = subprocess.call(["make", target], cwd=folder, env=env, stdout=fh, stderr=subprocess.STDOUT)
    seconds, after = time.time() - began, cpu_times()
    steal = steal_fraction(before, after)
    text = log.read_text()
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*? in [\d.]+s)", text, flags=re.M)
    return {"target": target, "code": code, "seconds": seconds, "steal": steal,
            "summary": summary[-1] if summary else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--without-slurm", action="store_true", help="hide SLURM's daemons from make test")
    parser.add_argument("--without-system-data", action="store_true",
                        help="hide system-wide data sets (Debian's Fashion-MNIST) from make test")
    parser.add_argument("--test-runs", type=int, default=1, help="make test this many times in a row")
    parser.add_argument("--commit", help="clone this commit instead of the checkout's (e.g. a baseline to compare)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rates = (matmul_rate(1024, 1, 2.0), matmul_rate(1024, cores, 2.0))
    head = commit(ROOT)
    if args.commit is not None:
        head = subprocess.run(["git", "rev-parse", "--short", args.commit], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="n2n-fresh-clone-", dir=ROOT.parent))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    rows = []
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(folder / "n2n")], check=True)
        subprocess.run(["git", "checkout", "--quiet", head.split()[0]], cwd=folder / "n2n", check=True)
        test_env = dict(env)
        if args.without_slurm:
            test_env["PATH"] = path_without_slurm()
        if args.without_system_data:
            test_env[SYSTEM_DATA_ENV] = "off"
        for run, target in enumerate(["demo", *["test"] * args.test_runs]):
            log = folder / f"{target}{run}.log"
            rows.append(timed_make(target, folder / "n2n", test_env if target == "test" else env, log))
            print(f"make {target}: exit {rows[-1]['code']}, {rows[-1]['seconds']:.0f} s", flush=True)
            if rows[-1]["code"] != 0:
                print(log.read_text()[-3000:], file=sys.stderr)
                if target == "demo":
                    break
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    flags = "".join(f" {flag}" for flag, on in (("--without-slurm", args.without_slurm),
                                                ("--without-system-data", args.without_system_data),
                                                (f"--test-runs {args.test_runs}", args.test_runs != 1)) if on)
    lines = [f"*`benchmarks/fresh_clone.py{flags}`: a fresh clone of "
             f"commit {head.split()[0]}, {machine()}, {datetime.date.today().isoformat()}; fp32 matmul "
             f"{rates[0]:.0f} GFLOP/s on one thread and {rates[1]:.0f} on {cores} just before.*", "",
             "| command | wall time | steal time | result |", "|---|---|---|---|"]
    for row in rows:
        steal = "not measured" if row["steal"] is None else f"{100 * row['steal']:.1f} %"
        result = row["summary"] or ("done" if row["code"] == 0 else "")
        if row["code"] != 0:
            result = f"failed (exit {row['code']}) {result}".strip()
        lines.append(f"| `make {row['target']}` | {minutes_text(row['seconds'])} | {steal} | {result} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if any(row["code"] != 0 for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
