"""rp: random pruning, unstructured, every layer at the same density (ours: layer-wise uniform).
erk: random pruning at Erdos-Renyi-Kernel layer densities (Evci et al. 2020; Liu et al. 2022's control)."""

from __future__ import annotations

import torch

from n2n.pruners.base import ScoringPruner


class RandomPruner(ScoringPruner):
    scope = "layer"

    def score(self, model, params, data, generator):
        return {n: torch.rand(p.shape, generator=generator) for n, p in params.items()}


class ERKRandomPruner(RandomPruner):
    scope = "erk"
