"""scl: Sparse Connectivity Learning (Tang et al., TNNLS 2023), as a pruner stage.

Every prunable weight becomes w = w_hat * step(m) with a trainable score m, initialised positive
(`score_init`) so every mask starts at 1. The backward pass of step is the identity (Identity STE):
dL/dm = dL/dw * w_hat. The score gradients are very unbalanced across output features, so each
conv filter's or linear row's score gradient is divided by its root-mean-square (ours: the RMS,
i.e. the L2 norm over sqrt(fan-in); the paper's full text was not available to us). The loss adds
lambda * kept/total; in these normalised units its gradient on each score is lambda.

Ours: lambda is set by a controller. The goal fraction falls linearly from 1 to the target over
the first 3/4 of the `epochs` mask-learning epochs and then stays at the target; at every step
lambda takes the one value for which the kept fraction after the score update equals the goal
(a deadbeat controller: lambda shifts every score by the same amount, so the layer-wise
allocation is left to the normalised task gradients, as in SCL). Weights and BatchNorm train
jointly with SGD. The kept fraction reached is reported (never assumed); the frozen mask is then the
global top-k of the scores, exactly the target count, with the layer-wise allocation SCL learned.
The cell then trains from its initialisation like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from n2n.pruners.base import Pruner

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class SCLOptions:
    epochs: int = 30  # mask-learning epochs
    lr: float = 0.05  # SGD learning rate of the weights and BatchNorm while masks are learned
    score_lr: float | None = None  # None: 4 x score_init / number of steps
    score_init: float = 1.0  # every score starts here, so every mask starts at 1
    batch_size: int = 128


class _IdentitySTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores):
        return (scores > 0).to(scores.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


def normalise_per_feature(grad: torch.Tensor) -> torch.Tensor:
    """Divide each output feature's (row's) gradient by its root-mean-square."""
    rows = grad.flatten(1) if grad.dim() > 1 else grad.view(1, -1)
    rms = rows.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
    return (rows / rms).view_as(grad)


def regulariser_weight(scores: dict[str, torch.Tensor], keep: int) -> float:
    """The uniform downward shift that leaves exactly `keep` scores positive (midway between neighbours)."""
    flat = torch.cat([s.flatten() for s in scores.values()])
    if keep >= flat.numel():
        return min(0.0, float(flat.min()) - 1e-6)
    top = torch.topk(flat, keep + 1).values
    return float(top[-1] + top[-2]) / 2 if keep > 0 else float(top[0]) + 1e-6


class SparseConnectivityLearning(Pruner):
    scope = "global"
    needs_data = True
    Options = SCLOptions

    def prune(self, model, params, data, generator, count):
        self.require_data(data)
        opts = self.options
        wanted = self.device  # the config's device: auto | cpu | cuda
        device = torch.device("cuda" if wanted in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
        total = sum(p.numel() for p in params.values())
        target = count / total
        model.to(device)
        data = data.to(device)
        names = list(params)
        weights = dict(model.named_parameters())
        scores = {n: torch.full_like(weights[n], float(opts.score_init)) for n in names}
        steps_per_epoch = -(-data.train_size // opts.batch_size)
        steps = opts.epochs * steps_per_epoch
        score_lr = opts.score_lr or 4.0 * float(opts.score_init) / steps
        optimiser = torch.optim.SGD(model.parameters(), lr=float(opts.lr), momentum=0.9)
        lam, step = 0.0, 0
        model.train()
        for epoch in range(opts.epochs):
            batches = data.train_batches(opts.batch_size, torch.Generator().manual_seed(int(1e6) + epoch))
            for x, y in batches:
                live = {n: s.detach().requires_grad_(True) for n, s in scores.items()}
                masked = {n: weights[n] * _IdentitySTE.apply(live[n]) for n in names}
                loss = F.cross_entropy(functional_call(model, masked, (x,)), y)
                optimiser.zero_grad(set_to_none=True)
                grads = torch.autograd.grad(loss, [live[n] for n in names] + list(model.parameters()),
                                            allow_unused=True)
                for p, g in zip(model.parameters(), grads[len(names):]):
                    p.grad = g
                optimiser.step()
                with torch.no_grad():
                    for n, g in zip(names, grads[: len(names)]):
                        scores[n] -= score_lr * normalise_per_feature(g)
                    goal = max(target, 1.0 - (1.0 - target) * (step + 1) / (0.75 * steps))
                    lam = regulariser_weight(scores, int(round(goal * total))) / score_lr
                    for s in scores.values():
                        s -= score_lr * lam
                    kept = sum(int((s > 0).sum()) for s in scores.values()) / total
                step += 1
            log.info("scl epoch %d: kept %.4f (target %.4f), lambda %.3g", epoch + 1, kept, target, lam)
        model.to("cpu")
        cpu_scores = {n: s.detach().cpu() for n, s in scores.items()}
        reached = {n: float((s > 0).float().mean()) for n, s in cpu_scores.items()}
        self.report = {"scl_reached_fraction": kept, "scl_target_fraction": target, "scl_lambda": lam,
                       "scl_layer_fractions": reached}
        return self.mask(cpu_scores, count)
