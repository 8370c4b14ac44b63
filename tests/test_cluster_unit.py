"""The cluster path's parts that need no cluster: the sacct states the SLURM plugin is given, the
progress rule for a training's attempts, and job logs that keep earlier attempts' lines."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from n2n.cluster import read_sacct_through
from n2n.joblog import history_path, job_logging
from n2n.stop import NoProgress, StopRequested, attempts_path, begin_attempt

SHIM = ROOT / "slurm" / "bin"


def fake_sacct(folder: Path, output: str, code: int = 0) -> Path:
    folder.mkdir()
    (folder / "sacct").write_text(f"#!/usr/bin/env bash\nprintf '{output}'\nexit {code}\n")
    (folder / "sacct").chmod(0o755)
    return folder


def test_the_plugin_reads_a_cancelled_job_as_cancelled(tmp_path):
    real = fake_sacct(tmp_path / "real", "12|CANCELLED by 0\\n13|COMPLETED\\n14|RUNNING\\n15|CANCELLED by 1000\\n")
    env = {**os.environ, "PATH": f"{SHIM}:{real}:{os.environ['PATH']}"}
    out = subprocess.run(["sacct", "-X", "--parsable2"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["12|CANCELLED", "13|COMPLETED", "14|RUNNING", "15|CANCELLED"]
    failing = fake_sacct(tmp_path / "failing", "Slurm accounting storage is disabled\\n", code=1)
    env["PATH"] = f"{SHIM}:{failing}:{os.environ['PATH']}"
    assert subprocess.run(["sacct"], env=env, capture_output=True).returncode == 1  # its failure passes through


def test_the_shim_goes_on_path_only_where_a_real_sacct_exists(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no sacct: no SLURM here
    read_sacct_through(str(SHIM))
    assert os.environ["PATH"] == str(tmp_path / "bin")
    real = fake_sacct(tmp_path / "real", "")
    monkeypatch.setenv("PATH", f"{real}:{tmp_path / 'bin'}")
    read_sacct_through(str(SHIM))
    read_sacct_through(str(SHIM))
    assert os.environ["PATH"] == f"{SHIM}:{real}:{tmp_path / 'bin'}"


def slurm(job: str, run: str = "run-a") -> dict[str, str]:
    return {"SLURM_JOB_ID": job, "N2N_RUN": run}


def test_attempts_that_make_progress_go_on_and_two_stalled_ones_stop_the_training(tmp_path):
    ckpt = tmp_path / "train_checkpoint.pt"
    begin_attempt(ckpt, 0, "cell", slurm("1"))
    begin_attempt(ckpt, 4, "cell", slurm("2"))   # attempt 1 checkpointed 4 epochs
    begin_attempt(ckpt, 9, "cell", slurm("3"))
    begin_attempt(ckpt, 9, "cell", slurm("4"))   # attempt 3 made none: one stall is allowed
    with pytest.raises(NoProgress, match=r"cell: the last 2 attempts \(SLURM job 3, SLURM job 4\) all started after "
                                          "epoch 9 and none checkpointed another epoch"):
        begin_attempt(ckpt, 9, "cell", slurm("5"))
    begin_attempt(ckpt, 9, "cell", slurm("6", run="run-b"))  # a new Snakemake run starts a new count
    for _ in range(3):
        begin_attempt(ckpt, 9, "cell", {})  # a direct call, outside any Snakemake run: never refused
    local = {"N2N_RUN": "run-c"}  # a local run's attempts: named by their process
    begin_attempt(ckpt, 9, "cell", local)
    begin_attempt(ckpt, 9, "cell", local)
    with pytest.raises(NoProgress, match=rf"\(pid {os.getpid()}, pid {os.getpid()}\)"):
        begin_attempt(ckpt, 9, "cell", local)
    assert len(attempts_path(ckpt).read_text().splitlines()) == 10


def run_job(log: Path, outcome: BaseException | None, line: str) -> None:
    try:
        with job_logging(str(log)):
            logging.getLogger("n2n.test").info(line)
            if outcome is not None:
                raise outcome
    except BaseException:
        pass


def test_a_job_log_keeps_its_earlier_attempts_until_the_stage_succeeds(tmp_path):
    log = tmp_path / "logs" / "train.log"
    run_job(log, StopRequested(), "first allocation")
    log.unlink()  # Snakemake deletes a job's log before each attempt
    run_job(log, RuntimeError("node trouble"), "second allocation")
    log.unlink()
    run_job(log, None, "third allocation")
    text = log.read_text()
    assert text.index("first allocation") < text.index("second allocation") < text.index("third allocation")
    assert "WARNING stopped to resume (exit 75)" in text and "ERROR stage failed: node trouble" in text
    assert text.count("job on ") == 3 and "Traceback" in text and text.count("Traceback") == 1
    assert not history_path(str(log)).exists()
    run_job(log, None, "a forced rerun")
    assert "first allocation" not in log.read_text()
