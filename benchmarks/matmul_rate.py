"""The machine's fp32 matrix-multiply rate, the yardstick for every time this project states: a time
measured on one machine compares with another's as a multiple of this rate.

Prints GFLOP/s of torch's fp32 matmul (2 n^3 flop per n x n product, best of repeated runs) with one
thread and with every core, and the CPU it ran on.

    .venv/bin/python benchmarks/matmul_rate.py
"""

from __future__ import annotations

import argparse
import os

import torch

from n2n.provenance import machine, matmul_rate as rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=1.0)  # dozens of products at 1024: the best is stable
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{machine()}, torch {torch.__version__}")
    for threads in sorted({1, cores}):
        print(f"fp32 matmul {args.size}x{args.size}, {threads} thread{'s' if threads > 1 else ''}: "
              f"{rate(args.size, threads, args.seconds):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
