"""csp: connection sensitivity (SNIP, Lee et al. 2019): score |g * w| on one training batch.

At the variance-scaling initialisation, with BatchNorm in eval mode, on one mini-batch of training
data (`batch_size`); scores are normalised by their sum (ours; the ranking is unchanged) and the
global top-k is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from n2n.pruners.base import ScoringPruner


@dataclass(frozen=True)
class SNIPOptions:
    batch_size: int = 128  # ours: SNIP's one mini-batch, the first this many training images (unaugmented)


class ConnectionSensitivityPruner(ScoringPruner):
    scope = "global"
    needs_data = True
    Options = SNIPOptions

    def score(self, model, params, data, generator):
        x, y = self.require_data(data).first_batch(self.options.batch_size)
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        scores = {n: (p.grad * p.detach()).abs().cpu() for n, p in params.items()}
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        total = sum(float(s.sum()) for s in scores.values())
        return {n: s / total for n, s in scores.items()} if total > 0 else scores
