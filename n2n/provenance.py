"""Where a run's numbers come from: the checkout's commit and the machine's CPU (publish blocks, cells files)."""

from __future__ import annotations

import os
import subprocess
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
