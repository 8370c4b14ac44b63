"""What a network keeps and costs: kept parameters and inference multiply-adds.

Multiply-adds count the conv and linear layers (skip convolutions and ResNet's shortcut
convolutions included), kept weights only: a kept weight of a conv whose output is H x W costs
H * W multiply-adds per image, one of a linear layer one. BatchNorm, ReLU, pooling and additions
are not counted (the usual convention). The dense reference is the network without skips with
every weight kept, at the data set's input size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from n2n.masks import is_skip


def output_positions(model: nn.Module) -> dict[str, int]:
    """Output positions (H * W; 1 for a linear layer) of every conv and linear layer, by weight name,
    from one forward pass of an image of the network's input size."""
    arch = model.arch
    positions: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            def hook(mod, args, out, key=f"{name}.weight"):
                positions[key] = out[0, 0].numel() if isinstance(mod, nn.Conv2d) else 1
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, arch.in_channels, arch.image_size, arch.image_size, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return positions


def cost_report(model: nn.Module) -> dict[str, Any]:
    """Kept multiply-adds per image (skips included) and the dense reference's, and their ratio."""
    positions = output_positions(model)
    weights = {n: p for n, p in model.named_parameters() if n in positions}
    macs = sum(int(torch.count_nonzero(w)) * positions[n] for n, w in weights.items())
    dense = sum(w.numel() * positions[n] for n, w in weights.items() if not is_skip(n))
    return {"macs": macs, "macs_dense": dense, "macs_fraction": macs / dense}
