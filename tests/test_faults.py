"""The fault matrix: each fault injected into a real stage (prune, train, evaluate, adjacency, heat
signature, aggregate). For each: the message names the cause, no output lies truncated under its final
name, no temporary file is left, and a rerun once the fault is gone gives the uninterrupted run's result.

Faults: a full filesystem and a read-only one (real tmpfs mounts where this process may mount, as
root in CI; otherwise, or with N2N_TESTS_PATCH_FAULTS set, the write is patched to fail with the same
errno; the run's summary says which), a disk that fills after an epoch's checkpoint, a corrupt input,
and SIGKILL in the middle of a write or at random inside a training's epochs (in a process of its own,
forked from a warm one as a local job is: tests/forked.py).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import forked
from conftest import SMALL_SKIPS
from n2n import io

CONNECTIVITY = {"weighting": "l1", "laplacian": "unnormalised", "t_min": 1e-3, "t_max": 1e3, "t_points": 5,
                "t_sat": 1.0, "tol": 1e-10, "scree_max_fraction": 0.1, "scree_max_nodes": 25000}
RECIPE = {"epochs": 2, "batch_size": 256, "lr": 0.03, "lr_step_epochs": 1, "lr_gamma": 0.3, "momentum": 0.9,
          "weight_decay": 5e-4, "eval_batch_size": 512, "num_workers": 0}
CELL = dict(model="vgg19", dataset="digits", method="rp", density=0.1, seed=0)


def stage_calls(inputs: Path, out: Path) -> dict[str, tuple[str, dict, list[str], list[str]]]:
    """stage -> (function, arguments, outputs, inputs a fault may corrupt), reading from `inputs`, writing to `out`."""
    return {
        "prune": ("n2n.pruners:run_prune", dict(out_path=str(out / "prune_mask.npz"), width=0.125, skips=SMALL_SKIPS,
                                                data_root="", pruning={}, **CELL), ["prune_mask.npz"], []),
        "train": ("n2n.training:run_train", dict(mask_path=str(inputs / "prune_mask.npz"),
                                                 model_path=str(out / "model.pt"),
                                                 metrics_path=str(out / "metrics.parquet"),
                                                 checkpoint_path=str(out / "train_checkpoint.pt"), dataset="digits",
                                                 data_root="", recipe=RECIPE, device="cpu"),
                  ["model.pt", "metrics.parquet"], ["prune_mask.npz"]),
        "evaluate": ("n2n.evaluation:run_evaluate", dict(model_path=str(inputs / "model.pt"),
                                                         mask_path=str(inputs / "prune_mask.npz"),
                                                         metrics_path=str(inputs / "metrics.parquet"),
                                                         out_path=str(out / "acc.json"), dataset="digits",
                                                         data_root="", batch_size=512, device="cpu"),
                     ["acc.json"], ["model.pt"]),
        "adjacency": ("n2n.connectivity:run_adjacency", dict(model_path=str(inputs / "model.pt"),
                                                              adjacency_path=str(out / "adjacency.npz"),
                                                              nodes_path=str(out / "nodes.parquet"), weighting="l1"),
                      ["adjacency.npz", "nodes.parquet"], ["model.pt"]),
        "heat_signature": ("n2n.heat:run_heat_signature", dict(
            adjacency_path=str(inputs / "adjacency.npz"), nodes_path=str(inputs / "nodes.parquet"),
            heat_path=str(out / "heat.parquet"), distance_path=str(out / "heat_distance.parquet"),
            layers_path=str(out / "heat_layers.parquet"), scree_path=str(out / "scree.parquet"),
            reference_heat_path=None, connectivity=CONNECTIVITY),
            ["heat.parquet", "heat_distance.parquet", "heat_layers.parquet", "scree.parquet"], ["nodes.parquet"]),
        "aggregate": ("n2n.tables:run_table", dict(name="table1", inputs=[str(inputs / "acc.json")], keys=[CELL],
                                                   parquet_path=str(out / "table1.parquet"),
                                                   markdown_path=str(out / "table1.md"), t_sat=1.0),
                      ["table1.parquet", "table1.md"], ["acc.json"]),
    }


STAGES = list(stage_calls(Path("."), Path(".")))


def call(target: str, kwargs: dict) -> None:
    import importlib

    module, function = target.split(":")
    getattr(importlib.import_module(module), function)(**kwargs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """Every stage's outputs from an uninterrupted run: the inputs of the next stage and the expected results."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("reference")
    for target, kwargs, _, _ in stage_calls(folder, folder).values():
        call(target, kwargs)
    return folder


