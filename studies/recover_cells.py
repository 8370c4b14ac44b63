"""How studies/study/cells.parquet and studies/sparse-w05/cells.parquet were made: their runs' outputs are gone, so
each is rebuilt from the per-seed test accuracies its run published (docs/studies.md at commit d6ed8ea, the
`cells` block written by `n2n publish` from the run's acc.json files). Accuracy is all those blocks hold:
claims 3 and 4 (the early epoch's accuracy, F at t_sat) wait for each study's next run, and the health
facts are the blocks' own (no seed was marked unhealthy).

Their run records (run.json, n2n.runrecord) are rebuilt the same way from the facts each run published in
prose (RUNS): its wall time, jobs, commit and the machine's rate. Its trainings' seconds were published as
ranges only, so a record holds none of its own: the ranges stand in its note, as published.

    .venv/bin/python studies/recover_cells.py
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from n2n.cells import COLUMNS
from n2n.io import write_parquet

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "d6ed8ea:docs/studies.md"
WAITING = ("the run published test accuracies only: it waits for this study's next run "
           "(`python -m n2n claims --cells` on its cells file)")
# each study's results folder then -> its folder in studies/ now (the sparse study at width 0.5 is a record
# beside the sparse study's later runs)
FOLDERS = {"study": "study", "sparse": "sparse-w05"}
STUDIES = {  # the grids of each config (config/study.yaml, config/sparse.yaml) at that commit
    "study": {"early_epoch": 1, "table1": lambda m, d: True,
              "skip_comparison": lambda m, d: m in ("n2nskip-rp", "n2nskip-csp")},
    "sparse": {"early_epoch": 1, "table1": lambda m, d: not m.startswith("resskip"),
               "skip_comparison": lambda m, d: d == 0.05 and m.split("-")[0] in ("n2nskip", "resskip")},
}


def published(page: str, study: str) -> tuple[list[dict], dict[str, str]]:
    block = re.search(rf"<!-- BEGIN results/{study} cells -->\n(.*?)<!-- END", page, re.S).group(1)
    commit, cpu, date = re.search(r"commit (\w+), (.+), (\d{4}-\d\d-\d\d)\.\*", block).groups()
    rows = []
    for model, method, density, seeds in re.findall(r"^\| (\w+) \| ([\w-]+) \| ([\d.]+) \| (.+) \|$", block, re.M):
        for seed, accuracy in re.findall(r"s(\d+) ([\d.]+)", seeds):
            rows.append({"model": model, "dataset": "fashion_mnist_16", "method": method, "density": float(density),
                         "seed": int(seed), "test_accuracy": float(accuracy)})
    return rows, {"commit": commit, "cpu": cpu, "date": date}


TRAININGS_THEN = ("With one thread each, two at a time, a VGG19 training took 73-137 s (median 95) and a ResNet50 "
                  "training 98-213 s (median 126; its N2NSkip twins 167-202 s, their skip convolutions included).")
RUNS = {  # a run's facts as the page its run published states them; its trainings' seconds only as ranges there
    "study": {"command": "make study", "note": "Its time was taken by `time`, the install included. "
              + TRAININGS_THEN,
              "exit_code": 0, "started": "2026-12-02", "seconds": 5380.0, "commit": "d3f91b7",
              "machine": "AMD EPYC, 2 cores", "matmul_gflops": {"1": 92.0, "2": 178.0}, "steal_fraction": 0.0,
              "jobs": 373, "trainings": [], "recovered_from": "270e3ac:docs/studies.md"},
    "sparse-w05": {"command": "make study-sparse", "note": "Its time was taken by `time`, the install included.",
                   "exit_code": 0, "started": "2026-12-03", "seconds": 6640.0, "commit": "c0d297b",
                   "machine": "AMD EPYC, 2 cores", "matmul_gflops": {"1": 91.0, "2": 178.0}, "steal_fraction": 0.0,
                   "jobs": 288, "trainings": [], "recovered_from": "d6ed8ea:docs/studies.md"},
}


def recover_runs() -> None:
    import json

    for folder, run in RUNS.items():  # each fact as the page states it
        page = subprocess.run(["git", "show", run["recovered_from"]], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
        text = re.sub(r"\s+", " ", page)
        minutes, seconds = divmod(int(run["seconds"]), 60)
        for fact in (f"{run['jobs']} jobs in {minutes} min {seconds} s", f"fresh clone of commit {run['commit']}",
                     f"fp32 matmul runs at {run['matmul_gflops']['1']:.0f} GFLOP/s on one thread and "
                     f"{run['matmul_gflops']['2']:.0f} on two", *([TRAININGS_THEN] if TRAININGS_THEN in run["note"] else [])):
            assert fact in text, f"{run['recovered_from']} does not say {fact!r}"
        (ROOT / "studies" / folder / "run.json").write_text(json.dumps({"invocations": [run]}, indent=2,
                                                                       sort_keys=True) + "\n")
        print(f"studies/{folder}/run.json from {run['recovered_from']}")


def main() -> None:
    page = subprocess.run(["git", "show", SOURCE], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for study, grids in STUDIES.items():
        rows, run = published(page, study)
        cells = pd.DataFrame(rows)
        cells["in_table1"] = [grids["table1"](m, d) for m, d in zip(cells["method"], cells["density"])]
        cells["in_skip_comparison"] = [grids["skip_comparison"](m, d) for m, d in zip(cells["method"], cells["density"])]
        cells["in_convergence"] = cells["in_table3"] = False
        for column in COLUMNS:
            if column not in cells:
                cells[column] = run.get(column, np.nan)
        cells = cells[COLUMNS].sort_values(["model", "dataset", "method", "density", "seed"], ignore_index=True)
        cells.attrs = {"t_sat": 1.0, "claims": {"early_epoch": grids["early_epoch"]}, "health": {},
                       "recovered_from": SOURCE, "waiting": {"3": WAITING, "4": WAITING}}
        folder = ROOT / "studies" / FOLDERS[study]
        folder.mkdir(parents=True, exist_ok=True)
        write_parquet(folder / "cells.parquet", cells)
        print(f"{folder / 'cells.parquet'}: {len(cells)} cells x seeds from {SOURCE} (commit {run['commit']})")


if __name__ == "__main__":
    main()
    recover_runs()
