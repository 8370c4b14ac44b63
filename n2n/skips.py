"""The add-skips stage: N2NSkip connections (sparse, trainable) and ResSkip (dense identity).

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

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from n2n.masks import allocate_counts, keep_top, prunable_parameters, reference_count
from n2n.models import Arch, MainPathNet, build_model


@dataclass(frozen=True)
class SkipSpec:
    source: int
    target: int
    in_channels: int
    out_channels: int
    kernel_size: int
    linear: bool

    @property
    def size(self) -> int:
        return self.in_channels * self.out_channels * (1 if self.linear else self.kernel_size ** 2)


def plan_skips(net: MainPathNet, arch: Arch) -> list[SkipSpec]:
    channels = net.activation_channels
    n = len(net.layers)
    specs = []
    for source in range(net.skip_origin, n + 1, arch.skip_every):
        target = source + arch.skip_every
        if target > n:
            break
        layer = net.layers[target - 1]
        k = layer.kernel_size if arch.skip_kernel_size == "target" else int(arch.skip_kernel_size)
        specs.append(SkipSpec(source, target, channels[source], channels[target], k, layer.is_head))
    return specs


def _resample(a: torch.Tensor, like: torch.Tensor, mode: str) -> torch.Tensor:
    """`a` pooled to `like`'s size. Fixed-window pooling where the sizes divide (always in VGG19 and
    ResNet50): the same values as adaptive pooling, and unlike it deterministic on CUDA."""
    if like.dim() == 2:
        return a.mean((2, 3))
    (h, w), (th, tw) = a.shape[-2:], like.shape[-2:]
    if (h, w) == (th, tw):
        return a
    if h % th == 0 and w % tw == 0:
        pool = F.max_pool2d if mode == "maxpool" else F.avg_pool2d
        return pool(a, (h // th, w // tw))
    pool = F.adaptive_max_pool2d if mode == "maxpool" else F.adaptive_avg_pool2d
    return pool(a, (th, tw))


class N2NSkip(nn.Module):
    def __init__(self, spec: SkipSpec, batchnorm: bool, resample: str) -> None:
        super().__init__()
        self.source = spec.source
        self.resample = resample
        if spec.linear:
            self.conv: nn.Module = nn.Linear(spec.in_channels, spec.out_channels, bias=False)
            self.bn: nn.Module = nn.BatchNorm1d(spec.out_channels) if batchnorm else nn.Identity()
        else:
            self.conv = nn.Conv2d(spec.in_channels, spec.out_channels, spec.kernel_size,
                                  padding=spec.kernel_size // 2, bias=False)
            self.bn = nn.BatchNorm2d(spec.out_channels) if batchnorm else nn.Identity()
        if not self.conv.weight.is_meta:
            nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="relu")  # He-normal

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(_resample(a, z, self.resample))))


class ResSkip(nn.Module):
    weight = None  # parameter-free: an identity edge in the channel graph

    def __init__(self, spec: SkipSpec, resample: str) -> None:
        super().__init__()
        self.source = spec.source
        self.resample = resample

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        a = _resample(a, z, self.resample)
        extra = z.shape[1] - a.shape[1]
        if extra > 0:
            pad = [0, 0] * (a.dim() - 2) + [0, extra]
            a = F.pad(a, pad)
        elif extra < 0:
            a = a[:, : z.shape[1]]
        return a


def attach_skips(net: MainPathNet, arch: Arch) -> None:
    for spec in plan_skips(net, arch):
        if arch.skip_kind == "n2nskip":
            net.set_skip(spec.target, N2NSkip(spec, arch.skip_batchnorm, arch.skip_resample))
        elif arch.skip_kind == "resskip":
            net.set_skip(spec.target, ResSkip(spec, arch.skip_resample))
        else:
            raise ValueError(f"unknown skip kind {arch.skip_kind!r}")


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


def add_skips(arch: Arch, masks: dict[str, torch.Tensor], meta: dict[str, Any], seed: int
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Masks of the network with skips: the pruned sequential masks plus random N2NSkip masks."""
    net = build_model(arch, seed)
    generator = torch.Generator().manual_seed(seed + 2_000_003)
    new_masks = dict(masks)
    if arch.skip_kind == "n2nskip":
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
