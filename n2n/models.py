"""Models as a *main path* of layers, so pruning, skips and the channel graph share one structure.

A network is a list of layers; activation 0 is the input and activation i the output of
layer i (after ReLU, except for the classifier head). Each layer computes its pre-activation
z_i from earlier activations; an N2NSkip or ResSkip connection adds into z_i from activation
i - k. Every layer also lists its edges (which activation feeds which weight) so the
connectivity graph is read off the same description that runs the forward pass.

Registered models: `vgg19` and `resnet50` (CIFAR layouts; ResNet50 switches to the ImageNet
stem for 224-px data), each with a width multiplier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

VGG19_WIDTHS: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                        512, 512, 512, 512, "M", 512, 512, 512, 512)
RESNET50_STAGES: tuple[int, ...] = (3, 4, 6, 3)
RESNET50_PLANES: tuple[int, ...] = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4


@dataclass(frozen=True)
class Arch:
    """Everything needed to rebuild a network: stored beside its masks and weights."""

    model: str
    in_channels: int
    num_classes: int
    imagenet_stem: bool = False
    image_size: int = 32
    width: float = 1.0
    skip_kind: str | None = None  # None | "n2nskip" | "resskip"
    skip_every: int = 3
    skip_kernel_size: int | str = "target"
    skip_batchnorm: bool = True
    skip_resample: str = "maxpool"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Arch:
        return cls(**data)

    def sequential(self) -> Arch:
        """The same network without skip connections: the dense reference's architecture."""
        return replace(self, skip_kind=None)


@dataclass(frozen=True)
class Edge:
    """Weights (or an identity map when `weight` is None) from activation `source` to `target`."""

    source: int
    target: int
    weight: torch.Tensor | None


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


class ConvLayer(nn.Module):
    """(optional 2x2 max-pool) -> conv -> BatchNorm; for ResNet also a shortcut from `shortcut_from` back."""

    is_head = False

    def __init__(self, name: str, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 pool_before: bool = False, pool_after: nn.Module | None = None,
                 shortcut_from: int = 0, shortcut_channels: int = 0, shortcut_stride: int = 1) -> None:
        super().__init__()
        self.name = name
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.pool_before = pool_before
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool_after = pool_after
        self.shortcut_from = shortcut_from
        self.shortcut: nn.Module | None = None
        if shortcut_from and (shortcut_channels != out_channels or shortcut_stride != 1):
            self.shortcut = nn.Sequential(
                nn.Conv2d(shortcut_channels, out_channels, 1, shortcut_stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, acts: list[torch.Tensor]) -> torch.Tensor:
        x = acts[-1]
        if self.pool_before:
            x = F.max_pool2d(x, 2)
        z = self.bn(self.conv(x))
        if self.pool_after is not None:
            z = self.pool_after(z)  # max-pool commutes with the ReLU applied after it
        if self.shortcut_from:
            s = acts[-self.shortcut_from]
            z = z + (s if self.shortcut is None else self.shortcut(s))
        return z

    def edges(self, index: int) -> list[Edge]:
        out = [Edge(index - 1, index, self.conv.weight)]
        if self.shortcut_from:
            weight = None if self.shortcut is None else self.shortcut[0].weight
            out.append(Edge(index - self.shortcut_from, index, weight))
        return out


class HeadLayer(nn.Module):
    """Global average pool -> Linear: the classifier (no ReLU after it)."""

    is_head = True
    kernel_size = 1

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.name = "fc"
        self.out_channels = num_classes
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, acts: list[torch.Tensor]) -> torch.Tensor:
        return self.fc(acts[-1].mean((2, 3)))  # global average pool; CUDA's adaptive pool is not deterministic

    def edges(self, index: int) -> list[Edge]:
        return [Edge(index - 1, index, self.fc.weight)]


