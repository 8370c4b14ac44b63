"""Pruners and the prune stage.

Each pruner is one class behind `n2n.pruners.base.Pruner`, registered by one line in
`n2n.registry.PRUNERS`; `load_pruner(name)` imports it on demand.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch

from n2n import registry
from n2n.pruners.base import Pruner


def pruner_class(name: str) -> type[Pruner]:
    if name not in registry.PRUNERS:
        raise registry.UnknownNameError(f"unknown pruner {name!r}: expected one of {', '.join(registry.PRUNERS)}")
    module, cls = registry.PRUNERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def load_pruner(name: str, pruning: dict[str, Any] | None = None, device: str = "cpu") -> Pruner:
    """The pruner `name`, its options from the config's `pruning` section (`pruning[name]`)."""
    cls = pruner_class(name)
    return cls(cls.options_from((pruning or {}).get(name)), device)


def prune(arch, method: str, density: float, seed: int, share: float, data_fn: Callable[[], Any] | None = None,
          pruning: dict[str, Any] | None = None, device: str = "cpu"
          ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Masks of the sequential weights for one cell, and the budget left for skips.

    The network is the cell's sequential network at its initialisation for `seed` (the same
    weights training starts from). For n2nskip-X, X keeps d * N - skip_budget weights (a channel-level pruner
    keeps whole kernels: the count it kept is in the metadata, `sequential_kept`). X_shuffled: X's
    masks, then each layer's kept positions redrawn by a generator of its own seeded by `seed`.
    """
    from n2n.masks import prunable_parameters, reference_count, shuffle_within_layers
    from n2n.models import build_model, init_fingerprint
    from n2n.skips import skip_budget

    _, base = registry.split_method(method)
    pruner_name, shuffled = registry.split_control(base)
    registry.check_density(method, density)
    pruner = load_pruner(pruner_name, pruning, device)
    net = build_model(arch.sequential(), seed)
    reference = reference_count(net)
    total = int(round(density * reference))
    budget = skip_budget(net, arch, density, share) if arch.skip_kind else 0
    count = total - budget
    if base == "dense" and count != reference:
        raise ValueError("the dense method keeps every weight: its density is 1.0")
    data = data_fn() if pruner.needs_data and data_fn is not None else None
    params = prunable_parameters(net)
    fingerprint = init_fingerprint(net)  # before pruning: learned pruners (scl) change the weights
    generator = torch.Generator().manual_seed(seed)
    masks = pruner.prune(net, params, data, generator, count)
    if shuffled:
        masks = shuffle_within_layers(masks, torch.Generator().manual_seed(seed))
    kept = sum(int(m.sum()) for m in masks.values())  # a channel-level pruner keeps whole kernels: near `count`
    meta = {
        "stage": "prune", "method": method, "pruner": pruner_name, "shuffled": shuffled, "target_density": density,
        "seed": seed, "skip_wiring": "channel" if getattr(pruner, "channel_level", False) else "weight",
        "reference_count": reference, "total_budget": total, "sequential_target": count, "sequential_kept": kept,
        "skip_budget": budget,
        "skip_share": share, "init_fingerprint": fingerprint, "arch": arch.to_dict(),
        "pruner_report": pruner.report,
    }
    return masks, meta


def run_prune(out_path: str, model: str, dataset: str, method: str, density: float, seed: int,
              width: float, skips: dict[str, Any], data_root: str, pruning: dict[str, Any],
              device: str = "cpu", threads: int = 1) -> None:
    """The prune stage: masks of the cell's sequential weights at its initialisation."""
    from n2n.data import load_dataset
    from n2n.masks import save_masks
    from n2n.models import make_arch

    torch.set_num_threads(threads)
    registry.check_cell(model, dataset, method, density)
    arch = make_arch(model, dataset, method, width, skips)

    def data_fn():
        return load_dataset(dataset, data_root)

    masks, meta = prune(arch, method, float(density), seed, float(skips["share"]), data_fn, pruning, device)
    save_masks(out_path, masks, {**meta, "dataset": dataset})
