"""synflow: Iterative Synaptic Flow Pruning (Tanaka et al. 2020), data-free.

R = 1^T (prod |W_l|) 1: the network with every parameter replaced by its absolute value, evaluated
on an all-ones input (BatchNorm in eval mode); the score of a weight is |w * dR/dw|. Pruning is
iterative: `iterations` rounds (default 100) with the kept fraction following the
exponential schedule d^(k/n), global top-k each round. Scores stay in float64 up to the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from n2n.pruners.base import ScoringPruner


@dataclass(frozen=True)
class SynFlowOptions:
    iterations: int = 100  # pruning rounds (its paper's value)


class SynFlowPruner(ScoringPruner):
    scope = "global"
    Options = SynFlowOptions

    def score(self, model, params, data, generator):
        arch = model.arch
        was_training = model.training
        model.eval()
        signs = {}
        with torch.no_grad():
            for name, p in model.state_dict().items():
                if p.dtype.is_floating_point:
                    signs[name] = torch.sign(p)
                    p.abs_()
        ones = torch.ones(1, arch.in_channels, arch.image_size, arch.image_size, dtype=torch.float64)
        model.double()
        model.zero_grad(set_to_none=True)
        model(ones).sum().backward()
        # float64 to the ranking: R reaches 1e57 for ResNet50 at width 0.25, beyond float32's 3.4e38
        scores = {n: (p.grad * p.detach()).abs().cpu() for n, p in params.items()}
        model.zero_grad(set_to_none=True)
        model.float()
        with torch.no_grad():
            for name, p in model.state_dict().items():
                if name in signs:
                    p.mul_(signs[name].to(p.dtype))
        model.train(was_training)
        return scores

    def prune(self, model, params, data, generator, count):
        total = sum(p.numel() for p in params.values())
        rounds = self.options.iterations
        originals = {n: p.detach().clone() for n, p in params.items()}
        masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
        for k in range(1, rounds + 1):
            keep = int(round(total * (count / total) ** (k / rounds))) if count else 0
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(originals[n] * masks[n])
            scores = self.score(model, params, data, generator)
            masks = self.mask({n: s * masks[n] for n, s in scores.items()}, keep)
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(originals[n])
        return masks