class MainPathNet(nn.Module):
    """A network as a main path of layers, plus skip connections keyed by their target layer."""

    def __init__(self, arch: Arch, layers: list[nn.Module], skip_origin: int) -> None:
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleList(layers)
        self.skip_origin = skip_origin  # activation index of "l = 0" for skip placement
        self.skips = nn.ModuleDict()  # str(target index) -> skip module (N2NSkip or ResSkip)
        self._skip_at: list[nn.Module | None] = [None] * (len(layers) + 1)

    def set_skip(self, target: int, module: nn.Module) -> None:
        self.skips[str(target)] = module
        self._skip_at[target] = module

    @property
    def activation_names(self) -> list[str]:
        return ["input"] + [layer.name for layer in self.layers]

    @property
    def activation_channels(self) -> list[int]:
        return [self.arch.in_channels] + [layer.out_channels for layer in self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts = [x]
        for i, layer in enumerate(self.layers, start=1):
            z = layer(acts)
            skip = self._skip_at[i]
            if skip is not None:
                z = z + skip(acts[skip.source], z)
            acts.append(z if layer.is_head else F.relu(z))
        return acts[-1]

    def edges(self) -> list[Edge]:
        out = [e for i, layer in enumerate(self.layers, start=1) for e in layer.edges(i)]
        for target, skip in self.skips.items():
            out.append(Edge(skip.source, int(target), skip.weight))
        return out


# --- skip connections (their masks: n2n.skips): one per block of `skip_every` layers


@dataclass(frozen=True)
class SkipSpec:
    source: int
    target: int
    in_channels: int
    out_channels: int
    kernel_size: int
    linear: bool

    @property
    def size(self) -> int:
        return self.in_channels * self.out_channels * (1 if self.linear else self.kernel_size ** 2)


def plan_skips(net: MainPathNet, arch: Arch) -> list[SkipSpec]:
    channels = net.activation_channels
    n = len(net.layers)
    specs = []
    for source in range(net.skip_origin, n + 1, arch.skip_every):
        target = source + arch.skip_every
        if target > n:
            break
        layer = net.layers[target - 1]
        k = layer.kernel_size if arch.skip_kernel_size == "target" else int(arch.skip_kernel_size)
        specs.append(SkipSpec(source, target, channels[source], channels[target], k, layer.is_head))
    return specs


def _resample(a: torch.Tensor, like: torch.Tensor, mode: str) -> torch.Tensor:
    """`a` pooled to `like`'s size. Fixed-window pooling where the sizes divide (always in VGG19 and
    ResNet50): the same values as adaptive pooling, and unlike it deterministic on CUDA."""
    if like.dim() == 2:
        return a.mean((2, 3))
    (h, w), (th, tw) = a.shape[-2:], like.shape[-2:]
    if (h, w) == (th, tw):
        return a
    if h % th == 0 and w % tw == 0:
        pool = F.max_pool2d if mode == "maxpool" else F.avg_pool2d
        return pool(a, (h // th, w // tw))
    pool = F.adaptive_max_pool2d if mode == "maxpool" else F.adaptive_avg_pool2d
    return pool(a, (th, tw))


class N2NSkip(nn.Module):
    def __init__(self, spec: SkipSpec, batchnorm: bool, resample: str) -> None:
        super().__init__()
        self.source = spec.source
        self.resample = resample
        if spec.linear:
            self.conv: nn.Module = nn.Linear(spec.in_channels, spec.out_channels, bias=False)
            self.bn: nn.Module = nn.BatchNorm1d(spec.out_channels) if batchnorm else nn.Identity()
        else:
            self.conv = nn.Conv2d(spec.in_channels, spec.out_channels, spec.kernel_size,
                                  padding=spec.kernel_size // 2, bias=False)
            self.bn = nn.BatchNorm2d(spec.out_channels) if batchnorm else nn.Identity()
        if not self.conv.weight.is_meta:
            nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="relu")  # He-normal

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(_resample(a, z, self.resample))))


class ResSkip(nn.Module):
    weight = None  # parameter-free: an identity edge in the channel graph

    def __init__(self, spec: SkipSpec, resample: str) -> None:
        super().__init__()
        self.source = spec.source
        self.resample = resample

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        a = _resample(a, z, self.resample)
        extra = z.shape[1] - a.shape[1]
        if extra > 0:
            pad = [0, 0] * (a.dim() - 2) + [0, extra]
            a = F.pad(a, pad)
        elif extra < 0:
            a = a[:, : z.shape[1]]
        return a


def attach_skips(net: MainPathNet, arch: Arch) -> None:
    for spec in plan_skips(net, arch):
        if arch.skip_kind == "n2nskip":
            net.set_skip(spec.target, N2NSkip(spec, arch.skip_batchnorm, arch.skip_resample))
        elif arch.skip_kind == "resskip":
            net.set_skip(spec.target, ResSkip(spec, arch.skip_resample))
        else:
            raise ValueError(f"unknown skip kind {arch.skip_kind!r}")



def vgg19_layers(arch: Arch) -> tuple[list[nn.Module], int]:
    layers: list[nn.Module] = []
    channels, pool_next = arch.in_channels, False
    for spec in VGG19_WIDTHS:
        if spec == "M":
            pool_next = True
            continue
        out = scaled(int(spec), arch.width)
        layers.append(ConvLayer(f"conv{len(layers) + 1}", channels, out, 3, pool_before=pool_next))
        channels, pool_next = out, False
    layers.append(HeadLayer(channels, arch.num_classes))
    return layers, 0


def resnet50_layers(arch: Arch) -> tuple[list[nn.Module], int]:
    stem_channels = scaled(64, arch.width)
    if arch.imagenet_stem:
        stem = ConvLayer("stem", arch.in_channels, stem_channels, 7, stride=2,
                         pool_after=nn.MaxPool2d(3, stride=2, padding=1))
    else:
        stem = ConvLayer("stem", arch.in_channels, stem_channels, 3)
    layers: list[nn.Module] = [stem]
    channels = stem_channels
    for stage, (blocks, planes) in enumerate(zip(RESNET50_STAGES, RESNET50_PLANES), start=1):
        width = scaled(planes, arch.width)
        out = width * BOTTLENECK_EXPANSION
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}.{block}"
            layers.append(ConvLayer(f"{name}.conv1", channels, width, 1))
            layers.append(ConvLayer(f"{name}.conv2", width, width, 3, stride=stride))
            layers.append(ConvLayer(name, width, out, 1, shortcut_from=3, shortcut_channels=channels,
                                    shortcut_stride=stride))
            channels = out
    layers.append(HeadLayer(channels, arch.num_classes))
    return layers, 1  # skips start at the stem's output


def init_weights(module: nn.Module) -> None:
    """Variance-scaling (He-normal, fan-in) for conv and linear weights; BatchNorm at 1 and 0."""
    if next(module.parameters()).is_meta:
        return  # structure only (build_empty): initialising meta tensors is slow and pointless
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(arch: Arch, seed: int) -> MainPathNet:
    """Build and initialise a network on the CPU, deterministically for a seed.

    The sequential layers are initialised first from `seed`; skips draw from their own
    stream, so a network with skips has exactly the sequential weights of its reference.
    """
    import importlib

    from n2n.registry import model

    module, function = model(arch.model).layers.split(":")
    layer_builder = getattr(importlib.import_module(module), function)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, origin = layer_builder(arch)
        net = MainPathNet(arch, layers, origin)
        init_weights(net)
    if arch.skip_kind is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1_000_003)
            attach_skips(net, arch)
    return net


def build_empty(arch: Arch) -> MainPathNet:
    """The network's structure on the meta device (no memory, no init): for loading saved weights."""
    with torch.device("meta"):
        return build_model(arch, seed=0)


def init_fingerprint(net: nn.Module) -> float:
    """Sum of |w| over the sequential prunable weights: detects a different initialisation."""
    from n2n.masks import prunable_parameters

    return float(sum(p.detach().double().abs().sum() for n, p in prunable_parameters(net, skips=False).items()))


def make_arch(model: str, dataset: str, method: str, width: float, skips: dict[str, Any]) -> Arch:
    """The architecture of one cell from the config's `width` and `skips` sections."""
    from n2n.registry import dataset as dataset_record
    from n2n.registry import split_method

    info = dataset_record(dataset)
    skip_kind, _ = split_method(method)
    return Arch(model=model, in_channels=info.channels, num_classes=info.classes,
                imagenet_stem=info.image_size >= 128, image_size=info.image_size, width=float(width),
                skip_kind=skip_kind,
                skip_every=int(skips["every"]), skip_kernel_size=skips["kernel_size"],
                skip_batchnorm=bool(skips["batchnorm"]), skip_resample=skips["resample"])
