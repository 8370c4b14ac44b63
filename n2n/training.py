"""The train stage: the paper's recipe (SGD, momentum 0.9, lr 0.05 halved every 30 epochs,
weight decay 5e-4, batch 128, 300 epochs), pruned weights kept at exactly zero, test accuracy
logged every epoch, and an atomic checkpoint every epoch from which a restarted job resumes.

Each epoch draws its data order and augmentation from a generator seeded by (seed, epoch), so a
resumed run sees the same batches as an uninterrupted one and ends with the same weights: always on
the CPU, and on CUDA with `deterministic: true` (`configure_numerics`).
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
import torch.nn.functional as F
from torch import nn

from n2n import stop
from n2n.distributed import SINGLE, Ranks
from n2n.io import atomic_path
from n2n.masks import apply_masks_, float_masks, pack_mask, unpack_mask
from n2n.stop import StopRequested

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "n2n-train-checkpoint-v1"
MODEL_FORMAT = "n2n-model-v2"  # v2: pruned weights stored sparse (mask bits + kept values)
MODEL_FORMATS = ("n2n-model-v1", MODEL_FORMAT)
KILL_AFTER_EPOCH_ENV = "N2N_KILL_AFTER_EPOCH"  # tests: SIGKILL the job after this epoch's checkpoint


class CheckpointError(RuntimeError):
    """A checkpoint or model file is corrupt or belongs to another cell."""


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
    num_workers: int = 4
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on the CPU | bf16 | fp32
    compile: bool = False  # torch.compile the model (inductor: mode "max-autotune-no-cudagraphs")
    compile_backend: str = "inductor"
    pipeline: str = "resident"  # resident: data on the device, batch augmentation | dataloader: torchvision
    deterministic: bool = False  # CUDA: deterministic kernels, no TF32 (configure_numerics)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based `epoch`: step decay."""
        return self.lr * self.lr_gamma ** (epoch // self.lr_step_epochs)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is visible")
    return torch.device(name)


CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS's setting for reproducible results (CUDA's documentation)


