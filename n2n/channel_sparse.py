"""Channel-sparse convolutions: a layer whose mask keeps whole kernels, each output channel fed by the same
number D of input channels (±1), computed on the CPU at the cost of its kept weights instead of as a dense
convolution times a mask.

The paper's RP (n2n.pruners.channel) and its N2NSkip skips have such masks. The model keeps its dense weight
tensors, so checkpoints, the adjacency and heat stages, the health checks and resuming read them unchanged:
only the forward computation changes. Each forward gathers the kept kernels from the dense weight (padding
slots of the short rows multiplied by zero, so they neither compute nor learn), and the backward writes their
gradients into a dense gradient that is zero elsewhere, so the optimiser and weight decay stay as they are; a
pruned weight gets no gradient, so it stays zero without its mask's re-application (n2n.training.prepare).

The kernels (channel_sparse.c) are plain C, built once per machine with the host's compiler
(`load_library`); without a compiler, or on another device or dtype, a layer computes as a masked dense
convolution. `training.channel_sparse: auto | off` chooses (docs/speed.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("channel_sparse.c")
CACHE_ENV = "N2N_KERNEL_CACHE"  # where built kernels are kept (default: ~/.cache/n2n/kernels)
COMPILER_ENV = "CC"
FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11")
# A layer computes channel-sparse only where its in-degree is at most this share of its inputs: above it,
# the dense convolution's matrix multiply outruns the kernel (benchmarks/channel_sparse.py).
MAX_IN_DEGREE_SHARE = 0.25
MODES = ("auto", "off")

_library: ctypes.CDLL | None = None
_library_error: str | None = None


@dataclass(frozen=True)
class ChannelIndex:
    """Which input channels each output channel reads: `inputs[o, j]`, `valid[o, j]` False on padding slots;
    and the same pairs by input channel (`rows[by_input[c]:by_input[c + 1]]` = o * D + j) for the backward."""

    inputs: torch.Tensor  # (O, D) int64
    valid: torch.Tensor  # (O, D) bool
    by_input: torch.Tensor  # (C + 1,) int64
    rows: torch.Tensor  # (kept pairs,) int64
    kernel_size: int

    @property
    def out_channels(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def degree(self) -> int:
        return int(self.inputs.shape[1])


def channel_index(mask: torch.Tensor, max_share: float = MAX_IN_DEGREE_SHARE) -> ChannelIndex | str:
    """The channel structure of a conv weight's mask (O, C, K, K), or why it has none the kernels can use
    (an in-degree above `max_share` of the inputs among the reasons)."""
    if mask.dim() != 4 or mask.shape[2] != mask.shape[3] or mask.shape[2] % 2 == 0:
        return f"not a square odd-sized convolution kernel (shape {tuple(mask.shape)})"
    out_channels, in_channels, k = mask.shape[0], mask.shape[1], mask.shape[2]
    kept = mask.detach().to("cpu", torch.bool).reshape(out_channels, in_channels, k * k)
    pairs = kept.any(2)
    if not torch.equal(kept.all(2), pairs):
        return "keeps parts of kernels"
    degrees = pairs.sum(1)
    low, high = int(degrees.min()), int(degrees.max())
    if high - low > 1:
        return f"in-degrees differ by more than one ({low} to {high})"
    if high > max_share * in_channels:
        return f"in-degree {high} of {in_channels} inputs: denser than the kernels pay for"
    # kept inputs first, in channel order (a stable sort of "not kept"), then padding slots
    order = torch.sort((~pairs).to(torch.int8), dim=1, stable=True).indices[:, :high]
    valid = torch.gather(pairs, 1, order)
    inputs = torch.where(valid, order, order[:, :1]).contiguous()
    rows = torch.arange(out_channels * high).reshape(out_channels, high)[valid]
    channel_of_row = inputs[valid]
    by_channel = torch.sort(channel_of_row, stable=True)
    counts = torch.bincount(channel_of_row, minlength=in_channels)
    by_input = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
    return ChannelIndex(inputs, valid.contiguous(), by_input, rows[by_channel.indices].contiguous(), k)


# --- the compiled kernels


def _cpu_signature() -> str:
    """What -march=native compiles for: a built kernel is reused only on a CPU with the same features."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_folder() -> Path:
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "n2n" / "kernels"


