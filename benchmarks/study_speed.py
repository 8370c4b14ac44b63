"""Speed at the studies' shapes: a training step's achieved GFLOP/s against the same threads' fp32 matmul
rate, and eager against torch.compile, in one run.

    .venv/bin/python benchmarks/study_speed.py                      # the shapes below, one thread
    .venv/bin/python benchmarks/study_speed.py --threads 2 --steps 40
    .venv/bin/python benchmarks/study_speed.py --out benchmarks/results/study-speed.md   # the table docs/speed.md shows

For each model of each Fashion-MNIST study's Table 1 (its width and lowest density, read from the study's
config files: STUDIES; N2NSkip-rp, the costliest method; 1x16x16 images, batch 128, the
project's training step: channels_last, masks re-applied after every step), it prints images/s eager,
the FLOPs of one training step (torch's FlopCounterMode) and the GFLOP/s they make, that rate as a share
of the same threads' fp32 matmul rate (benchmarks/matmul_rate.py), then images/s compiled
(torch.compile, inductor), the seconds compiling took, and what compiling does to one study training's
wall time (its config's epochs x images, compile included): the figure that decides whether a study
compiles (it must gain 1.2x or more).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import torch

from matmul_rate import rate
from n2n.connectivity import network_at_init
from n2n.data import ResidentData
from n2n.publish import machine
from n2n.registry import DATASETS
from train_throughput import SKIPS, run, train_flops

ROOT = Path(__file__).resolve().parent.parent
# each study's config files, read over one another as its make target reads them (Makefile)
STUDIES = {"study": ["config.yaml", "config/demo.yaml", "config/study.yaml"],
           "sparse": ["config.yaml", "config/demo.yaml", "config/study.yaml", "config/sparse.yaml"]}


def study_shapes() -> list[dict]:
    """Each study's N2NSkip trainings, read from its config: per model of its Table 1, the model's width, its
    lowest density, and a training's images per epoch and epochs."""
    from n2n.config import grid_cells, load_config, model_width, training_recipe

    shapes = []
    for study, files in STUDIES.items():
        config = load_config(*(ROOT / f for f in files))
        cells = grid_cells(config, "tables", "table1")
        for model in dict.fromkeys(c.model for c in cells):
            dataset = next(c.dataset for c in cells if c.model == model)
            recipe = training_recipe(config, dataset)
            shapes.append({"study": study, "model": model, "width": model_width(config, model),
                           "density": min(float(c.density) for c in cells if c.model == model and float(c.density) < 1),
                           "images": recipe.get("train_images") or DATASETS[dataset].train_size,
                           "epochs": recipe["epochs"]})
    return shapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--no-compile", action="store_true", help="eager only")
    parser.add_argument("--out", type=Path, help="also write the figures as a Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    matmul = rate(1024, args.threads, 2.0)
    print(f"{machine()}, torch {torch.__version__}, {args.threads} thread(s): fp32 matmul {matmul:.1f} GFLOP/s")
    info = DATASETS["fashion_mnist_16"]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2048, 1, 16, 16), dtype=np.uint8)
    labels = rng.integers(0, 10, 2048)
    device = torch.device("cpu")
    data = ResidentData(info, images, labels, images[:256], labels[:256]).to(device, torch.channels_last)
    rows = []
    method = "n2nskip-rp"
    for shape in study_shapes():
        model_name, width, density = shape["model"], shape["width"], shape["density"]
        steps_per_training = shape["epochs"] * -(-shape["images"] // 128)
        model = network_at_init(model_name, "fashion_mnist_16", method, density, 0, width, SKIPS)
        eager = run(model, data, device, args.steps, 128, fast=True, compile_model=False)
        x, y = data.first_batch(8)
        flops = train_flops(model, x.contiguous(memory_format=torch.channels_last), y)
        gflops = eager * flops / 1e9
        line = (f"{shape['study']}: {model_name} w{width} {method} {density}: {flops / 1e6:.0f} MFLOP per training image, eager "
                f"{eager:,.0f} img/s = {gflops:.1f} GFLOP/s, {100 * gflops / matmul:.0f} % of matmul")
        row = [shape["study"], f"{'VGG19' if model_name == 'vgg19' else 'ResNet50'}, {width:g}, {density:g}",
               f"{shape['epochs']} x {shape['images']:,}", f"{flops / 1e6:.0f}",
               f"{eager:,.0f} img/s, {gflops:.1f} GFLOP/s", f"{100 * gflops / matmul:.0f} %"]
        if not args.no_compile:
            torch._dynamo.reset()
            model = network_at_init(model_name, "fashion_mnist_16", method, density, 0, width, SKIPS)
            began = time.perf_counter()
            run(model, data, device, 1, 128, fast=True, compile_model=True)  # compiles forward and backward
            compiling = time.perf_counter() - began
            compiled = run(model, data, device, args.steps, 128, fast=True, compile_model=True)
            seconds_eager = steps_per_training * 128 / eager
            seconds_compiled = compiling + steps_per_training * 128 / compiled
            line += (f"; compiled {compiled:,.0f} img/s ({compiled / eager:.2f}x per step), {compiling:.0f} s "
                     f"compiling: a whole training of {shape['epochs']} x {shape['images']} images, compiling included, "
                     f"at {seconds_eager / seconds_compiled:.2f}x eager's speed")
            row += [f"{compiled / eager:.2f}x", f"{compiling:.0f} s", f"{seconds_eager / seconds_compiled:.2f}x"]
        print(line, flush=True)
        rows.append(row)
    if args.out is not None:
        columns = ["study", "model, width, density", "a training (epochs x images)", "MFLOP per training image",
                   "eager", "share of matmul"]
        if not args.no_compile:
            columns += ["compiled, per step", "compiling", "a whole training compiled, against eager"]
        text = "\n".join([f"*`benchmarks/study_speed.py`: {machine()}, {datetime.date.today().isoformat()}, torch "
                          f"{torch.__version__}, {args.threads} thread{'s' if args.threads > 1 else ''} (fp32 "
                          f"matmul {matmul:.1f} GFLOP/s), {args.steps} timed steps.*", "",
                          "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                          *("| " + " | ".join(row) + " |" for row in rows)]) + "\n"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
