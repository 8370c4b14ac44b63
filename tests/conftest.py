from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

# tests run in a worker per core (pytest_xdist_auto_num_workers): one thread each, in the workers and in
# the processes they start (numpy's and scipy's BLAS read this when first loaded), or they fight for cores
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
LONGEST_FIRST = ["test_cluster_slurm.py", "test_docs.py", "test_workflow.py", "test_faults.py", "test_training.py",
                 "test_distributed.py", "test_pruning.py", "test_gpu_path.py", "test_data_pipeline.py"]


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (pyproject.toml): a worker per core, at most two (the 2-core machines the suite is sized for;
    a container's quota can be smaller than the cores it sees), and one more where the live SLURM tests
    run, since their worker mostly waits on its cluster."""
    cores = min(len(os.sched_getaffinity(0)), 2)
    slurm = os.geteuid() == 0 and shutil.which("slurmctld") is not None and shutil.which("slurmdbd") is not None
    return cores + int(slurm)


def pytest_collection_modifyitems(items: list) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def demo_config() -> dict:
    """The demo's configuration as Snakemake sees it: config.yaml, then config/demo.yaml over it."""
    from n2n.config import load_config

    return load_config(ROOT / "config.yaml", ROOT / "config" / "demo.yaml")


@pytest.fixture(scope="session")
def paper_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def train_call(folder: Path, mask_file: Path, recipe: dict, processes: int = 1) -> tuple[str, dict]:
    """The train stage on the digits, on the CPU, training `mask_file`'s cell into folder/{model.pt,
    metrics.parquet, ckpt.pt}: the target and arguments for tests/forked.py (a process of its own, so
    that a test can kill or signal it)."""
    return "n2n.training:run_train", dict(
        mask_path=str(mask_file), model_path=str(folder / "model.pt"), metrics_path=str(folder / "metrics.parquet"),
        checkpoint_path=str(folder / "ckpt.pt"), dataset="digits", data_root="data", recipe=recipe, device="cpu",
        threads=1, processes=processes)


def train_env(kill_after: int | None = None) -> dict[str, str]:
    """This environment, with the training killed (SIGKILL) after epoch `kill_after`, or not at all."""
    from n2n.training import KILL_AFTER_EPOCH_ENV

    env = {k: v for k, v in os.environ.items() if k != KILL_AFTER_EPOCH_ENV}
    if kill_after is not None:
        env[KILL_AFTER_EPOCH_ENV] = str(kill_after)
    return env


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


def pytest_terminal_summary(terminalreporter) -> None:
    """How the fault tests injected their faults: a real filesystem mounted, or an errno patched in (the
    tests record it with record_property, which reaches this process from xdist's workers too)."""
    tally: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "fault_injection" and getattr(report, "when", "call") == "call":
                    tally[value] = tally.get(value, 0) + 1
    if tally:
        terminalreporter.write_line("fault injection: " + "; ".join(f"{value} ({n})" for value, n in
                                                                    sorted(tally.items())))