def _compile(compiler: str, target: Path) -> None:
    """Build the kernels into `target` atomically (two jobs may build at once), with OpenMP where the compiler
    has it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for openmp in (("-fopenmp",), ()):
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp) / target.name
            result = subprocess.run([compiler, *FLAGS, *openmp, str(SOURCE), "-o", str(built)],
                                    capture_output=True, text=True)
            if result.returncode == 0:
                os.replace(built, target)
                return
            errors.append(result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"])
    raise RuntimeError(f"{compiler} could not build {SOURCE.name}: {errors[-1][0]}")


def load_library() -> ctypes.CDLL | None:
    """The built kernels, built on first use and cached per source, compiler and CPU; None (and the reason in
    `library_error()`) where no compiler builds them."""
    global _library, _library_error
    if _library is not None or _library_error is not None:
        return _library
    compiler = os.environ.get(COMPILER_ENV) or "cc"
    try:
        if shutil.which(compiler) is None:
            raise RuntimeError(f"no C compiler ({compiler!r} is not on PATH; set {COMPILER_ENV} to one)")
        key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, " ".join(FLAGS), _cpu_signature()]).encode())
        target = cache_folder() / f"channel_sparse-{key.hexdigest()[:16]}.so"
        if not target.exists():
            _compile(compiler, target)
        library = ctypes.CDLL(str(target))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        _library_error = str(error)
        log.warning("channel-sparse kernels unavailable, layers compute as masked dense convolutions: %s", error)
        return None
    for name in ("cs_gather", "cs_forward", "cs_grad_input", "cs_grad_weight", "cs_transpose"):
        getattr(library, name).restype = None
    library.cs_transpose.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_int]
    _library = library
    return library


def library_error() -> str | None:
    return _library_error


def _pointer(t: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr())


def _batch_innermost(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> a contiguous (H, W, C, N) tensor: the transpose of channels-last memory's (N, H*W*C)."""
    n, c, h, w = x.shape
    x = x.contiguous(memory_format=torch.channels_last)  # no copy: the models train channels-last
    out = torch.empty((h, w, c, n), dtype=x.dtype)
    load_library().cs_transpose(_pointer(x), _pointer(out), n, h * w * c, torch.get_num_threads())
    return out


def _batch_outermost(t: torch.Tensor) -> torch.Tensor:
    """(H, W, C, N) -> (N, C, H, W) in channels-last memory, the format the models train in."""
    h, w, c, n = t.shape
    out = torch.empty((n, c, h, w), dtype=t.dtype, memory_format=torch.channels_last)
    load_library().cs_transpose(_pointer(t), _pointer(out), h * w * c, n, torch.get_num_threads())
    return out


def _strides(t: torch.Tensor) -> torch.Tensor:
    return torch.tensor(t.stride(), dtype=torch.int64)


