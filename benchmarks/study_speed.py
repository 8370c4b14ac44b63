"""Speed at the studies' shapes: a training step's achieved GFLOP/s against the same threads' fp32 matmul
rate, and eager against torch.compile, in one run.

    .venv/bin/python benchmarks/study_speed.py                      # the shapes below, one thread
    .venv/bin/python benchmarks/study_speed.py --threads 2 --steps 40
    .venv/bin/python benchmarks/study_speed.py --out benchmarks/results/study-speed.md   # the table docs/speed.md shows

For each (model, width, method, density) of the Fashion-MNIST studies (1x16x16 images, batch 128, the
project's training step: channels_last, masks re-applied after every step), it prints images/s eager,
the FLOPs of one training step (torch's FlopCounterMode) and the GFLOP/s they make, that rate as a share
of the same threads' fp32 matmul rate (benchmarks/matmul_rate.py), then images/s compiled
(torch.compile, inductor), the seconds compiling took, and what compiling does to one study training's
wall time (`--images` x `--epochs` images, compile included): the figure that decides whether a study
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

SHAPES = [("vgg19", 0.25, "n2nskip-rp", 0.1), ("resnet50", 0.125, "n2nskip-rp", 0.1),
          ("vgg19", 0.5, "n2nskip-rp", 0.05), ("resnet50", 0.25, "n2nskip-rp", 0.05)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--images", type=int, default=12000, help="a study training's images per epoch")
    parser.add_argument("--epochs", type=int, default=6, help="a study training's epochs")
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
    steps_per_training = args.epochs * -(-args.images // 128)
    data = ResidentData(info, images, labels, images[:256], labels[:256]).to(device, torch.channels_last)
    rows = []
    for model_name, width, method, density in SHAPES:
        model = network_at_init(model_name, "fashion_mnist_16", method, density, 0, width, SKIPS)
        eager = run(model, data, device, args.steps, 128, fast=True, compile_model=False)
        x, y = data.first_batch(8)
        flops = train_flops(model, x.contiguous(memory_format=torch.channels_last), y)
        gflops = eager * flops / 1e9
        line = (f"{model_name} w{width} {method} {density}: {flops / 1e6:.0f} MFLOP per training image, eager "
                f"{eager:,.0f} img/s = {gflops:.1f} GFLOP/s, {100 * gflops / matmul:.0f} % of matmul")
        row = [f"{'VGG19' if model_name == 'vgg19' else 'ResNet50'}, {width:g}, {density:g}", f"{flops / 1e6:.0f}",
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
                     f"compiling: a whole training of {args.epochs} x {args.images} images, compiling included, "
                     f"at {seconds_eager / seconds_compiled:.2f}x eager's speed")
            row += [f"{compiled / eager:.2f}x", f"{compiling:.0f} s", f"{seconds_eager / seconds_compiled:.2f}x"]
        print(line, flush=True)
        rows.append(row)
    if args.out is not None:
        columns = ["model, width, density", "MFLOP per training image", "eager", "share of matmul"]
        if not args.no_compile:
            columns += ["compiled, per step", "compiling", f"a whole training compiled ({args.epochs} x "
                        f"{args.images:,} images), against eager"]
        text = "\n".join([f"*`benchmarks/study_speed.py`: {machine()}, {datetime.date.today().isoformat()}, torch "
                          f"{torch.__version__}, {args.threads} thread{'s' if args.threads > 1 else ''} (fp32 "
                          f"matmul {matmul:.1f} GFLOP/s), {args.steps} timed steps.*", "",
                          "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                          *("| " + " | ".join(row) + " |" for row in rows)]) + "\n"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
