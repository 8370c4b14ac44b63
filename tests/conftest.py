from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

# tests run in three workers on two cores (pyproject.toml): one thread each, in the workers and in the
# processes they start (numpy's and scipy's BLAS read this when first loaded), or they fight for the cores
os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SMALL_SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
# pytest-xdist hands whole files to its workers in collection order (pyproject.toml: --dist loadfile
# --no-loadscope-reorder): the longest start first, so the suite does not end on one busy worker
LONGEST_FIRST = ["test_cluster_slurm.py", "test_workflow.py", "test_training.py", "test_distributed.py",
                 "test_pruning.py", "test_data_pipeline.py"]


def pytest_collection_modifyitems(items: list) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())


@pytest.fixture(scope="session")
def paper_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def tiny_config(demo: dict, results: Path, **grid) -> dict:
    """The demo config cut down to a tiny grid: one model, few methods, one density, one epoch."""
    config = copy.deepcopy(demo)
    config["results_dir"] = str(results)
    config["seeds"] = grid.pop("seeds", [0])
    config["training"]["epochs"] = grid.pop("epochs", 1)
    models = grid.pop("models", ["vgg19"])
    methods = grid.pop("methods", ["dense", "rp", "n2nskip-rp", "resskip-csp"])
    densities = grid.pop("densities", [0.1])
    for section in ("tables", "figures"):
        for name, g in config[section].items():
            g.update(models=models, datasets=["digits"], densities=densities,
                     methods=[m for m in methods if not (name == "table3" and m == "dense")])
    return config


def run_snakemake(args: list[str], config: dict | None, tmp_path: Path, check: bool = True,
                  timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "--cores", "2", "--nolock"]
    if config is not None:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(path)]
    proc = subprocess.run([*cmd, "--", *args] if args and not args[0].startswith("-") else [*cmd, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc
