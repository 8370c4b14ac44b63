"""erp: expander-style random pruning (Deep Expander Networks, which the paper cites for RP).

Whole kernels are kept for random (output, input) channel pairs, every layer at the same density.
To hit the density exactly, a layer whose kept count is not a multiple of its kernel size keeps
one partially filled kernel (ours).
"""

from __future__ import annotations

import torch

from n2n.masks import allocate_counts
from n2n.pruners.base import Pruner


class ExpanderRandomPruner(Pruner):
    scope = "layer"

    def prune(self, model, params, data, generator, count):
        counts = allocate_counts([p.numel() for p in params.values()], count)
        masks = {}
        for (name, p), kept in zip(params.items(), counts):
            kernel = p[0, 0].numel() if p.dim() > 2 else 1
            pairs = p.shape[0] * p.shape[1]
            order = torch.randperm(pairs, generator=generator)
            full, partial = divmod(kept, kernel)
            flat = torch.zeros(pairs, kernel, dtype=torch.bool)
            flat[order[:full]] = True
            if partial:
                flat[order[full], :partial] = True
            masks[name] = flat.view(p.shape)
        return masks
