"""mag: magnitude at initialisation, |w|, global top-k (Synaptic-Flow's baseline)."""

from __future__ import annotations

from n2n.pruners.base import ScoringPruner


class MagnitudePruner(ScoringPruner):
    scope = "global"

    def score(self, model, params, data, generator):
        return {n: p.detach().abs().cpu() for n, p in params.items()}
