"""The premise table: where does pruning cost accuracy? Dense networks and the plain pruners only.

The paper's claims 1, 2 and 5 are about recovering what pruning loses, so a study asks them only in a
regime where the plain pruner loses accuracy against the dense network. This script measures candidate
regimes blind to N2NSkip: it trains the dense network and the plain pruners (never an N2NSkip or
ResSkip twin), and checks every twin's health at initialisation from its masks alone.

    .venv/bin/python benchmarks/premise.py health --widths 0.25 0.3125 0.375 0.4375 0.5 --out studies/premise
    .venv/bin/python benchmarks/premise.py health --widths 0.3125 0.375 --densities 0.04 0.03 0.025 --out studies/premise
    .venv/bin/python benchmarks/premise.py health --widths 0.4375 0.5 --densities 0.04 0.03 --out studies/premise
    .venv/bin/python benchmarks/premise.py train --width 0.3125 --train-images 60000 --epochs 4 --seeds 100 101 102
    .venv/bin/python benchmarks/premise.py table --out studies/premise

`train` runs the project's own pipeline (snakemake, the study's config with the candidate's settings
over it) for dense and each plain pruner at each density, one thread per training and `--cores`
trainings at a time, into results/premise/<candidate>/. Finished cells are kept: a rerun with more
seeds trains only the new ones. `table` reads every candidate's cells and prints, per candidate and
density, each seed's accuracy, the loss against dense paired by seed with its 95 % t interval, the
loss growth from 0.1 to the lower density (claim 2's premise), each cell's health, and the seconds
per training with the machine's fp32 matmul rate, and the design power: the smallest effect 5 paired
seeds detect with 80 % power at 0.05, from the pilot's paired differences between pruned networks at the
upper 80 % limit of their spread (n2n.stats.pilot_design_effect). Choose a regime on seeds the study will
not use (100-102, say) and name them in the study's config (`claims.regime_seeds`). `--out` writes the tables
as `premise.md` and `health.md` and the per-seed cells as `cells.csv` there (docs/study-sparse.md
publishes them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "premise"
MODEL, DATASET = "vgg19", "fashion_mnist_16"
CONFIGS = ["config/demo.yaml", "config/study.yaml"]  # the study's recipe; the candidate's settings go over it
TWINS = ["rp", "n2nskip-rp", "resskip-rp", "rp_weights", "n2nskip-rp_weights", "resskip-rp_weights", "csp",
         "n2nskip-csp", "resskip-csp"]
SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}


def candidate_name(width: float, train_images: int, epochs: int) -> str:
    return f"w{width:g}-{train_images // 1000}k-{epochs}ep"


def health(args: argparse.Namespace) -> None:
    """Every twin's health at initialisation (masks only): the widths at which a density is trainable. Rows of
    an existing health.md in `--out` for other widths and densities are kept (a rerun adds to the table)."""
    import torch

    from n2n.connectivity import network_at_init
    from n2n.data import load_dataset
    from n2n.health import mask_health
    from n2n.pruners.channel import ChannelBudgetError

    torch.set_num_threads(1)
    data = load_dataset(DATASET, str(ROOT / "data"))
    rows: dict[tuple[float, float, str], str] = {}
    if args.out is not None and (args.out / "health.md").exists():
        for line in (args.out / "health.md").read_text().splitlines():
            parts = line.split(" | ")
            if line.startswith("| ") and parts[0][2:].replace(".", "").isdigit():
                rows[(float(parts[0][2:]), float(parts[1]), parts[2])] = line
    for width in args.widths:
        for density in args.densities:
            for method in args.methods:
                cut, fewest = [], []
                try:
                    for seed in args.seeds:
                        net = network_at_init(MODEL, DATASET, method, density, seed, width, SKIPS, lambda: data)
                        h = mask_health(net, {})
                        fewest.append((h["min_layer_kept"], h["min_layer_kept_name"]))
                        if h["cut_apart"]:
                            cut.append(str(seed))
                except ChannelBudgetError as err:  # the paper's RP refuses a density too low for whole kernels
                    rows[(width, density, method)] = (f"| {width:g} | {density:g} | {method} | refused | needs at least "
                                                      f"{err.needed} weights |")
                    print(rows[(width, density, method)], flush=True)
                    continue
                kept, layer = min(fewest)
                rows[(width, density, method)] = (f"| {width:g} | {density:g} | {method} | {', '.join(cut) or 'none'} "
                                                  f"| {kept} ({layer}) |")
                print(rows[(width, density, method)], flush=True)
    out = [f"*Masks at initialisation, VGG19 on {DATASET}, seeds {', '.join(map(str, args.seeds))} "
           f"(`benchmarks/premise.py health`), {_machine()}.*", "",
           "| width | density | method | seeds cut apart | fewest kept (layer) |", "|---|---|---|---|---|"]
    out += [rows[key] for key in sorted(rows, key=lambda k: (k[0], -k[1], TWINS.index(k[2])))]
    _write(args.out, "health.md", "\n".join(out) + "\n")


def train(args: argparse.Namespace) -> None:
    from n2n.registry import format_density

    name = candidate_name(args.width, args.train_images, args.epochs)
    folder = RESULTS / name
    folder.mkdir(parents=True, exist_ok=True)
    overlay = {"results_dir": str(folder.relative_to(ROOT)), "seeds": sorted(set(args.seeds) | {0, 1, 2, 3, 4}),
               "width": {MODEL: args.width},
               "training": {"epochs": args.epochs, "train_images": args.train_images, "test_epochs": [1]},
               "claims": {"early_epoch": 1}}
    (folder / "candidate.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    cells = [("dense", 1.0)] + [(p, d) for p in args.pruners for d in args.densities]
    targets = [str(folder.relative_to(ROOT) / MODEL / DATASET / m / format_density(d) / f"seed{s}" / "acc.json")
               for s in args.seeds for m, d in cells]
    command = [str(Path(sys.executable).parent / "snakemake"), *targets, "--cores", str(args.cores),
               "--configfile", *CONFIGS, str((folder / "candidate.yaml").relative_to(ROOT)), "--keep-going"]
    print(" ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def _t_interval(differences: list[float]) -> tuple[float, float, float]:
    """Mean and two-sided 95 % t interval of paired differences (n2n.stats.interval; NaN where none)."""
    import numpy as np

    from n2n.stats import interval

    return interval(np.array(differences, dtype=float))


def _cells(folder: Path) -> list[dict]:
    from n2n.runrecord import benchmark_seconds

    rows = []
    for acc in sorted(folder.glob(f"{MODEL}/{DATASET}/*/*/seed*/acc.json")):
        method, density, seed = acc.parts[-4], float(acc.parts[-3]), int(acc.parts[-2][4:])
        record = json.loads(acc.read_text())
        bench = acc.parent / "logs" / "train.benchmark.tsv"
        seconds = benchmark_seconds(bench) if bench.exists() else None
        seconds = math.nan if seconds is None else seconds
        rows.append({"candidate": folder.name, "method": method, "density": density, "seed": seed,
                     "test_accuracy": float(record["test_accuracy"]), "cut_apart": bool(record.get("cut_apart")),
                     "seconds": seconds})
    return rows


def _machine() -> str:
    from n2n.publish import machine

    return f"{machine()}, {datetime.date.today().isoformat()}"


def _write(folder: Path | None, name: str, text: str) -> None:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _matmul_rate() -> str:
    """The machine's fp32 matmul rate on one thread and on every core (benchmarks/matmul_rate.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from matmul_rate import rate

    cores = len(os.sched_getaffinity(0))
    return f"fp32 matmul {rate(1024, 1, 2.0):.0f} GFLOP/s on one thread, {rate(1024, cores, 2.0):.0f} on {cores}"


