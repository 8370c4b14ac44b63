"""The add-skips stage: the masks of N2NSkip connections (sparse, trainable) and ResSkip (dense identity).
The skip layers themselves are part of the network (`n2n.models`).

Placement (ours, config `skips`): one skip per non-overlapping block of `every` = k layers
along the main path, from activation l to the pre-activation of layer l + k, for
l = origin, origin + k, ... (origin: the input for VGG, the stem's output for ResNet).

N2NSkip: a_{l+k} = relu(z_{l+k} + relu(BN(conv(resample(a_l))))) with a random sparse mask;
its kernel is the target layer's kernel size by default (3x3 in VGG, 1x1 at the end of a
ResNet bottleneck). When a_l is larger than z_{l+k} it is pooled *before* the conv (cheaper).
ResSkip: a_{l+k} = relu(z_{l+k} + pad(resample(a_l))): parameter-free, zero-padded channels.

The skip budget is d * share of the dense reference count, capped by the skip layers'
capacity; the sequential weights get the rest, so the total stays exactly d.
"""

from __future__ import annotations

from typing import Any

import torch

from n2n.masks import allocate_counts, keep_top, prunable_parameters, reference_count
from n2n.models import Arch, MainPathNet, build_model, plan_skips


def skip_budget(net: MainPathNet, arch: Arch, density: float, share: float) -> int:
    """Kept skip weights for an N2NSkip cell: d * share of the reference, capped by skip capacity."""
    if arch.skip_kind != "n2nskip":
        return 0
    capacity = sum(s.size for s in plan_skips(net, arch))
    return min(int(round(density * share * reference_count(net))), capacity)


def skip_masks(net: MainPathNet, budget: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random masks for the skip weights: `budget` kept in all, spread at equal density."""
    params = {n: p for n, p in prunable_parameters(net).items() if n.startswith("skips.")}
    counts = allocate_counts([p.numel() for p in params.values()], budget)
    return {n: keep_top(torch.rand(p.shape, generator=generator), c) for (n, p), c in zip(params.items(), counts)}


def channel_skip_masks(net: MainPathNet, budget: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Masks for the skip weights as the paper's RP wires its layers (n2n.pruners.channel, as the authors'
    vggskip.py builds its skip convolutions with the same expander layer): whole kernels for random channel
    pairs, every skip's outputs fed, `budget` kept in all to within one kernel per skip."""
    from n2n.pruners.channel import channel_masks

    shapes = {n: tuple(p.shape) for n, p in prunable_parameters(net).items() if n.startswith("skips.")}
    return channel_masks(shapes, budget, generator, what="N2NSkip connections")


def add_skips(arch: Arch, masks: dict[str, torch.Tensor], meta: dict[str, Any], seed: int
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Masks of the network with skips: the pruned sequential masks plus random N2NSkip masks."""
    net = build_model(arch, seed)
    generator = torch.Generator().manual_seed(seed + 2_000_003)
    new_masks = dict(masks)
    if arch.skip_kind == "n2nskip":
        if meta.get("skip_wiring") == "channel":  # whole kernels for random channel pairs, as the main path
            budget = int(meta["total_budget"]) - int(meta["sequential_kept"])  # the total stays the cell's budget
            new_masks.update(channel_skip_masks(net, budget, generator))
        else:
            new_masks.update(skip_masks(net, int(meta["skip_budget"]), generator))
    names = set(prunable_parameters(net))
    if set(new_masks) != names:
        raise ValueError("masks do not match the network's prunable weights: "
                         f"{sorted(names ^ set(new_masks))[:5]}")
    return new_masks, {**meta, "arch": arch.to_dict(), "stage": "add_skips"}


def run_add_skips(prune_mask_path: str, out_path: str) -> None:
    """The add_skips stage: read the prune stage's masks, write the masks of the network with skips."""
    from n2n.masks import load_masks, save_masks

    masks, meta = load_masks(prune_mask_path)
    arch = Arch.from_dict(meta["arch"])
    if arch.skip_kind is None:
        raise ValueError(f"{prune_mask_path} belongs to method {meta['method']!r}, which adds no skips")
    new_masks, new_meta = add_skips(arch, masks, meta, int(meta["seed"]))
    save_masks(out_path, new_masks, new_meta)
