"""The run record (`python -m n2n timed`): a real command's wall time, jobs and training seconds recorded and
published; a stopped run continued by the next invocation; Ctrl-C from a terminal left to the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from n2n.runrecord import run_block

# a stand-in for one Snakemake training job: its benchmark file, as Snakemake's `benchmark:` writes it
JOB = ("mkdir -p {r}/vgg19/fashion_mnist_16/{m}/0.1/seed{s}/logs && "
       "printf 's\\th:m:s\\n{sec}\\t0:00:01\\n' > {r}/vgg19/fashion_mnist_16/{m}/0.1/seed{s}/logs/train.benchmark.tsv")


def timed(results: Path, script: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "n2n", "timed", str(results), "--rate-seconds", "0.2", "--", "bash",
                           "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def test_a_run_records_its_time_jobs_trainings_and_the_machines_rate(tmp_path):
    results = tmp_path / "results"
    began = time.time()
    proc = timed(results, JOB.format(r=results, m="rp", s=0, sec=12.5) + " && "
                 + JOB.format(r=results, m="n2nskip-rp", s=0, sec=20.0) + " && sleep 1.5")
    assert proc.returncode == 0, proc.stderr
    (run,) = json.loads((results / "run.json").read_text())["invocations"]
    assert run["exit_code"] == 0 and run["jobs"] == 2
    assert 1.5 <= run["seconds"] <= time.time() - began
    assert sorted((t["method"], t["seconds"], t["seed"]) for t in run["trainings"]) == [("n2nskip-rp", 20.0, 0),
                                                                                          ("rp", 12.5, 0)]
    assert set(run["matmul_gflops"]) == {"1", str(len(os.sched_getaffinity(0)))}
    assert all(rate > 1 for rate in run["matmul_gflops"].values())
    assert 0 <= run["steal_fraction"] <= 1
    block = run_block(json.loads((results / "run.json").read_text()), "studies/x")
    assert f"ran 2 jobs in **0 min {round(run['seconds'])} s**" in block
    assert f"fp32 matmul ran at {run['matmul_gflops']['1']:.0f} GFLOP/s on 1 thread" in block
    assert "| n2nskip-rp | 1 | 20, 20, 20 |" in block and "| rp | 1 | 12, 12, 12 |" in block

    # a rerun with nothing to do leaves the record of the run that did the work
    before = (results / "run.json").read_text()
    assert timed(results, "true").returncode == 0
    assert (results / "run.json").read_text() == before


def test_a_stopped_run_is_continued_by_the_next_invocation_and_a_finished_one_starts_anew(tmp_path):
    results = tmp_path / "results"
    assert timed(results, JOB.format(r=results, m="rp", s=0, sec=10) + " && exit 4").returncode == 4
    assert timed(results, JOB.format(r=results, m="rp", s=1, sec=30)).returncode == 0
    record = json.loads((results / "run.json").read_text())
    assert [r["exit_code"] for r in record["invocations"]] == [4, 0]
    block = run_block(record, "studies/x")
    assert "ran 2 jobs in" in block and "over 2 invocations" in block and "| rp | 2 | 10, 20, 30 |" in block
    assert "failed" not in block

    assert timed(results, JOB.format(r=results, m="rp", s=2, sec=50)).returncode == 0
    (run,) = json.loads((results / "run.json").read_text())["invocations"]
    assert [t["seed"] for t in run["trainings"]] == [2]


def test_ctrl_c_from_the_terminal_lets_the_command_clean_up_and_is_recorded(tmp_path):
    """A terminal sends SIGINT to its whole foreground group: the command (Snakemake) cleans up and exits
    with its own code; the recorder waits for it instead of killing it."""
    results, started = tmp_path / "results", tmp_path / "started"
    (tmp_path / "job.sh").write_text(JOB.format(r=results, m="rp", s=0, sec=5))
    script = (f"trap 'bash {tmp_path}/job.sh; echo cleaned > {tmp_path}/cleaned; exit 130' INT; "
              f"touch {started}; for i in $(seq 200); do sleep 0.1; done")
    # as from a terminal: SIGINT at its default (a shell's background job, as this suite may be, ignores it,
    # and bash cannot trap a signal ignored when it started)
    proc = subprocess.Popen([sys.executable, "-m", "n2n", "timed", str(results), "--rate-seconds", "0.2", "--", "bash",
                             "-c", script], cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the command never started"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert (tmp_path / "cleaned").read_text() == "cleaned\n"
    assert "KeyboardInterrupt" not in err
    (run,) = json.loads((results / "run.json").read_text())["invocations"]
    assert run["exit_code"] == 130 and run["jobs"] == 1


def test_timed_without_a_command_or_a_block_without_its_record_is_named(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "n2n", "timed", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "timed: name the command after --" in proc.stderr
    from n2n.publish import study_block_text

    with pytest.raises(FileNotFoundError, match=r"run\.json does not exist \(the Makefile's study targets write it"):
        study_block_text(tmp_path, Path("studies/x"), "run")


def test_what_a_study_left_out_is_priced_at_its_runs_median_seconds_per_training():
    from n2n.runrecord import left_out_block

    # means differ from medians (rp 300 against 200, n2nskip-rp 600 against 500): the median is what prices
    trainings = [{"method": "rp", "seconds": s} for s in (100.0, 600.0, 200.0)] + [
        {"method": "n2nskip-rp", "seconds": s} for s in (400.0, 500.0, 900.0)]
    record = {"invocations": [{"seconds": 1000.0, "trainings": trainings[:2]},
                              {"seconds": 200.0, "trainings": trainings[2:]}]}
    spec = {"at_a_time": 2, "left_out": [{"cells": "csp and n2nskip-csp", "priced_as": {"rp": 4, "n2nskip-rp": 2}},
                                         {"cells": "ResNet50", "trainings": 30, "unpriced": "not measured"}]}
    text = left_out_block(record, spec, "studies/x")
    # by hand: medians rp 200 s, n2nskip-rp 500 s; (4 x 200 + 2 x 500) / 2 = 900 s; the run 1200 s, with it 2100 s
    assert "| csp and n2nskip-csp | 6 | 4 × rp, 2 × n2nskip-rp | 15 min 0 s | 35 min 0 s |" in text
    assert "| ResNet50 | 30 | | not measured | |" in text and "the run itself took 20 min 0 s" in text
    spec["left_out"][0]["priced_as"] = {"erk": 3}
    with pytest.raises(ValueError, match=r"prices 'csp and n2nskip-csp' as \['erk'\], which the run did not train"):
        left_out_block(record, spec, "studies/x")