def table(args: argparse.Namespace) -> None:
    from n2n.stats import pilot_design_effect

    out = [f"*Trained by `benchmarks/premise.py train` (dense and rp only, one thread per training, two at a "
           f"time), tabled by `benchmarks/premise.py table` on {_machine()}: {_matmul_rate()}.*"]
    all_rows = []
    for folder in sorted(p for p in RESULTS.iterdir() if (p / "candidate.yaml").exists()):
        rows = _cells(folder)
        if not rows:
            continue
        all_rows += rows
        settings = yaml.safe_load((folder / "candidate.yaml").read_text())
        dense = {r["seed"]: r["test_accuracy"] for r in rows if r["method"] == "dense"}
        out += ["", f"**{folder.name}**: VGG19 at width {settings['width'][MODEL]:g}, "
                f"{settings['training']['train_images']:,} training images, {settings['training']['epochs']} epochs",
                "", "| cell | per seed (%) | mean | loss against dense [95 % CI] | seconds per training | healthy |",
                "|---|---|---|---|---|---|"]
        by_cell: dict[tuple[str, float], dict[int, dict]] = {}
        for r in rows:
            by_cell.setdefault((r["method"], r["density"]), {})[r["seed"]] = r
        for (method, density), seeds in sorted(by_cell.items(), key=lambda kv: (kv[0][0] != "dense", kv[0][0],
                                                                                  -kv[0][1])):
            accs = [seeds[s]["test_accuracy"] for s in sorted(seeds)]
            loss = "" if method == "dense" else _format(_t_interval(
                [dense[s] - seeds[s]["test_accuracy"] for s in sorted(seeds) if s in dense]))
            secs = [seeds[s]["seconds"] for s in seeds]
            healthy = "yes" if not any(seeds[s]["cut_apart"] for s in seeds) else "no"
            out.append(f"| {method}{'' if method == 'dense' else f' {density:g}'} | {', '.join(f'{a:.2f}' for a in accs)} | "
                       f"{statistics.fmean(accs):.2f} | {loss} | {min(secs):.0f}-{max(secs):.0f} | {healthy} |")
        out.append("")
        for method in sorted({m for m, _ in by_cell if m != "dense"}):
            high = by_cell.get((method, 0.1), {})
            for density in sorted({d for m, d in by_cell if m == method and d < 0.1}):
                low = by_cell[(method, density)]
                shared = sorted(set(high) & set(low))
                growth = _t_interval([high[s]["test_accuracy"] - low[s]["test_accuracy"] for s in shared])
                out.append(f"- {method}: the loss grows from 0.1 to {density:g} by {_format(growth)} "
                           f"({method} 0.1 − {method} {density:g}, {len(shared)} seeds)")
        for method in sorted({m for m, _ in by_cell if m != "dense"}):  # the pilot's pruned pairs
            high = by_cell.get((method, 0.1), {})
            lows = sorted(d for m, d in by_cell if m == method and d < 0.1)
            pairs = [high[s]["test_accuracy"] - by_cell[(method, lows[0])][s]["test_accuracy"]
                     for s in sorted(set(high) & set(by_cell[(method, lows[0])]))] if lows else []
            if len(pairs) > 1:
                sd, upper, effect = pilot_design_effect(pairs, 5)
                out.append(f"- design power: the pilot's paired differences {', '.join(f'{d:.2f}' for d in pairs)} "
                           f"({method} 0.1 − {method} {lows[0]:g}) give 5 paired seeds 80 % power at α = 0.05 to "
                           f"detect {effect:.2f} points (their sd {sd:.2f}, its upper 80 % limit {upper:.2f})")
    text = "\n".join(out) + "\n"
    print(text)
    _write(args.out, "premise.md", text)
    if args.out is not None:
        import pandas as pd

        pd.DataFrame(all_rows).to_csv(args.out / "cells.csv", index=False, float_format="%.4f")


