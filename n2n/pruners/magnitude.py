"""mag: magnitude at initialisation, |w|, global top-k (Synaptic-Flow's baseline)."""

from __future__ import annotations

from n2n.pruners.base import Pruner


class MagnitudePruner(Pruner):
    scope = "global"

    def score(self, model, params, data, generator):
        return {n: p.detach().abs().cpu() for n, p in params.items()}