def read_output(path: Path):
    """An output read whole, as the next stage would (raises where it is cut short or corrupt), in a form
    that compares by value, wall-clock figures aside."""
    if path.suffix == ".npz" and path.name.endswith("mask.npz"):
        from n2n.masks import load_masks

        return load_masks(path)[0]
    if path.suffix == ".npz":
        import scipy.sparse as sp

        return sp.load_npz(path)
    if path.suffix == ".pt":
        from n2n.modelfiles import load_model

        return load_model(path)[0].state_dict()
    if path.suffix == ".parquet":
        return pd.read_parquet(path).drop(columns=["seconds"], errors="ignore")
    if path.suffix == ".json":
        return {k: v for k, v in json.loads(path.read_text()).items() if k != "seconds"}
    return path.read_text(encoding="utf-8")


def same(path: Path, expected: Path) -> bool:
    """Equal contents, wall-clock figures aside."""
    a, b = read_output(path), read_output(expected)
    if path.suffix == ".npz" and not path.name.endswith("mask.npz"):
        return (a != b).nnz == 0
    if isinstance(a, dict) and path.suffix in (".npz", ".pt"):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return a == b


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if io.TEMPORARY in p.name)


def check_after_fault(out: Path, outputs: list[str]) -> None:
    assert temporaries(out) == [], "a failed write left its temporary file"
    for name in outputs:  # an output is either absent or whole: read it as the next stage would
        if (out / name).exists():
            read_output(out / name)


def check_rerun(out: Path, reference: Path, outputs: list[str]) -> None:
    assert temporaries(out) == []
    for name in outputs:
        assert same(out / name, reference / name), name


PATCH_FAULTS_ENV = "N2N_TESTS_PATCH_FAULTS"  # set: no mount even as root, the errno patched in (its branch tested)


def fill(folder: Path) -> None:
    """Write to `folder` until its filesystem has no block left."""
    with open(folder / "filler", "wb") as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()


