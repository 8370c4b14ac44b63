"""rp: random pruning, unstructured, every layer at the same density (ours: layer-wise uniform)."""

from __future__ import annotations

import torch

from n2n.pruners.base import ScoringPruner


class RandomPruner(ScoringPruner):
    scope = "layer"

    def score(self, model, params, data, generator):
        return {n: torch.rand(p.shape, generator=generator) for n, p in params.items()}
