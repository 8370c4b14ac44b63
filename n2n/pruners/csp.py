"""csp: connection sensitivity (SNIP, Lee et al. 2019): score |g * w| on one training batch.

At the variance-scaling initialisation, with BatchNorm in eval mode; scores are normalised by
their sum (ours; the ranking is unchanged) and the global top-k is kept.
"""

from __future__ import annotations

import torch.nn.functional as F

from n2n.pruners.base import Pruner


class ConnectionSensitivityPruner(Pruner):
    scope = "global"
    needs_data = True

    def score(self, model, params, data, generator):
        x, y = self.calibration_batch(data)
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        scores = {n: (p.grad * p.detach()).abs().cpu() for n, p in params.items()}
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        total = sum(float(s.sum()) for s in scores.values())
        return {n: s / total for n, s in scores.items()} if total > 0 else scores