class ChannelSparseConvFunction(torch.autograd.Function):
    """y = conv(x, the dense `weight` (O, C, K, K) at the kept kernels `index.inputs`, each slot times `slot_scale`
    (O, D): 0 on padding slots), stride 1, padding K/2. The weight's gradient is dense, zero off the kept kernels."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, index: ChannelIndex, slot_scale: torch.Tensor
                ) -> torch.Tensor:
        library = load_library()
        assert library is not None
        n, c, h, w = x.shape
        o, d, k = index.out_channels, index.degree, index.kernel_size
        kept = torch.empty((o, d, k, k), dtype=weight.dtype)  # read by the forward and the input gradient
        strides = _strides(weight)
        library.cs_gather(_pointer(weight), _pointer(strides), _pointer(index.inputs), _pointer(slot_scale),
                          _pointer(kept), o, d, k)
        xt = _batch_innermost(x)
        out = torch.empty((h, w, o, n), dtype=x.dtype)
        library.cs_forward(_pointer(xt), _pointer(kept), _pointer(index.inputs), _pointer(out), n, c, h, w, o, d, k,
                           torch.get_num_threads())
        ctx.save_for_backward(xt, kept, slot_scale)
        ctx.index, ctx.weight_shape = index, weight.shape
        return _batch_outermost(out)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        library = load_library()
        assert library is not None
        xt, kept, slot_scale = ctx.saved_tensors
        index: ChannelIndex = ctx.index
        h, w, c, n = xt.shape
        dims = (n, c, h, w, index.out_channels, index.degree, index.kernel_size, torch.get_num_threads())
        gt = _batch_innermost(grad_out.to(xt.dtype))
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            gx = torch.empty_like(xt)
            library.cs_grad_input(_pointer(gt), _pointer(kept), _pointer(index.by_input), _pointer(index.rows),
                                  _pointer(gx), *dims)
            grad_x = _batch_outermost(gx)
        if ctx.needs_input_grad[1]:
            grad_w = torch.zeros(ctx.weight_shape, dtype=xt.dtype)  # contiguous, as make_channel_sparse leaves it
            strides = _strides(grad_w)
            library.cs_grad_weight(_pointer(gt), _pointer(xt), _pointer(index.inputs), _pointer(slot_scale),
                                   _pointer(grad_w), _pointer(strides), *dims)
        return grad_x, grad_w, None, None


class ChannelSparseForward:
    """A Conv2d's forward replaced: its kept kernels read from the dense weight, computed channel-sparse (float32
    on the CPU; any other dtype or device computes the dense convolution of the weight times the mask). Either way
    a pruned weight gets an exactly zero gradient, so SGD leaves it at zero without the mask's re-application."""

    def __init__(self, conv: nn.Conv2d, index: ChannelIndex, mask: torch.Tensor) -> None:
        self.conv = conv
        self.index = index
        self.slot_scale = index.valid.to(torch.float32).contiguous()  # 0 on padding slots: no compute, no grad
        self.mask = mask.detach().to(torch.float32)

    def compute(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The channel-sparse convolution of x with `weight` (this layer's, or a copy in a test)."""
        return ChannelSparseConvFunction.apply(x, weight, self.index, self.slot_scale)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.conv.weight
        if x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32:
            return self.conv._conv_forward(x, weight * self.mask.to(weight.device, weight.dtype), self.conv.bias)
        return self.compute(x, weight)


def supports(conv: nn.Module) -> bool:
    """Whether the kernels compute this convolution's geometry and pay for it: K x K with K odd and at least 3,
    stride 1, padding K/2, no dilation, groups or bias. A 1x1 convolution stays masked dense: its dense form is
    one matrix multiply, about as cheap as the transposes around the kernels (ResNet50 ran slower with its
    1x1 layers channel-sparse, benchmarks/channel_sparse.py)."""
    return (isinstance(conv, nn.Conv2d) and conv.bias is None and conv.groups == 1 and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.padding_mode == "zeros"
            and conv.kernel_size[0] == conv.kernel_size[1] and conv.kernel_size[0] % 2 == 1
            and conv.kernel_size[0] >= 3 and conv.padding == (conv.kernel_size[0] // 2,) * 2)


def make_channel_sparse(model: nn.Module, masks: dict[str, torch.Tensor], mode: str, device: torch.device
                        ) -> list[str]:
    """Give every conv whose mask and geometry allow it the channel-sparse forward; the weights' names that got it.
    Their weights become contiguous (O, C, K, K) tensors: masks applied by `apply_masks_` are made after this.

    `mode` "off", a device other than the CPU, or no compiler: none (the masked dense convolution everywhere).
    """
    if mode not in MODES:
        raise ValueError(f"training.channel_sparse is {mode!r}; it is one of {', '.join(MODES)}")
    if mode == "off" or device.type != "cpu":
        return []
    chosen = {}
    for name, module in model.named_modules():
        weight_name = f"{name}.weight"
        if weight_name in masks and supports(module):
            index = channel_index(masks[weight_name])
            if isinstance(index, ChannelIndex):
                chosen[weight_name] = (module, index, masks[weight_name])
    if not chosen or load_library() is None:
        return []
    for module, index, mask in chosen.values():
        make_layer_channel_sparse(module, index, mask)
    return list(chosen)


def make_layer_channel_sparse(conv: nn.Conv2d, index: ChannelIndex, mask: torch.Tensor) -> None:
    """Give one conv the channel-sparse forward for `index`, built from its `mask`."""
    # each (out, in) kernel's K*K taps side by side, not C floats apart as in channels-last: the gather reads O*D
    # kernels per call
    conv.weight.data = conv.weight.data.contiguous()
    conv.forward = ChannelSparseForward(conv, index, mask)


def is_channel_sparse(conv: nn.Module) -> bool:
    return isinstance(conv.__dict__.get("forward"), ChannelSparseForward)

