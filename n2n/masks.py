"""Masks: one bool tensor per prunable weight, with exact density accounting.

Prunable weights are every conv and linear weight (not biases, not BatchNorm). Densities are
always counted against the dense reference: the sequential network without skip connections.
On disk a mask file is an .npz of bit-packed masks plus JSON metadata, readable without torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from n2n.io import atomic_path

SKIP_PREFIX = "skips."
# said of a mask file that cannot be read (README.md's fault table is generated from it: n2n.docgen)
UNREADABLE_MASKS = "{file} is not a readable n2n mask file ({error}); delete it and rerun the prune stage"


def is_skip(name: str) -> bool:
    return name.startswith(SKIP_PREFIX)


def prunable_parameters(model: nn.Module, skips: bool = True) -> dict[str, nn.Parameter]:
    """Conv and linear weights by parameter name, in module order; `skips=False` leaves skip weights out."""
    out: dict[str, nn.Parameter] = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            pname = f"{name}.weight"
            if skips or not is_skip(pname):
                out[pname] = module.weight
    return out


def reference_count(model: nn.Module) -> int:
    """Number of prunable weights of the dense reference (skip weights are not part of it)."""
    return sum(p.numel() for p in prunable_parameters(model, skips=False).values())


def allocate_counts(sizes: list[int], total: int) -> list[int]:
    """Split `total` kept weights over layers in proportion to their sizes (largest remainder).

    The counts sum to `total` exactly and never exceed a layer's size.
    """
    capacity = sum(sizes)
    if not 0 <= total <= capacity:
        raise ValueError(f"cannot keep {total} weights out of {capacity}")
    if capacity == 0:
        return [0 for _ in sizes]
    return round_counts([total * s / capacity for s in sizes], sizes, total)


def round_counts(exact: list[float], sizes: list[int], total: int) -> list[int]:
    """Whole counts from real ones summing to `total`: floors, then one more for the largest remainders
    among layers with room left."""
    counts = [min(int(np.floor(e)), s) for e, s in zip(exact, sizes)]
    order = sorted((i for i in range(len(sizes)) if counts[i] < sizes[i]), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def erk_densities(shapes: list[tuple[int, ...]], total: int) -> list[float]:
    """Erdos-Renyi-Kernel layer densities (Evci et al. 2020, RigL's `sparse_utils.get_sparsities_erdos_renyi`) keeping
    `total` weights: a layer's density is eps * sum(shape) / prod(shape), one eps for every layer; a layer
    that would exceed 1 is kept dense and eps is solved again over the rest. Capping every such layer at
    once equals RigL's one at a time: capping only raises eps, so a layer over 1 stays over 1."""
    sizes = [int(np.prod(s)) for s in shapes]
    if not 0 <= total <= sum(sizes):
        raise ValueError(f"cannot keep {total} weights out of {sum(sizes)}")
    raw = [sum(s) / n for s, n in zip(shapes, sizes)]
    dense: set[int] = set()
    while True:
        sparse = [i for i in range(len(sizes)) if i not in dense]
        divisor = sum(raw[i] * sizes[i] for i in sparse)
        eps = (total - sum(sizes[i] for i in dense)) / divisor if divisor else 0.0
        over = {i for i in sparse if eps * raw[i] > 1}
        if not over:
            return [1.0 if i in dense else eps * raw[i] for i in range(len(sizes))]
        dense |= over


def erk_counts(shapes: list[tuple[int, ...]], total: int) -> list[int]:
    """Whole kept counts per layer at ERK densities, summing to `total` exactly."""
    sizes = [int(np.prod(s)) for s in shapes]
    return round_counts([d * n for d, n in zip(erk_densities(shapes, total), sizes)], sizes, total)


def shuffle_within_layers(masks: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Each layer's kept positions redrawn uniformly at random, its count kept (Frankle et al. 2021's
    layerwise shuffle): what is left of a pruner is its allocation over layers."""
    out = {}
    for name, mask in masks.items():
        flat = torch.zeros(mask.numel(), dtype=torch.bool)
        flat[torch.randperm(mask.numel(), generator=generator)[: int(mask.sum())]] = True
        out[name] = flat.view(mask.shape)
    return out


def keep_top(scores: torch.Tensor, count: int) -> torch.Tensor:
    """Bool mask of the `count` largest scores (exactly `count`, ties broken by position), ranked in
    the scores' own precision: SynFlow's float64 scores exceed float32's range."""
    flat = scores.flatten()
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    if count > 0:
        mask[torch.topk(flat, count, sorted=False).indices] = True
    return mask.view(scores.shape)


@torch.no_grad()
def apply_masks_(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights in place: one fused multi-tensor multiply."""
    params = prunable_parameters(model)
    names = [n for n in masks if n in params]
    if len(names) != len(masks):
        missing = sorted(set(masks) - set(params))
        raise KeyError(f"masks name weights the model does not have: {missing[:5]}")
    if names:
        torch._foreach_mul_([params[n].data for n in names], [masks[n] for n in names])


def float_masks(masks: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Masks in each weight's dtype, device and memory format (strides), ready for `apply_masks_`: the
    fused multi-tensor multiply needs equal strides and falls back to one multiply per tensor otherwise."""
    params = prunable_parameters(model)
    return {n: torch.empty_like(params[n], requires_grad=False).copy_(m) for n, m in masks.items()}


def check_pruned_are_zero(weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    """Raise RuntimeError naming the layers whose pruned weights are not exactly zero."""
    leaked = {n: int(torch.count_nonzero(weights[n].detach().cpu()[~m.cpu()])) for n, m in masks.items()}
    leaked = {n: c for n, c in leaked.items() if c}
    if leaked:
        raise RuntimeError(f"{sum(leaked.values())} pruned weights are nonzero (in {', '.join(list(leaked)[:5])}): "
                           "the masks were not enforced")


def pack_mask(mask: torch.Tensor) -> np.ndarray:
    """A bool mask as bits (uint8, row-major): what mask files and sparse model files store."""
    return np.packbits(mask.detach().cpu().numpy().astype(bool).ravel())


def unpack_mask(bits: np.ndarray, shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(bits, count=int(np.prod(shape))).astype(bool).reshape(shape))


def save_masks(path: str | Path, masks: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    arrays: dict[str, np.ndarray] = {"__meta__": np.array(json.dumps(meta, sort_keys=True))}
    shapes = {}
    for i, (name, mask) in enumerate(masks.items()):
        arrays[f"m{i}"] = pack_mask(mask)
        shapes[name] = list(mask.shape)
    arrays["__shapes__"] = np.array(json.dumps(shapes))
    with atomic_path(path, sum(a.nbytes for a in arrays.values())) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_masks(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a mask file; raise ValueError naming the file if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            shapes = json.loads(str(data["__shapes__" if "__shapes__" in data else "__names__"]))  # older files
            masks = {name: unpack_mask(data[f"m{i}"], shape) for i, (name, shape) in enumerate(shapes.items())}
    except FileNotFoundError:
        raise
    except Exception as err:  # a truncated or foreign file
        raise ValueError(UNREADABLE_MASKS.format(file=path, error=f"{type(err).__name__}: {err}")) from None
    return masks, meta
