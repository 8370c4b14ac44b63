"""The machine's fp32 matrix-multiply rate, the yardstick for every time this project states: a time
measured on one machine compares with another's as a multiple of this rate.

Prints GFLOP/s of torch's fp32 matmul (2 n^3 flop per n x n product, best of repeated runs) with one
thread and with every core, and the CPU it ran on.

    .venv/bin/python benchmarks/matmul_rate.py
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from n2n.publish import machine


def rate(n: int, threads: int, seconds: float) -> float:
    """Best GFLOP/s of n x n fp32 products over about `seconds`."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n ** 3 / (time.perf_counter() - began) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{machine()}, torch {torch.__version__}")
    for threads in sorted({1, cores}):
        print(f"fp32 matmul {args.size}x{args.size}, {threads} thread{'s' if threads > 1 else ''}: "
              f"{rate(args.size, threads, args.seconds):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
