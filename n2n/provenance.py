"""Where a run's numbers come from: the checkout's commit, the machine's CPU and its fp32 matmul rate, the
yardstick every time this project states is read against (publish blocks, cells files, run records)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def machine() -> str:
    """'AMD EPYC 7B13, 2 cores': the CPU model and the cores this process may use."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def commit(root: Path) -> str:
    """The checkout's commit, with '+ changes' where its tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return head + (" + changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def matmul_rate(n: int, threads: int, seconds: float) -> float:
    """Best GFLOP/s of n x n fp32 products (2 n^3 flop each) over about `seconds`, on `threads` threads."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)  # warm-up
        best, deadline = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - began) / 1e9)
        return best
    finally:
        torch.set_num_threads(previous)
