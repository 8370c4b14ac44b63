"""dense: keeps every weight (the unpruned baseline, density 1.0)."""

from __future__ import annotations

import torch

from n2n.pruners.base import ScoringPruner


class DensePruner(ScoringPruner):
    scope = "layer"

    def score(self, model, params, data, generator):
        return {n: torch.ones(p.shape) for n, p in params.items()}
