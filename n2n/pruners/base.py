"""The pruner interface (after Synaptic-Flow): score every prunable weight, then keep the top scores.

`Pruner.prune(model, params, data, generator, count)` returns masks keeping exactly `count` weights.
Most pruners are `ScoringPruner`s: they define `score`, and `scope = "global"` keeps the top `count`
scores over the whole network, `scope = "layer"` splits `count` over layers in proportion to their
sizes (every layer at the same density) first, `scope = "erk"` at Erdos-Renyi-Kernel densities. A pruner that learns or constructs its masks (SCL,
expander) subclasses `Pruner` and defines `prune` alone. `data` is the cell's data set
(`first_batch(n)`, `class_balanced_batch(...)`, `train_batches(...)`), given to pruners with
`needs_data`. A pruner's settings are its `Options` dataclass: the defaults live there, the config's
`pruning.<pruner>` section sets them, and the config schema lists the same fields (a test checks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from n2n.masks import allocate_counts, erk_counts, keep_top


@dataclass(frozen=True)
class NoOptions:
    """A pruner without settings."""


class Pruner(ABC):
    scope: ClassVar[str] = "global"
    needs_data: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None, device: str = "cpu") -> None:
        self.options = options if options is not None else self.Options()
        self.device = device  # the config's device (auto | cpu | cuda), for pruners that train
        self.report: dict[str, Any] = {}  # what the pruner measured, saved in the mask file's metadata

    @classmethod
    def options_from(cls, section: dict[str, Any] | None) -> Any:
        """The pruner's Options from its config section, refusing keys it does not know."""
        section = dict(section or {})
        known = {f.name for f in fields(cls.Options)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown option(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known)) or 'none'})")
        return cls.Options(**section)

    def require_data(self, data: Any) -> Any:
        if data is None:
            raise ValueError(f"{type(self).__name__} needs training data")
        return data

    @abstractmethod
    def prune(self, model: nn.Module, params: dict[str, nn.Parameter], data: Any, generator: torch.Generator,
              count: int) -> dict[str, torch.Tensor]:
        """Masks keeping exactly `count` weights."""

    def mask(self, scores: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
        """Exactly `count` kept weights in all; scores are ranked in their own precision, never cast."""
        bad = [n for n, s in scores.items() if not bool(torch.isfinite(s).all())]
        if bad:
            raise ValueError(f"{type(self).__name__}: scores are not finite (inf or NaN) in {len(bad)} layer(s): "
                             f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; ranking them would keep "
                             "arbitrary weights (compute or rescale them in a wider type)")
        if self.scope in ("layer", "erk"):
            counts = (allocate_counts([s.numel() for s in scores.values()], count) if self.scope == "layer"
                      else erk_counts([tuple(s.shape) for s in scores.values()], count))
            return {n: keep_top(s, c) for (n, s), c in zip(scores.items(), counts)}
        names = list(scores)
        flat = keep_top(torch.cat([scores[n].flatten() for n in names]), count)
        out, start = {}, 0
        for n in names:
            size = scores[n].numel()
            out[n] = flat[start:start + size].view(scores[n].shape)
            start += size
        return out


class ScoringPruner(Pruner):
    """Score, then keep the top `count` scores (globally or layer by layer, as `scope` says)."""

    @abstractmethod
    def score(self, model: nn.Module, params: dict[str, nn.Parameter], data: Any,
              generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A score per weight (higher = keep), same shapes as `params`, on the CPU."""

    def prune(self, model, params, data, generator, count):
        return self.mask(self.score(model, params, data, generator), count)
