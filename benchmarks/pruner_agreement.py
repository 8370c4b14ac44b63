"""SynFlow's masks against an independent float64 implementation of Tanaka et al.'s algorithm.

The reference follows Synaptic-Flow's code (its `SynFlow.score`, `global_mask` and `prune_loop`):
every state entry replaced by its absolute value, BatchNorm in eval mode, an all-ones input, the
score |w dR/dw| of R = sum of the output, and `rounds` rounds on the exponential schedule d^(k/n),
each keeping the top of the masked scores. It is written here apart from `n2n.pruners.synflow`,
on its own copy of the network, in float64 throughout, ranking with a full sort; the kept count
of each round uses the project's rule (round(N d^(k/n))) so that both sides keep as many weights.
Prints, per model and density, the fraction of the reference's kept weights that n2n keeps too,
and the main-path layers each side empties.

    python benchmarks/pruner_agreement.py [--width 1.0] [--rounds 100] [--models resnet50 vgg19]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from n2n.masks import prunable_parameters
from n2n.models import build_model, make_arch
from n2n.pruners.synflow import SynFlowPruner

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}


def reference_synflow(net: torch.nn.Module, count: int, rounds: int) -> dict[str, torch.Tensor]:
    net = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for value in net.state_dict().values():
            if value.dtype.is_floating_point:
                value.abs_()
    weights = prunable_parameters(net)
    originals = {n: w.detach().clone() for n, w in weights.items()}
    masks = {n: torch.ones_like(w) for n, w in weights.items()}
    total = sum(w.numel() for w in weights.values())
    arch = net.arch
    ones = torch.ones(1, arch.in_channels, arch.image_size, arch.image_size, dtype=torch.float64)
    for k in range(1, rounds + 1):
        with torch.no_grad():
            for n, w in weights.items():
                w.copy_(originals[n] * masks[n])
        net.zero_grad(set_to_none=True)
        net(ones).sum().backward()
        scores = torch.cat([(w.grad * w.detach()).abs().flatten() for w in weights.values()])
        keep = int(round(total * (count / total) ** (k / rounds)))
        order = torch.sort(scores, descending=True, stable=True).indices
        kept = torch.zeros(total, dtype=torch.float64)
        kept[order[:keep]] = 1.0
        start = 0
        for n, w in weights.items():
            masks[n] = kept[start:start + w.numel()].view(w.shape)
            start += w.numel()
    return {n: m.bool() for n, m in masks.items()}


def emptied(masks: dict[str, torch.Tensor]) -> list[str]:
    return [n for n, m in masks.items() if not m.any() and "shortcut" not in n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--models", nargs="+", default=["resnet50", "vgg19"])
    parser.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.02])
    args = parser.parse_args()
    print(f"SynFlow, CIFAR-10 shapes, width {args.width:g}, {args.rounds} rounds, seed 0, float64 on both sides")
    print(f"{'model':<10} {'density':>7} {'agreement':>9} {'emptied (n2n)':>14} {'emptied (ref)':>14} {'seconds':>8}")
    for model in args.models:
        arch = make_arch(model, "cifar10", "synflow", args.width, SKIPS)
        net = build_model(arch, 0)
        for density in args.densities:
            began = time.perf_counter()
            params = prunable_parameters(net)
            count = int(round(density * sum(p.numel() for p in params.values())))
            pruner = SynFlowPruner(SynFlowPruner.Options(iterations=args.rounds))
            ours = pruner.prune(net, params, None, torch.Generator(), count)
            theirs = reference_synflow(net, count, args.rounds)
            both = sum(int((ours[n] & theirs[n]).sum()) for n in ours)
            agreement = both / sum(int(m.sum()) for m in theirs.values())
            print(f"{model:<10} {density:>7g} {agreement:>9.4f} {len(emptied(ours)):>14} {len(emptied(theirs)):>14} "
                  f"{time.perf_counter() - began:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
