"""Live SLURM: a real one-node cluster with job accounting (slurmdbd and MariaDB, so that job states
come from `sacct` as on real clusters) and fake GPUs runs a small grid through `--profile slurm` with
the profile's own status polling (its waits shortened).

Runs as root where Debian's SLURM packages are installed (`.ci/run` installs them); skipped
elsewhere. Checks every output, that concurrent training jobs got different GPUs, that a training
job cancelled mid-way (scancel: "CANCELLED by 0" in sacct) is retried and resumes from its
checkpoint to the exact result of an uninterrupted run, and that a training longer than its
allocation (SIGUSR1 before the time limit) finishes through its retries to the exact result of an
uninterrupted run. Every wait is bounded; the daemons are stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from conftest import ROOT, SNAKEMAKE, tiny_config
from n2n.outputs import FIGURES
from n2n.training import MIN_EPOCH_SECONDS_ENV

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("slurmctld") is None or shutil.which("slurmdbd") is None,
                       reason="needs root and Debian's SLURM packages with slurmdbd (.ci/run installs them)"),
]
SETUP = ROOT / "tests" / "slurm" / "local_slurm.sh"
EPOCHS = 12  # long enough to cancel a training after its first epoch, and for trainings to overlap
# the time-limit test's training: 40 epochs of at least 3 s each (n2n.training.MIN_EPOCH_SECONDS_ENV), 2 minutes
# whatever the machine's pace and load, past the latest SLURM warning (80 s into an allocation). A training sized
# at a pace measured just before ran 2x faster than measured once (calibrated while the suite's other worker was
# busy, trained alone) and ended before the warning.
EPOCH_SECONDS, LONG_EPOCHS = 3, 40
STALLED_SECONDS = 420  # two allocations, the resubmissions between them and the start: longer is a hang


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm_state")
    env = {**os.environ, "STATE_DIR": str(state), "SLURM_ACCOUNTING": "slurmdbd", "FAKE_GPUS": "2", "SKIP_APT": "1"}
    try:
        subprocess.run(["bash", str(SETUP), "start"], env=env, check=True, timeout=180, capture_output=True)
        yield state
    finally:
        subprocess.run(["scancel", "--user", "root"], timeout=30, capture_output=True)
        subprocess.run(["bash", str(SETUP), "stop"], env=env, timeout=120, capture_output=True)


def checkpoint_epoch(path: Path) -> int:
    try:
        return int(torch.load(path, weights_only=True)["epoch"])
    except Exception:
        return 0


def slurm_jobs(path: Path) -> list[str]:
    return re.findall(r"SLURM job (\d+)", path.read_text())


def attempts(path: Path) -> list[tuple[datetime, datetime, str]]:
    """(first, last line's time, CUDA_VISIBLE_DEVICES) of each SLURM job whose lines the log holds."""
    out = []
    for part in re.split(r"\n(?=\S+ \S+ root INFO SLURM job )", path.read_text()):
        stamps = [datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S") for line in part.splitlines()
                  if re.match(r"\d{4}-\d\d-\d\d ", line)]
        gpu = re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", part)
        if stamps and gpu:
            out.append((stamps[0], stamps[-1], gpu.group(1)))
    return out


# the profile as shipped, with its status checks (sacct) a few seconds apart instead of 40-180 s
PROFILE = ["--profile", "slurm", "--slurm-init-seconds-before-status-checks", "2",
           "--seconds-between-status-checks", "3", "--slurm-no-account", "--latency-wait", "10"]


def uninterrupted(mask: Path, config_path: Path, folder: Path) -> subprocess.Popen:
    """The same training in one go, outside the cluster: the reference for a resumed one."""
    folder.mkdir()
    script = ("from n2n.training import run_train; import sys, yaml; "
              "run_train(*sys.argv[1:5], 'digits', 'data', yaml.safe_load(open(sys.argv[5]))['training'], 'cpu', 1)")
    return subprocess.Popen([os.sys.executable, "-c", script, str(mask), str(folder / "model.pt"),
                             str(folder / "m.parquet"), str(folder / "ckpt.pt"), str(config_path)])


def assert_same_training(reference: Path, cell: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(reference / "m.parquet").drop(columns="seconds"),
                                  pd.read_parquet(cell / "metrics.parquet").drop(columns="seconds"))
    from n2n.modelfiles import load_model

    ours, _ = load_model(cell / "model.pt")
    theirs, _ = load_model(reference / "model.pt")
    for (name, p), q in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(p, q), name


def test_demo_grid_through_the_slurm_profile(cluster, tmp_path, demo_config):
    results = tmp_path / "results"
    # every cell stage, scl's GPU prune and three trainings to overlap; 12 cluster jobs (the profile's groups)
    config = tiny_config(demo_config, results, seeds=[0], epochs=EPOCHS, methods=["dense", "n2nskip-rp", "scl"])
    config["resources"]["train"].update(gpu=1, retries=4)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    cmd = [SNAKEMAKE, *PROFILE, "all_tables", "--configfile", str(config_path), "--jobs", "4"]
    log = open(tmp_path / "snakemake.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        # cancel one training job once it has checkpointed an epoch
        cancelled_cell, deadline = None, time.time() + 420
        while cancelled_cell is None and time.time() < deadline and proc.poll() is None:
            for ckpt in results.glob("vgg19/digits/*/*/seed*/train_checkpoint.pt"):
                if checkpoint_epoch(ckpt) >= 1:
                    jobs = slurm_jobs(ckpt.parent / "logs" / "train.log")
                    if jobs:
                        subprocess.run(["scancel", jobs[-1]], check=True, timeout=30)
                        cancelled_cell = ckpt.parent
                        break
            time.sleep(0.5)
        assert cancelled_cell is not None, "no training job checkpointed an epoch in time"
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "snakemake.log").read_text()
    assert proc.returncode == 0, output[-4000:]

    # every table and figure; every cell stage went through sbatch, tables and figures ran locally
    for name in ("table1", "table2", "table3", "pruners"):
        assert (results / "tables" / f"{name}.parquet").exists()
    assert len(list((results / "figures").glob("*.png"))) == len(FIGURES)  # every figure of all_tables
    stage_logs = list(results.glob("vgg19/digits/*/*/seed*/logs/*.log"))
    assert stage_logs and all("SLURM job" in p.read_text() for p in stage_logs)
    assert not any("SLURM job" in p.read_text() for p in (results / "tables" / "logs").glob("*.log"))
    assert "submitted with SLURM jobid" in output or "SLURM jobid" in output
    # the profile's groups: add_skips ran in its prune's SLURM job, evaluate in its training's
    for cell in results.glob("vgg19/digits/*/*/seed*"):
        job = {p.stem: slurm_jobs(p)[-1] for p in (cell / "logs").glob("*.log")}
        assert job["evaluate"] == job["train"] != job["adjacency"], (cell, job)
        assert job.get("add_skips", job["prune"]) == job["prune"] != job["train"], (cell, job)

    # each training job had a GPU of its own: overlapping jobs saw different CUDA_VISIBLE_DEVICES (whether
    # two overlap depends on when their masks are done; 12 epochs make it likely, not certain)
    trains = [attempt for path in results.glob("vgg19/digits/*/*/seed*/logs/train.log") for attempt in attempts(path)]
    assert trains and all(gpu in {"0", "1"} for _, _, gpu in trains), trains
    for i, (a0, a1, ga) in enumerate(trains):
        for b0, b1, gb in trains[i + 1:]:
            if a0 < b1 and b0 < a1:
                assert ga != gb

    # the cancelled job was retried and resumed from its checkpoint ...
    train_log = (cancelled_cell / "logs" / "train.log").read_text()
    resumed = re.search(r"resuming from .* after epoch (\d+)", train_log)
    assert resumed and int(resumed.group(1)) >= 1, train_log[-2000:]
    assert "CANCELLED" in subprocess.run(["sacct", "-X", "-n", "-o", "State"], capture_output=True, text=True).stdout
    # ... to the result of an uninterrupted run
    mask = next(p for p in (cancelled_cell / "skip_mask.npz", cancelled_cell / "prune_mask.npz") if p.exists())
    reference = uninterrupted(mask, config_path, tmp_path / "fresh")
    assert reference.wait(timeout=300) == 0
    assert_same_training(tmp_path / "fresh", cancelled_cell)


def test_a_training_longer_than_its_allocation_finishes_through_its_retries(cluster, tmp_path, demo_config):
    """Each allocation is 2 minutes (train + evaluate, the profile's group) and SLURM warns 40 s before
    its end, or up to 60 s earlier (its timers' resolution): 20-80 s into the job, after its processes
    are up. Each epoch lasts at least 3 s, 40 of them, so the training outlasts the latest warning on any
    machine and needs two allocations or more (a slow machine's epochs take longer, and more of them).
    It checkpoints, exits 75 and the next allocation resumes, until it is done; the test waits as long
    as epochs keep coming."""
    results = tmp_path / "results"
    config = tiny_config(demo_config, results, seeds=[0], epochs=1, methods=["dense", "rp"])
    config["width"] = 0.25
    config["training"]["epochs"] = LONG_EPOCHS
    config["resources"]["train"].update(runtime=1, retries=15)  # 20-80 s of epochs per allocation
    config["resources"]["evaluate"].update(runtime=1)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    cell = results / "vgg19" / "digits" / "dense" / "1.0" / "seed0"
    cmd = [SNAKEMAKE, *PROFILE, "--configfile", str(config_path), "--jobs", "2",
           "--default-resources", "slurm_extra='--signal=USR1@40'", "--", str(cell / "acc.json")]
    env = {**os.environ, MIN_EPOCH_SECONDS_ENV: str(EPOCH_SECONDS)}  # sbatch passes it to the jobs
    with open(tmp_path / "snakemake.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    reference = None
    try:
        deadline = time.time() + 300
        while not (cell / "prune_mask.npz").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
        reference = uninterrupted(cell / "prune_mask.npz", config_path, tmp_path / "fresh")  # meanwhile
        epoch, since = -1, time.time()
        while proc.poll() is None:
            if (now := checkpoint_epoch(cell / "train_checkpoint.pt")) != epoch:
                epoch, since = now, time.time()
            assert time.time() - since < STALLED_SECONDS, f"no new epoch for {STALLED_SECONDS} s (last {epoch})"
            time.sleep(2)
        assert reference.wait(timeout=300) == 0
    finally:
        for p in (proc, reference):
            if p is not None and p.poll() is None:
                p.kill()
    output = (tmp_path / "snakemake.log").read_text()
    assert proc.returncode == 0, output[-4000:]
    train_log = (cell / "logs" / "train.log").read_text()
    # every allocation's lines are in the log, each attempt named, each stop a warning; retries are
    # resubmissions by the main Snakemake, never a second attempt inside one allocation
    jobs = re.findall(r"INFO SLURM job (\d+) on", train_log)  # one line per job's stage, from job_logging
    assert len(jobs) >= 2 and len(set(jobs)) == len(jobs), train_log
    assert "attempt 1: SLURM job" in train_log and "attempt 2: SLURM job" in train_log, train_log
    assert "stopped to resume (exit 75)" in train_log and "stage failed" not in train_log
    assert not list((cell / "logs").glob(".*.attempts"))  # the history goes once the training is done
    assert_same_training(tmp_path / "fresh", cell)