def configure_numerics(recipe: Recipe) -> None:
    """Set this process's numerics for `recipe` before CUDA runs a kernel.

    `precision: fp32` is fp32 everywhere: TF32 (on by default for cuDNN convolutions) is off.
    `deterministic: true` also picks deterministic kernels (an op that has none raises), turns off
    cuDNN's autotuner and sets cuBLAS's workspace, so that on CUDA two runs of one cell, or a
    resumed run and an uninterrupted one, give the same weights bit for bit.
    """
    tf32 = not (recipe.deterministic or recipe.precision == "fp32")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if recipe.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # read when cuBLAS starts
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def cross_entropy(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """F.cross_entropy; in deterministic mode as log-softmax and a gather, because CUDA's NLL loss
    has no deterministic kernel (it raises there)."""
    if not torch.are_deterministic_algorithms_enabled():
        return F.cross_entropy(out, y, reduction=reduction)
    picked = -F.log_softmax(out, 1).gather(1, y[:, None]).squeeze(1)
    return picked.sum() if reduction == "sum" else picked.mean()


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA (BatchNorm stays fp32 under autocast); fp32 elsewhere or when asked."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)


@torch.no_grad()
def evaluate(model: nn.Module, data: Any, batch_size: int, precision: str = "auto",
             ranks: Ranks = SINGLE) -> tuple[float, float]:
    """(test loss, test accuracy in percent), batched, in the training precision; each rank takes a share."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    device = next(model.parameters()).device
    for x, y in data.test_batches(batch_size, ranks):
        if len(y) == 0:
            continue
        with autocast(device, precision):
            out = model(x.contiguous(memory_format=torch.channels_last)).float()
        loss_sum += float(cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        count += len(y)
    model.train(was_training)
    loss_sum, correct, count = ranks.sum(loss_sum, correct, count)
    return loss_sum / count, 100.0 * correct / count


def load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint ({type(err).__name__}: {err}); "
                              "delete it to restart this cell's training from epoch 0") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an n2n training checkpoint; delete it to restart")
    if state.get("identity") != identity:
        raise CheckpointError(f"checkpoint {path} belongs to another run ({state.get('identity')}), not "
                              f"{identity}; delete it to restart this cell's training")
    return state


def checkpoint_epoch(path: str | Path) -> int:
    """The last epoch checkpointed at `path`; 0 when there is none (or it is unreadable: training says so)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:
        return 0


def train(model: nn.Module, masks: dict[str, torch.Tensor], data: Any, recipe: Recipe, seed: int,
          device: torch.device, checkpoint: Path | None = None, identity: dict[str, Any] | None = None,
          name: str = "training", ranks: Ranks = SINGLE) -> list[dict[str, float]]:
    """Train `model` in place with `masks` enforced; return one metrics row per epoch.

    A NaN or infinite training loss raises TrainingDiverged naming `name` (the cell) and the epoch.
    With several `ranks` (n2n.distributed) each trains on its share of every batch; rank 0 checkpoints.
    """
    identity = identity or {}
    model.to(device, memory_format=torch.channels_last)  # NHWC: ~30% faster convs, on the CPU too
    data.to(device)
    fmasks = float_masks(masks, model)
    apply_masks_(model, fmasks)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    forward = model
    if ranks.world > 1:  # gradients averaged over the ranks; masks stay on the shared module
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if recipe.compile:
        inductor = recipe.compile_backend == "inductor"
        forward = torch.compile(forward, backend=recipe.compile_backend,
                                mode="max-autotune-no-cudagraphs" if inductor else None)
    metrics: list[dict[str, float]] = []
    start_epoch = 0
    if checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint, identity)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        metrics = list(state["metrics"])
        start_epoch = int(state["epoch"])
        log.info("resuming from %s after epoch %d", checkpoint, start_epoch)
    kill_after = os.environ.get(KILL_AFTER_EPOCH_ENV)
    for epoch in range(start_epoch, recipe.epochs):
        began = time.perf_counter()
        lr = recipe.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        loss_sum, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
        for x, y in data.train_batches(recipe.batch_size, generator, ranks):
            with autocast(device, recipe.precision):
                out = forward(x.contiguous(memory_format=torch.channels_last))
                loss = cross_entropy(out.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            apply_masks_(model, fmasks)  # pruned weights back to exactly zero
            loss_sum += loss.detach() * len(y)
            correct += (out.argmax(1) == y).sum()
            count += len(y)
        loss_sum, correct, count = ranks.sum(loss_sum, correct, count)  # one sync per epoch, not per step
        train_loss = loss_sum / count
        if not math.isfinite(train_loss):
            kept = f"the checkpoint of epoch {epoch} is kept" if epoch > 0 and checkpoint is not None else "nothing is kept"
            raise TrainingDiverged(f"{name}: training diverged in epoch {epoch + 1} "
                                   f"(mean train loss {train_loss}); {kept}, no model is written")
        test_loss, test_acc = evaluate(model, data, recipe.eval_batch_size, recipe.precision, ranks)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss,
               "train_accuracy": 100.0 * float(correct) / count, "test_loss": test_loss,
               "test_accuracy": test_acc, "seconds": time.perf_counter() - began}
        metrics.append(row)
        log.info("epoch %d/%d lr %.4g loss %.4f train %.2f%% test %.2f%% (%.1fs)", epoch + 1, recipe.epochs, lr,
                 row["train_loss"], row["train_accuracy"], test_acc, row["seconds"])
        if checkpoint is not None and ranks.is_main:
            with atomic_path(checkpoint) as tmp:
                torch.save({"format": CHECKPOINT_FORMAT, "identity": identity, "epoch": epoch + 1,
                            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "metrics": metrics}, tmp)
        ranks.barrier()  # the checkpoint is on disk before any rank goes on (or is stopped)
        if kill_after is not None and int(kill_after) == epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)
        if ranks.any(stop.requested()) and checkpoint is not None and epoch + 1 < recipe.epochs:
            log.warning("stop requested (SIGUSR1): checkpoint of epoch %d saved, exiting to resume", epoch + 1)
            raise StopRequested()
    return metrics


