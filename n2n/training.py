"""The train stage: the paper's recipe (SGD, momentum 0.9, lr 0.05 halved every 30 epochs,
weight decay 5e-4, batch 128, 300 epochs), pruned weights kept at exactly zero, test accuracy
logged every epoch (with BatchNorm's statistics re-estimated first where the recipe asks:
`reestimate_batchnorm`), and an atomic checkpoint every epoch from which a restarted job resumes.

Each epoch draws its data order and augmentation from a generator seeded by (seed, epoch), so a
resumed run sees the same batches as an uninterrupted one and ends with the same weights: always on
the CPU, and on CUDA with `deterministic: true` (`n2n.numerics.configure_numerics`).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from n2n import stop
from n2n.distributed import SINGLE, Ranks
from n2n.channel_sparse import is_channel_sparse, make_channel_sparse
from n2n.evaluation import evaluate
from n2n.masks import apply_masks_, float_masks
from n2n.modelfiles import checkpoint_epoch, load_checkpoint, save_checkpoint, save_model
from n2n.numerics import autocast, configure_numerics, cross_entropy, resolve_device
from n2n.stop import StopRequested

log = logging.getLogger(__name__)

KILL_AFTER_EPOCH_ENV = "N2N_KILL_AFTER_EPOCH"  # tests: SIGKILL the job after this epoch's checkpoint
MIN_EPOCH_SECONDS_ENV = "N2N_MIN_EPOCH_SECONDS"  # tests: every epoch lasts at least this long, whatever the load
BN_STATISTICS_ORDER = 7_000_003  # the seed of reestimate_batchnorm's image order, apart from every training's
LAYOUT = torch.channels_last  # NHWC: faster convolutions, on the CPU too


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite: the run stops, its last good checkpoint stays."""


