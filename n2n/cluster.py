"""What the workflow's main Snakemake process sets up for the SLURM executor plugin."""

from __future__ import annotations

import os
import shutil


def read_sacct_through(shim_folder: str) -> None:
    """Put `shim_folder` (slurm/bin: its `sacct` gives a cancelled job's state as "CANCELLED", not
    "CANCELLED by <uid>", which the plugin takes for a running job) first on PATH, where a real sacct exists."""
    path = os.environ.get("PATH", "")
    if shutil.which("sacct") and shim_folder not in path.split(os.pathsep):
        os.environ["PATH"] = shim_folder + os.pathsep + path