def _format(interval: tuple[float, float, float]) -> str:
    mean, low, high = interval
    if math.isnan(mean):
        return "no paired seeds yet"
    return f"{mean:+.2f}" if math.isnan(low) else f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    h = sub.add_parser("health", help="every twin's health at initialisation, masks only")
    h.add_argument("--widths", nargs="+", type=float, default=[0.25, 0.3125, 0.375, 0.4375, 0.5])
    h.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.05, 0.02])
    h.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    h.add_argument("--methods", nargs="+", default=TWINS, choices=TWINS)
    h.add_argument("--out", type=Path, help="also write the table here as health.md")
    t = sub.add_parser("train", help="dense and the plain pruners of one candidate regime")
    t.add_argument("--width", type=float, required=True)
    t.add_argument("--train-images", type=int, required=True)
    t.add_argument("--epochs", type=int, required=True)
    t.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    t.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.05])
    t.add_argument("--pruners", nargs="+", default=["rp"], choices=["rp", "rp_weights", "csp"])
    t.add_argument("--cores", type=int, default=2)
    s = sub.add_parser("table", help="the premise table of every candidate trained so far")
    s.add_argument("--out", type=Path, help="also write premise.md and the per-seed cells.csv here")
    args = parser.parse_args()
    {"health": health, "train": train, "table": table}[args.what](args)


if __name__ == "__main__":
    main()