@contextlib.contextmanager
def small_filesystem(folder: Path, read_only: bool, size: str = "1m", full: bool = True):
    """A tmpfs at `folder`, full (or filled later by the test) or read-only; None where this process may not
    mount."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.environ.get(PATCH_FAULTS_ENV) or os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True).returncode:
        yield None
        return
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        elif full:
            fill(folder)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def say_how(record_property, mounted: Path | None, fault: str) -> None:
    """Name in the test report whether the fault was a real filesystem or an error patched in (conftest prints
    the tally at the end of the run)."""
    record_property("fault_injection", f"{fault}: {'a real tmpfs mount' if mounted else 'an errno patched in'}")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fault, words", [("disk full", "no space left on device"),
                                          ("read-only", "read-only file system")])
def test_a_write_that_fails_names_the_file_and_the_cause(stage, fault, words, reference, tmp_path, monkeypatch,
                                                         record_property):
    out = tmp_path / "out"
    with small_filesystem(out, read_only=fault == "read-only") as mounted:
        say_how(record_property, mounted, fault)
        target, kwargs, outputs, _ = stage_calls(reference, out)[stage]
        if mounted is None:  # no mount here: the rename fails with the errno a mount would give
            code = errno.ENOSPC if fault == "disk full" else errno.EROFS
            real_replace = os.replace

            def failing_replace(src, dst):
                raise OSError(code, os.strerror(code))

            monkeypatch.setattr(io.os, "replace", failing_replace)
        with pytest.raises(OSError) as err:
            call(target, kwargs)
        message = str(err.value)
        assert isinstance(err.value, io.WriteError) and "\n" not in message
        assert message.startswith(f"could not write {out}/") and words in message
        assert "free on its filesystem" in message
        if mounted is not None:
            check_after_fault(out, outputs)
        else:
            monkeypatch.setattr(io.os, "replace", real_replace)
            check_after_fault(out, outputs)
    if mounted is not None:
        shutil.rmtree(out, ignore_errors=True)
    call(target, kwargs)  # the fault gone: the same result as an uninterrupted run
    check_rerun(out, reference, outputs)


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "prune"])  # prune reads no file of the pipeline
def test_a_corrupt_input_is_named_and_the_rerun_after_it_is_rebuilt_matches(stage, reference, tmp_path):
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    shutil.copytree(reference, inputs)
    target, kwargs, outputs, corruptible = stage_calls(inputs, out)[stage]
    for name in corruptible:
        path = inputs / name
        path.write_bytes(b"" if path.suffix == ".parquet" else path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(Exception) as err:
            call(target, kwargs)
        assert str(path) in str(err.value) and "not a readable" in str(err.value), str(err.value)
        assert not out.exists() or [p.name for p in out.iterdir() if p.name in outputs] == []
        shutil.copy(reference / name, path)  # the input rebuilt
    call(target, kwargs)
    check_rerun(out, reference, outputs)


def test_a_truncated_checkpoint_is_named_with_what_to_do(reference, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target, kwargs, outputs, _ = stage_calls(reference, out)["train"]
    checkpoint = Path(kwargs["checkpoint_path"])
    checkpoint.write_bytes((reference / "model.pt").read_bytes()[:1000])  # a torch file cut short
    with pytest.raises(Exception, match=f"checkpoint {checkpoint} is corrupt.*delete it to restart"):
        call(target, kwargs)
    checkpoint.unlink()
    call(target, kwargs)
    check_rerun(out, reference, outputs)


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_in_the_middle_of_a_write_leaves_one_temporary_that_the_rerun_removes(stage, reference, tmp_path):
    out = tmp_path / "out"
    target, kwargs, outputs, _ = stage_calls(reference, out)[stage]
    victim = outputs[-1]
    env = {**os.environ, io.KILL_IN_WRITE_ENV: victim, "OMP_NUM_THREADS": "1"}
    for attempt in range(2):  # killed twice in the same write: still one temporary file, not two
        proc = forked.run(target, kwargs, env=env)
        assert proc.returncode == -9, proc.stderr[-2000:]
        assert not (out / victim).exists()  # never a truncated file under the final name
        assert [t for t in temporaries(out) if t.startswith(f".{victim}.")] and len(temporaries(out)) == 1
    call(target, kwargs)
    check_rerun(out, reference, outputs)


def test_ten_random_kills_inside_training_epochs_leave_no_temporary_file(reference, tmp_path):
    """Killed at random moments of its epochs (with SIGKILL, as a preempted job is) then run to the end: the
    same weights as an uninterrupted training, and no temporary file in the cell's folder. Kills are scheduled
    from observed progress, never from a guess of the machine's pace: each waits for the attempt's "training
    epochs" line, then a random share of the shortest epoch seen on this machine (the reference training's,
    and any epoch an attempt finished), so that it lands inside the epoch under way on a fast CPU and a slow."""
    import re
    import time

    out = tmp_path / "cell"
    target, kwargs, outputs, _ = stage_calls(reference, out)["train"]
    rng = np.random.default_rng(0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    last_epoch = re.compile(rf"epoch {RECIPE['epochs']}/{RECIPE['epochs']} ")
    epoch_line = re.compile(r"epoch \d+/\d+ .*\((\d+\.\d)s\)")
    epoch_seconds = float(pd.read_parquet(reference / "metrics.parquet")["seconds"].min())
    landed = []
    for attempt in range(10):
        log = tmp_path / f"attempt{attempt}.log"
        log.touch()
        proc = forked.Forked(target, kwargs, log, env=env, logged=True)
        deadline = time.monotonic() + 120
        while "training epochs" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.05, 0.7)) * epoch_seconds)  # inside the epoch under way
        proc.kill()
        proc.wait()
        text = log.read_text()
        epoch_seconds = min([epoch_seconds, *(float(t) for t in epoch_line.findall(text) if float(t) > 0)])
        landed.append(proc.returncode == -9 and "training epochs" in text and not last_epoch.search(text))
        left = temporaries(out) if out.exists() else []
        for name in ("train_checkpoint.pt", *outputs):  # at most one per output
            assert len([t for t in left if t.startswith(f".{name}.")]) <= 1, left
    assert sum(landed) >= 8, (f"only {sum(landed)} of 10 kills landed inside the training's epochs "
                              f"(shortest epoch seen: {epoch_seconds:.2f} s)")
    call(target, kwargs)
    check_rerun(out, reference, outputs)
    assert temporaries(out) == []


@pytest.mark.parametrize("injection", ["mounted where possible", "patched"])
def test_a_disk_that_fills_after_an_epochs_checkpoint_is_resumed_from_it(injection, reference, tmp_path, monkeypatch,
                                                                         caplog, record_property):
    """The disk fills right after epoch 1's checkpoint: the training fails naming the cause, the checkpoint
    stays whole, and once space is freed the rerun resumes from epoch 1 and ends with the uninterrupted
    weights."""
    import logging

    from n2n.modelfiles import checkpoint_epoch

    out = tmp_path / "out"
    target, kwargs, outputs, _ = stage_calls(reference, out)["train"]
    checkpoint = Path(kwargs["checkpoint_path"])
    real_replace = os.replace
    if injection == "patched":
        monkeypatch.setenv(PATCH_FAULTS_ENV, "1")
    with small_filesystem(out, read_only=False, size="64m", full=False) as mounted:
        say_how(record_property, mounted, "disk full after a checkpoint")
        filled = []

        def replace_then_fill(src, dst):
            if filled and mounted is None:  # no mount here: every later write fails as on a full disk
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_replace(src, dst)
            if Path(dst) == checkpoint and not filled:
                filled.append(True)
                if mounted is not None:
                    fill(out)

        monkeypatch.setattr(io.os, "replace", replace_then_fill)
        with pytest.raises(io.WriteError, match="no space left on device"):
            call(target, kwargs)
        monkeypatch.setattr(io.os, "replace", real_replace)
        assert filled and checkpoint_epoch(str(checkpoint)) == 1
        (out / "filler").unlink(missing_ok=True)  # space freed
        check_after_fault(out, outputs)
        caplog.set_level(logging.INFO, logger="n2n.training")
        call(target, kwargs)
        assert f"resuming from {checkpoint} after epoch 1" in caplog.text
        check_rerun(out, reference, outputs)