def save_model(path: str | Path, model: nn.Module, meta: dict[str, Any],
               masks: dict[str, torch.Tensor] | None = None) -> None:
    """Write model.pt; a pruned weight is stored as its mask (bit-packed) and its kept values only."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    sparse = {}
    for name, mask in (masks or {}).items():
        if bool(mask.all()):
            continue  # nothing pruned: dense storage is smaller
        weight, kept = state.pop(name), mask.cpu()
        if bool(weight[~kept].any()):
            raise RuntimeError(f"{name}: pruned weights are nonzero; the masks were not enforced")
        sparse[name] = {"shape": list(weight.shape), "bits": torch.from_numpy(pack_mask(kept)),
                        "values": weight[kept]}
    with atomic_path(path) as tmp:
        torch.save({"format": MODEL_FORMAT, "arch": model.arch.to_dict(), "meta": meta, "state_dict": state,
                    "sparse": sparse}, tmp)


def _dense_weight(entry: dict[str, Any]) -> torch.Tensor:
    weight = torch.zeros(entry["shape"], dtype=entry["values"].dtype)
    weight[unpack_mask(entry["bits"].numpy(), entry["shape"])] = entry["values"]
    return weight


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained network from model.pt (loaded with weights_only=True)."""
    from n2n.models import Arch, build_empty

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("format") not in MODEL_FORMATS:
            raise ValueError("unknown format")
        state = dict(saved["state_dict"])
        state.update({name: _dense_weight(entry) for name, entry in saved.get("sparse", {}).items()})
        model = build_empty(Arch.from_dict(saved["arch"]))
        model.load_state_dict(state, assign=True)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable n2n model file ({type(err).__name__}: {err}); "
                              "delete it and rerun the train stage") from None
    return model.to(device), saved["meta"]


def run_train(mask_path: str, model_path: str, metrics_path: str, checkpoint_path: str, dataset: str,
              data_root: str, recipe: dict[str, Any], device: str = "auto", threads: int = 1,
              processes: int = 1) -> None:
    """The train stage: masks in, trained weights and per-epoch metrics out; data-parallel over `processes`."""
    cell = dict(mask_path=mask_path, model_path=model_path, metrics_path=metrics_path,
                checkpoint_path=checkpoint_path, dataset=dataset, data_root=data_root, recipe=recipe,
                device=device, threads=threads)
    stop.begin_attempt(checkpoint_path, checkpoint_epoch(checkpoint_path), str(Path(model_path).parent))
    if processes <= 1:
        _train_cell(**cell, ranks=SINGLE)
        return
    from n2n.distributed import run_ranks

    if Recipe.from_dict(recipe).pipeline == "dataloader" and dataset != "imagenet":
        raise ValueError("the reference pipeline (`training.pipeline: dataloader`) trains in one process")
    device_type = resolve_device(device).type
    if device_type == "cuda" and torch.cuda.device_count() < processes:
        raise RuntimeError(f"training on {processes} processes needs {processes} GPUs; "
                           f"{torch.cuda.device_count()} are visible to this job")
    log_files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    run_ranks("n2n.training:train_rank", processes, device_type, cell, log_files)


def train_rank(rank: int, world: int, port: int, **cell: Any) -> None:
    """One process of a data-parallel training (started by n2n.distributed.run_ranks), on GPU `rank`."""
    from n2n.distributed import join, leave

    device = resolve_device(cell["device"])
    if device.type == "cuda":
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    ranks = join(rank, world, port, device.type)
    try:
        _train_cell(**cell, ranks=ranks, rank_device=device)
    finally:
        leave()


def _train_cell(mask_path: str, model_path: str, metrics_path: str, checkpoint_path: str, dataset: str,
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
                                   "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"},
               masks)
    Path(checkpoint_path).unlink(missing_ok=True)
    stop.attempts_path(checkpoint_path).unlink(missing_ok=True)
