"""The files of a trained network: model.pt (pruned weights stored sparse) and the training
checkpoint train_checkpoint.pt, both loaded with `weights_only=True` and written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from n2n.io import atomic_path, tensor_bytes
from n2n.masks import check_pruned_are_zero, pack_mask, unpack_mask

CHECKPOINT_FORMAT = "n2n-train-checkpoint-v1"
MODEL_FORMAT = "n2n-model-v2"  # v2: pruned weights stored sparse (mask bits + kept values)
MODEL_FORMATS = ("n2n-model-v1", MODEL_FORMAT)
# said of a model file or checkpoint that cannot be read (README.md's fault table is generated from them: n2n.docgen)
UNREADABLE_MODEL = "{file} is not a readable n2n model file ({error}); delete it and rerun the train stage"
CORRUPT_CHECKPOINT = ("checkpoint {file} is corrupt or not a checkpoint ({error}); delete it to restart this cell's "
                      "training from epoch 0")


class CheckpointError(RuntimeError):
    """A checkpoint or model file is corrupt or belongs to another cell."""


def save_checkpoint(path: Path, identity: dict[str, Any], epoch: int, model: nn.Module,
                    optimizer: torch.optim.Optimizer, metrics: list[dict[str, float]]) -> None:
    state = {"format": CHECKPOINT_FORMAT, "identity": identity, "epoch": epoch, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "metrics": metrics}
    with atomic_path(path, tensor_bytes(state)) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(CORRUPT_CHECKPOINT.format(file=path, error=f"{type(err).__name__}: {err}")) from None
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


def save_model(path: str | Path, model: nn.Module, meta: dict[str, Any],
               masks: dict[str, torch.Tensor] | None = None) -> None:
    """Write model.pt; a pruned weight is stored as its mask (bit-packed) and its kept values only."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    masks = masks or {}
    check_pruned_are_zero(state, masks)
    sparse = {}
    for name, mask in masks.items():
        if bool(mask.all()):
            continue  # nothing pruned: dense storage is smaller
        weight, kept = state.pop(name), mask.cpu()
        sparse[name] = {"shape": list(weight.shape), "bits": torch.from_numpy(pack_mask(kept)),
                        "values": weight[kept]}
    saved = {"format": MODEL_FORMAT, "arch": model.arch.to_dict(), "meta": meta, "state_dict": state,
             "sparse": sparse}
    with atomic_path(path, tensor_bytes(saved)) as tmp:
        torch.save(saved, tmp)


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
        raise CheckpointError(UNREADABLE_MODEL.format(file=path, error=f"{type(err).__name__}: {err}")) from None
    return model.to(device), saved["meta"]