@dataclass(frozen=True)
class Recipe:
    epochs: int
    batch_size: int
    lr: float
    lr_step_epochs: int
    lr_gamma: float
    momentum: float
    weight_decay: float
    eval_batch_size: int
    train_images: int = 0  # 0: all; else a fixed class-balanced subset, the same for every seed and method
    bn_statistics_images: int = 0  # 0: BatchNorm's running averages (the paper's); N: re-estimated before each test
    test_epochs: tuple[int, ...] = ()  # (): the test set after every epoch; else after these and the last only
    num_workers: int = 4
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on the CPU | bf16 | fp32
    compile: bool = False  # torch.compile the model (inductor: mode "max-autotune-no-cudagraphs")
    compile_backend: str = "inductor"
    pipeline: str = "resident"  # resident: data on the device, batch augmentation | dataloader: torchvision
    deterministic: bool = False  # CUDA: deterministic kernels, no TF32 (configure_numerics)
    channel_sparse: str = "auto"  # auto: channel-structured masks computed at their kept cost on the CPU | off

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        names = {f.name for f in fields(cls)}
        options = {k: v for k, v in data.items() if k in names}
        if "test_epochs" in options:
            options["test_epochs"] = tuple(options["test_epochs"])
        if options.get("channel_sparse") is False:  # YAML reads an unquoted off as false
            options["channel_sparse"] = "off"
        return cls(**options)

    def tests_after(self, epoch: int) -> bool:
        """Whether the test set is evaluated after 1-based `epoch` (the last always is)."""
        return not self.test_epochs or epoch in self.test_epochs or epoch == self.epochs

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch`: step decay."""
        return self.lr * self.lr_gamma ** (epoch // self.lr_step_epochs)


@dataclass
class Run:
    """One training in progress: the network, its masks, optimiser and forward pass, and where it stands."""

    model: nn.Module
    masks: dict[str, torch.Tensor]  # re-applied after each step: float, in each weight's dtype, device and format
    optimizer: torch.optim.Optimizer
    forward: nn.Module  # the model, wrapped for data-parallel training and compiled as the recipe says
    recipe: Recipe
    device: torch.device
    ranks: Ranks
    metrics: list[dict[str, float]]
    start_epoch: int = 0


def train(model: nn.Module, masks: dict[str, torch.Tensor], data: Any, recipe: Recipe, seed: int,
          device: torch.device, checkpoint: Path | None = None, identity: dict[str, Any] | None = None,
          name: str = "training", ranks: Ranks = SINGLE) -> list[dict[str, float]]:
    """Train `model` in place with `masks` enforced; return one metrics row per epoch.

    A NaN or infinite training loss raises TrainingDiverged naming `name` (the cell) and the epoch.
    With several `ranks` (n2n.distributed) each trains on its share of every batch; rank 0 checkpoints.
    """
    identity = identity or {}
    if recipe.train_images:
        data = data.training_subset(recipe.train_images)
    data.to(device, LAYOUT)
    run = prepare(model, masks, recipe, device, ranks)
    resume(run, checkpoint, identity)
    log.info("training epochs %d to %d", run.start_epoch + 1, recipe.epochs)
    for epoch in range(run.start_epoch, recipe.epochs):
        began = time.perf_counter()
        train_loss, train_accuracy = one_epoch(run, data, epoch, seed)
        if os.environ.get(MIN_EPOCH_SECONDS_ENV):  # the SLURM time-limit test's training lasts as long anywhere
            time.sleep(max(0.0, float(os.environ[MIN_EPOCH_SECONDS_ENV]) - (time.perf_counter() - began)))
        check_finite(train_loss, epoch, name, checkpoint)
        test_loss = test_accuracy = float("nan")  # an epoch without a test: a gap in the convergence curve
        if recipe.tests_after(epoch + 1):
            if recipe.bn_statistics_images:
                reestimate_batchnorm(model, data, recipe.bn_statistics_images, recipe.batch_size, recipe.precision,
                                     ranks)
            test_loss, test_accuracy = evaluate(model, data, recipe.eval_batch_size, recipe.precision, ranks)
        record(run, {"epoch": epoch + 1, "lr": recipe.lr_at(epoch), "train_loss": train_loss,
                     "train_accuracy": train_accuracy, "test_loss": test_loss, "test_accuracy": test_accuracy,
                     "seconds": time.perf_counter() - began})
        if checkpoint is not None and ranks.is_main:
            save_checkpoint(checkpoint, identity, epoch + 1, model, run.optimizer, run.metrics)
        ranks.barrier()  # the checkpoint is on disk before any rank goes on (or is stopped)
        stop_if_requested(run, epoch, checkpoint)
    return run.metrics


def prepare(model: nn.Module, masks: dict[str, torch.Tensor], recipe: Recipe, device: torch.device,
            ranks: Ranks) -> Run:
    """The model on its device with its masks applied, the optimiser, and the forward pass to train through."""
    model.to(device, memory_format=LAYOUT)
    # torch.compile traces no ctypes call: a compiled model keeps every layer masked dense
    sparse_layers = make_channel_sparse(model, masks, "off" if recipe.compile else recipe.channel_sparse, device)
    if sparse_layers:
        log.info("channel-sparse convolutions (training.channel_sparse: %s): %d layers, %s", recipe.channel_sparse,
                 len(sparse_layers), ", ".join(sparse_layers))
    fmasks = float_masks(masks, model)  # in each weight's memory format, channel-sparse ones included
    apply_masks_(model, fmasks)
    # a channel-sparse layer's pruned weights get an exactly zero gradient on every path (ChannelSparseForward), so
    # SGD, momentum and weight decay included, leaves them at exactly zero: only the other masks are re-applied
    reapplied = {name: mask for name, mask in fmasks.items() if name not in sparse_layers}
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    forward: nn.Module = model
    if ranks.world > 1:  # gradients averaged over the ranks; masks stay on the shared module
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if recipe.compile:
        inductor = recipe.compile_backend == "inductor"
        forward = torch.compile(forward, backend=recipe.compile_backend,
                                mode="max-autotune-no-cudagraphs" if inductor else None)
    return Run(model, reapplied, optimizer, forward, recipe, device, ranks, metrics=[])


def resume(run: Run, checkpoint: Path | None, identity: dict[str, Any]) -> None:
    """Continue from the checkpoint of this cell's last finished epoch, if there is one."""
    if checkpoint is None or not checkpoint.exists():
        return
    state = load_checkpoint(checkpoint, identity)
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.metrics = list(state["metrics"])
    run.start_epoch = int(state["epoch"])
    log.info("resuming from %s after epoch %d", checkpoint, run.start_epoch)


def one_epoch(run: Run, data: Any, epoch: int, seed: int) -> tuple[float, float]:
    """One pass over the training data in the (seed, epoch) order; (mean loss, accuracy %) over every rank."""
    recipe, device = run.recipe, run.device
    for group in run.optimizer.param_groups:
        group["lr"] = recipe.lr_at(epoch)
    run.model.train()
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    loss_sum, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in data.train_batches(recipe.batch_size, generator, run.ranks):
        with autocast(device, recipe.precision):
            out = run.forward(x)
            loss = cross_entropy(out.float(), y)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        apply_masks_(run.model, run.masks)  # pruned weights back to exactly zero
        loss_sum += loss.detach() * len(y)
        correct += (out.argmax(1) == y).sum()
        count += len(y)
    loss_sum, correct, count = run.ranks.sum(loss_sum, correct, count)  # one sync per epoch, not per step
    return loss_sum / count, 100.0 * correct / count


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, data: Any, images: int, batch_size: int, precision: str = "auto",
                         ranks: Ranks = SINGLE) -> None:
    """BatchNorm's statistics for the weights as they are now, replacing the running averages.

    The running averages mix statistics of the weights of the last few dozen steps; in a very sparse
    deep network a channel's variance can change by orders of magnitude within them, and the test then
    normalises by a stale variance, layer after layer.
    Here each BatchNorm's mean and variance are averaged with equal weights over the batches of the
    first `images` training images (the whole set if it has fewer) in a fixed augmented order
    (Wu and Johnson's "precise BatchNorm"). The weights are untouched, and the training's own random
    numbers are not drawn, so the training runs exactly as without it. Ranks average their shares.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: every batch weighs the same
    was_training = model.training
    model.train()
    device = next(model.parameters()).device
    seen = 0
    for x, _ in data.train_batches(batch_size, torch.Generator().manual_seed(BN_STATISTICS_ORDER), ranks):
        with autocast(device, precision):
            model(x)
        seen += batch_size
        if seen >= images:
            break
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    ranks.average_([t for norm in norms for t in (norm.running_mean, norm.running_var)])
    model.train(was_training)


def check_finite(train_loss: float, epoch: int, name: str, checkpoint: Path | None) -> None:
    if not math.isfinite(train_loss):
        kept = f"the checkpoint of epoch {epoch} is kept" if epoch > 0 and checkpoint is not None else "nothing is kept"
        raise TrainingDiverged(f"{name}: training diverged in epoch {epoch + 1} "
                               f"(mean train loss {train_loss}); {kept}, no model is written")


def record(run: Run, row: dict[str, float]) -> None:
    run.metrics.append(row)
    log.info("epoch %d/%d lr %.4g loss %.4f train %.2f%% test %.2f%% (%.1fs)", row["epoch"], run.recipe.epochs,
             row["lr"], row["train_loss"], row["train_accuracy"], row["test_accuracy"], row["seconds"])


def stop_if_requested(run: Run, epoch: int, checkpoint: Path | None) -> None:
    """After a checkpoint: exit to resume when SIGUSR1 came to any rank (or the tests' kill hook says so)."""
    kill_after = os.environ.get(KILL_AFTER_EPOCH_ENV)
    if kill_after is not None and int(kill_after) == epoch + 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if run.ranks.any(stop.requested()) and checkpoint is not None and epoch + 1 < run.recipe.epochs:
        log.warning("stop requested (SIGUSR1): checkpoint of epoch %d saved, exiting to resume", epoch + 1)
        raise StopRequested()


def run_train(mask_path: str, model_path: str, metrics_path: str, checkpoint_path: str, dataset: str,
              data_root: str, recipe: dict[str, Any], device: str = "auto", threads: int = 1,
              processes: int = 1) -> None:
    """The train stage: masks in, trained weights and per-epoch metrics out; data-parallel over `processes`."""
    args = dict(mask_path=mask_path, model_path=model_path, metrics_path=metrics_path,
                checkpoint_path=checkpoint_path, dataset=dataset, data_root=data_root, recipe=recipe,
                device=device, threads=threads)
    stop.begin_attempt(checkpoint_path, checkpoint_epoch(checkpoint_path), str(Path(model_path).parent))
    if processes <= 1:
        _train_from_files(**args, ranks=SINGLE)
        return
    from n2n.distributed import run_ranks

    if Recipe.from_dict(recipe).pipeline == "dataloader" and dataset != "imagenet":
        raise ValueError("the reference pipeline (`training.pipeline: dataloader`) trains in one process")
    device_type = resolve_device(device).type
    if device_type == "cuda" and torch.cuda.device_count() < processes:
        raise RuntimeError(f"training on {processes} processes needs {processes} GPUs; "
                           f"{torch.cuda.device_count()} are visible to this job")
    log_files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    run_ranks("n2n.training:train_rank", processes, device_type, args, log_files)


def train_rank(rank: int, world: int, rendezvous: str, **args: Any) -> None:
    """One process of a data-parallel training (started by n2n.distributed.run_ranks), on GPU `rank`."""
    from n2n.distributed import join, leave

    device = resolve_device(args["device"])
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    ranks = join(rank, world, rendezvous, device.type)
    try:
        _train_from_files(**args, ranks=ranks, rank_device=device)
    finally:
        leave()


def _train_from_files(mask_path: str, model_path: str, metrics_path: str, checkpoint_path: str, dataset: str,
                data_root: str, recipe: dict[str, Any], device: str, threads: int, ranks: Ranks,
                rank_device: torch.device | None = None) -> None:
    import pandas as pd

    from n2n.data import load_dataset
    from n2n.io import write_parquet
    from n2n.masks import load_masks
    from n2n.models import Arch, build_model, init_fingerprint

    torch.set_num_threads(max(1, threads // ranks.world))  # the job's cores, shared by its processes
    stop.install_stop_handler()
    log.info("CUDA_VISIBLE_DEVICES=%s", os.environ.get("CUDA_VISIBLE_DEVICES", "-"))  # job_logging names host and job
    masks, meta = load_masks(mask_path)
    arch = Arch.from_dict(meta["arch"])
    seed = int(meta["seed"])
    model = build_model(arch, seed)
    fingerprint = init_fingerprint(model)
    if abs(fingerprint - meta["init_fingerprint"]) > 1e-6 * abs(meta["init_fingerprint"]):
        raise RuntimeError(f"the initialisation rebuilt for seed {seed} differs from the one {mask_path} was pruned "
                           "at (another torch version?); rerun the prune stage in this environment")
    rec = Recipe.from_dict(recipe)
    configure_numerics(rec)
    dev = rank_device or resolve_device(device)
    data = load_dataset(dataset, data_root, rec.num_workers)
    if rec.pipeline == "dataloader" and dataset != "imagenet":
        from n2n.data import TorchvisionData

        data = TorchvisionData(data, rec.num_workers)
    identity = {"mask": str(Path(mask_path).resolve()), "method": meta["method"], "seed": seed,
                "target_density": meta["target_density"], "recipe": sorted(recipe.items())}
    identity["recipe"] = [list(kv) for kv in identity["recipe"]]
    began = time.perf_counter()
    metrics = train(model, masks, data, rec, seed, dev, Path(checkpoint_path), identity,
                    name=str(Path(model_path).parent), ranks=ranks)
    if not ranks.is_main:
        return
    seconds = sum(row["seconds"] for row in metrics)
    log.info("trained in %.1fs of epochs (%.1fs this process)", seconds, time.perf_counter() - began)
    write_parquet(metrics_path, pd.DataFrame(metrics))
    save_model(model_path, model, {**{k: v for k, v in meta.items() if k != "arch"}, "dataset": dataset,
                                   "epochs": rec.epochs, "device": str(dev), "train_seconds": seconds,
                                   "processes": ranks.world,
                                   "channel_sparse_layers": [n for n, m in model.named_modules() if is_channel_sparse(m)],
                                   "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"},
               masks)
    Path(checkpoint_path).unlink(missing_ok=True)
    stop.attempts_path(checkpoint_path).unlink(missing_ok=True)
