"""Devices and numerics of training and evaluation: the device, bf16 autocast, the loss, and the
settings that make CUDA runs repeat bit for bit (`deterministic`)."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F

CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS's setting for reproducible results (CUDA's documentation)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA device is visible")
    return torch.device(name)


def configure_numerics(recipe: Any) -> None:
    """Set this process's numerics for `recipe` before CUDA runs a kernel.

    `precision: fp32` is fp32 everywhere: TF32 (on by default for cuDNN convolutions) is off.
    `deterministic: true` also picks deterministic kernels (an op that has none raises), turns off
    cuDNN's autotuner and sets cuBLAS's workspace, so that on CUDA two runs of one cell, or a
    resumed run and an uninterrupted one, give the same weights bit for bit.
    """
    if recipe.deterministic or recipe.precision == "fp32":  # otherwise PyTorch's defaults stand
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if recipe.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # read when cuBLAS starts
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def cross_entropy(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """F.cross_entropy; in deterministic mode as log-softmax and a gather, because CUDA's NLL loss
    has no deterministic kernel (it raises there)."""
    if not torch.are_deterministic_algorithms_enabled():
        return F.cross_entropy(out, y, reduction=reduction)
    picked = -F.log_softmax(out, 1).gather(1, y[:, None]).squeeze(1)
    return picked.sum() if reduction == "sum" else picked.mean()


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA (BatchNorm stays fp32 under autocast); fp32 elsewhere or when asked."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)
