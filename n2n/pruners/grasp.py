"""grasp: Gradient Signal Preservation (Wang et al. 2020).

score = w * (H g), H the Hessian and g the gradient of the loss (logits divided by a temperature,
`temperature`, default 200 as in the paper) on a class-balanced sample of the training data,
`samples_per_class` images of every class (default 10), drawn by the
cell's seed; the global top-k is kept (removing the highest -w * Hg, as GraSP does). Hg comes from a
second backward pass through g^T stopgrad(g).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from n2n.pruners.base import ScoringPruner


@dataclass(frozen=True)
class GraSPOptions:
    temperature: float = 200.0  # GraSP's softmax temperature (its paper's value)
    samples_per_class: int = 10  # the calibration sample: this many training images of every class


def hessian_gradient_product(model, params, x, y, temperature):
    """(H g) for every parameter in `params`, by double backward."""
    names = list(params)
    tensors = [params[n] for n in names]
    loss = F.cross_entropy(model(x) / temperature, y)
    stopped = [g.detach() for g in torch.autograd.grad(loss, tensors)]
    loss = F.cross_entropy(model(x) / temperature, y)
    grads = torch.autograd.grad(loss, tensors, create_graph=True)
    dot = sum((g * s).sum() for g, s in zip(grads, stopped))
    return dict(zip(names, torch.autograd.grad(dot, tensors)))


class GraSPPruner(ScoringPruner):
    scope = "global"
    needs_data = True
    Options = GraSPOptions

    def score(self, model, params, data, generator):
        x, y = self.require_data(data).class_balanced_batch(self.options.samples_per_class, generator)
        was_training = model.training
        model.eval()
        hg = hessian_gradient_product(model, params, x, y, self.options.temperature)
        model.train(was_training)
        scores = {n: (hg[n] * params[n].detach()).cpu() for n in params}
        norm = abs(float(sum(s.sum() for s in scores.values()))) + 1e-12
        return {n: s / norm for n, s in scores.items()}
