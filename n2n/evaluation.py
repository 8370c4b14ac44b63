"""The evaluate stage: test accuracy of the trained network (`evaluate`, also run after every
training epoch) and its measured density."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from n2n.distributed import SINGLE, Ranks
from n2n.cost import cost_report
from n2n.masks import check_pruned_are_zero, is_skip, prunable_parameters, reference_count
from n2n.numerics import autocast, cross_entropy

log = logging.getLogger(__name__)


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
            out = model(x).float()
        loss_sum += float(cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        count += len(y)
    model.train(was_training)
    loss_sum, correct, count = ranks.sum(loss_sum, correct, count)
    return loss_sum / count, 100.0 * correct / count


def density_report(model: torch.nn.Module, masks: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Nonzero prunable weights (skips included) against the dense reference; pruned weights must be zero."""
    params = prunable_parameters(model)
    nonzero = {n: int(torch.count_nonzero(p)) for n, p in params.items()}
    check_pruned_are_zero(params, masks)
    dense = reference_count(model)
    total = sum(nonzero.values())
    layers = {n: nonzero[n] / p.numel() for n, p in params.items() if not is_skip(n)}
    return {"params_nonzero": total, "params_dense": dense, "density": total / dense,
            "skip_params_nonzero": sum(v for n, v in nonzero.items() if is_skip(n)),
            "mask_kept": int(sum(int(m.sum()) for m in masks.values())),
            "layer_densities": layers, "layer_density_min": min(layers.values()),
            "layer_density_max": max(layers.values())}


def run_evaluate(model_path: str, mask_path: str, out_path: str, dataset: str, data_root: str,
                 batch_size: int, device: str = "auto", threads: int = 1, precision: str = "auto",
                 metrics_path: str | None = None) -> dict[str, Any]:
    """The evaluate stage: accuracy, density, cost and health (n2n.health) of a trained cell; `metrics_path`
    (the training's per-epoch metrics) gives the health test its losses."""
    from n2n.data import load_dataset
    from n2n.health import learning_record, mask_health
    from n2n.io import read_parquet, write_json
    from n2n.masks import load_masks
    from n2n.modelfiles import load_model
    from n2n.numerics import resolve_device

    torch.set_num_threads(threads)
    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    masks, _ = load_masks(mask_path)
    data = load_dataset(dataset, data_root).to(dev, torch.channels_last)
    model.to(memory_format=torch.channels_last)
    test_loss, test_accuracy = evaluate(model, data, batch_size, precision)
    result = {
        "model": model.arch.model, "dataset": dataset, "method": meta["method"], "seed": meta["seed"],
        "target_density": meta["target_density"], "test_accuracy": test_accuracy, "test_loss": test_loss,
        "epochs": meta["epochs"], "device": meta["device_name"], "seconds": meta["train_seconds"],
        **density_report(model, masks),
        **cost_report(model),
        **mask_health(model, masks),
        **learning_record(read_parquet(metrics_path)["train_loss"].tolist() if metrics_path else [],
                          data.info.classes),
    }
    log.info("test accuracy %.2f%%, density %.5f (target %s); fewest kept in a layer %d (%s), outputs reached "
             "%d of %d", test_accuracy, result["density"], result["target_density"], result["min_layer_kept"],
             result["min_layer_kept_name"], result["outputs_reached"], result["outputs"])
    write_json(out_path, result)
    return result
