"""rp_weights: random pruning of single weights, every layer at the same density, the first convolution and the
classifier included (ours; the paper's RP is `rp`, n2n.pruners.channel).
erk: random pruning of single weights at Erdos-Renyi-Kernel layer densities (Evci et al. 2020; Liu et al. 2022's
control)."""

from __future__ import annotations

import torch

from n2n.pruners.base import ScoringPruner


class RandomPruner(ScoringPruner):
    scope = "layer"

    def score(self, model, params, data, generator):
        return {n: torch.rand(p.shape, generator=generator) for n, p in params.items()}


class ERKRandomPruner(RandomPruner):
    scope = "erk"
