"""The pruner interface (after Synaptic-Flow): score every prunable weight, then keep the top scores.

`scope = "global"` keeps the top `count` scores over the whole network; `scope = "layer"` splits
`count` over layers in proportion to their sizes (every layer at the same density) first.
A pruner that needs more than score-then-mask (iterative SynFlow, learned SCL) overrides `prune`.
`data` is the cell's data set (`first_batch(n)`, `train_batches(...)`), given to pruners with
`needs_data`; `options` is the config's `pruning` section.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from n2n.masks import allocate_counts, keep_top

class Pruner(ABC):
    scope: ClassVar[str] = "global"
    needs_data: ClassVar[bool] = False

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}
        self.report: dict[str, Any] = {}  # what the pruner measured, saved in the mask file's metadata

    @abstractmethod
    def score(self, model: nn.Module, params: dict[str, nn.Parameter], data: Any,
              generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A score per weight (higher = keep), same shapes as `params`, on the CPU."""

    def calibration_batch(self, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `csp_batch_size` training images (unaugmented): SNIP's one mini-batch."""
        if data is None:
            raise ValueError(f"{type(self).__name__} needs training data")
        return data.first_batch(int(self.options.get("csp_batch_size", 128)))

    def prune(self, model: nn.Module, params: dict[str, nn.Parameter], data: Any, generator: torch.Generator,
              count: int) -> dict[str, torch.Tensor]:
        """Masks keeping exactly `count` weights."""
        return self.mask(self.score(model, params, data, generator), count)

    def mask(self, scores: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
        """Exactly `count` kept weights in all; scores are ranked in their own precision, never cast."""
        bad = [n for n, s in scores.items() if not bool(torch.isfinite(s).all())]
        if bad:
            raise ValueError(f"{type(self).__name__}: scores are not finite (inf or NaN) in {len(bad)} layer(s): "
                             f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; ranking them would keep "
                             "arbitrary weights (compute or rescale them in a wider type)")
        if self.scope == "layer":
            counts = allocate_counts([s.numel() for s in scores.values()], count)
            return {n: keep_top(s, c) for (n, s), c in zip(scores.items(), counts)}
        names = list(scores)
        flat = keep_top(torch.cat([scores[n].flatten() for n in names]), count)
        out, start = {}, 0
        for n in names:
            size = scores[n].numel()
            out[n] = flat[start:start + size].view(scores[n].shape)
            start += size
        return out
