"""Channel-sparse training steps against masked dense ones, in one run on one thread (n2n.channel_sparse).

    .venv/bin/python benchmarks/channel_sparse.py                 # the shapes below, a few steps each
    .venv/bin/python benchmarks/channel_sparse.py --cell          # and one sparse-study training both ways
    .venv/bin/python benchmarks/channel_sparse.py --cell --out benchmarks/results/channel-sparse.md   # docs/speed.md's

For each shape, the training step the train stage runs (n2n.training.prepare: channels-last, SGD with
momentum and weight decay, the masks re-applied after the step) is timed with `training.channel_sparse: off`
(every layer a dense convolution times its mask) and `auto` (the layers whose masks keep whole kernels at
equal in-degree computed at their kept cost), on random images of the data set's shape, batch 128, after
warm-up steps, in alternating rounds (each mode's median round). It prints images/s both ways, the ratio,
how many layers went channel-sparse, and the
GFLOP/s achieved counted on the kept weights only (2 x kept weights x output pixels, x 3 for forward and
backward) against the thread's fp32 matmul rate. `--cell` also trains one cell of the sparse study (VGG19,
width 0.3125, rp at density 0.05, seed 0, its recipe, on Fashion-MNIST) both ways and prints the wall seconds
and test accuracies.
"""

from __future__ import annotations

import argparse
import datetime
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from n2n.distributed import SINGLE
from n2n.masks import apply_masks_, prunable_parameters
from n2n.models import build_model, make_arch
from n2n.provenance import machine, matmul_rate
from n2n.pruners import prune
from n2n.registry import dataset as dataset_record
from n2n.skips import add_skips
from n2n.training import Recipe, prepare

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
SPARSE_STUDY = Path(__file__).resolve().parents[1] / "config" / "sparse.yaml"


@dataclass(frozen=True)
class Shape:
    model: str
    dataset: str
    width: float
    method: str
    density: float
    steps: int


SHAPES = [
    *(Shape("vgg19", "fashion_mnist_16", 0.3125, m, d, 20) for d in (0.1, 0.05, 0.02) for m in ("rp", "n2nskip-rp")),
    Shape("vgg19", "cifar10", 1.0, "rp", 0.05, 3),
    Shape("vgg19", "cifar10", 1.0, "n2nskip-rp", 0.05, 3),
    Shape("resnet50", "cifar10", 0.25, "rp", 0.05, 5),
    Shape("resnet50", "cifar10", 1.0, "rp", 0.05, 2),
]


def cell_network(shape: Shape, seed: int = 0):
    """The cell's network at initialisation and its masks, as the prune and add-skips stages make them."""
    arch = make_arch(shape.model, shape.dataset, shape.method, shape.width, SKIPS)
    masks, meta = prune(arch, shape.method, shape.density, seed, float(SKIPS["share"]))
    if arch.skip_kind is not None:
        masks, meta = add_skips(arch, masks, meta, seed)
    return build_model(arch, seed), masks


def kept_flops(model: torch.nn.Module, masks: dict[str, torch.Tensor], x: torch.Tensor) -> float:
    """Multiply-adds of one training step on the kept weights, per image: 2 x kept x output pixels, x 3."""
    params = prunable_parameters(model)
    owner = {id(p): name for name, p in params.items()}
    pixels: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, name=owner[id(m.weight)]:
                                     pixels.__setitem__(name, o[0, 0].numel() if o.dim() == 4 else 1))
             for m in model.modules() if isinstance(getattr(m, "weight", None), torch.nn.Parameter)
             and id(m.weight) in owner]
    with torch.no_grad():
        model.eval()
        model(x[:2])
    for h in hooks:
        h.remove()
    return 3 * sum(2 * int(masks[n].sum()) * pixels[n] for n in masks if n in pixels)


def step_rates(shape: Shape, batch: int, warm: int = 2) -> tuple[dict[str, float], int, int, float]:
    """({mode: images/s}, channel-sparse layers, prunable layers, kept GFLOP per image) of the train stage's step,
    `off` and `auto` each from the same initial network; their rounds alternate, and each mode's rate is its median
    round's, so that a slower spell of the machine falls on both."""
    info = dataset_record(shape.dataset)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, info.channels, info.image_size, info.image_size, generator=generator)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, info.classes, (batch,), generator=generator)
    runs = {}
    for mode in ("off", "auto"):
        model, masks = cell_network(shape)
        recipe = Recipe(epochs=1, batch_size=batch, lr=0.05, lr_step_epochs=1, lr_gamma=1.0, momentum=0.9,
                        weight_decay=5e-4, eval_batch_size=batch, channel_sparse=mode)
        runs[mode] = prepare(model, masks, recipe, torch.device("cpu"), SINGLE)
        runs[mode].model.train()
    flops = kept_flops(runs["off"].model, runs["off"].masks, x)  # off re-applies every mask
    runs["off"].model.train()

    def steps(mode: str, count: int) -> float:
        run = runs[mode]
        began = time.perf_counter()
        for _ in range(count):
            loss = F.cross_entropy(run.forward(x), y)
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizer.step()
            apply_masks_(run.model, run.masks)
        return count * batch / (time.perf_counter() - began)

    for mode in runs:
        steps(mode, warm)
    rounds = 5 if shape.steps >= 10 else 3
    rates: dict[str, list[float]] = {mode: [] for mode in runs}
    for _ in range(rounds):
        for mode in runs:
            rates[mode].append(steps(mode, max(1, shape.steps // (rounds - 1))))
    sparse = sum(1 for m in runs["auto"].model.modules() if "forward" in m.__dict__)
    return {mode: sorted(r)[len(r) // 2] for mode, r in rates.items()}, sparse, len(masks), flops / 1e9


def layer_seconds(channels: int, size: int, degree: int, batch: int, channel_sparse_layer: bool) -> float:
    """Forward and backward of one 3x3 layer (channels -> channels, size x size) whose every output channel reads
    `degree` random inputs: masked dense, or channel-sparse; seconds per call, best of 5."""
    from torch import nn

    from n2n.channel_sparse import channel_index, make_layer_channel_sparse

    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    mask = torch.zeros(channels, channels, dtype=torch.bool)
    for o in range(channels):
        mask[o, torch.randperm(channels, generator=generator)[:degree]] = True
    mask = mask[:, :, None, None].expand(-1, -1, 3, 3)
    if channel_sparse_layer:
        index = channel_index(mask, max_share=1.0)
        assert not isinstance(index, str), index
        make_layer_channel_sparse(conv, index, mask)
    kept = mask.to(torch.float32)
    x = torch.randn(batch, channels, size, size, generator=generator).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    best = float("inf")
    for _ in range(6):
        began = time.perf_counter()
        y = conv(x) if channel_sparse_layer else F.conv2d(x, conv.weight * kept, None, 1, 1)
        y.sum().backward()
        best = min(best, time.perf_counter() - began)
    return best


def train_cell(mode: str, epochs: int | None) -> tuple[float, float]:
    """One sparse-study cell trained as the train stage trains it: (wall seconds, final test accuracy)."""
    from n2n.config import load_config
    from n2n.data import load_dataset
    from n2n.training import train

    root = SPARSE_STUDY.parents[1]
    config = load_config(*(root / path for path in ("config.yaml", "config/demo.yaml", "config/study.yaml",
                                                    "config/sparse.yaml")))
    training = {**config["training"], "channel_sparse": mode, "num_workers": 0}
    if epochs:
        training["epochs"] = epochs
    shape = Shape("vgg19", "fashion_mnist_16", float(config["width"]["vgg19"]), "rp", 0.05, 0)
    model, masks = cell_network(shape)
    data = load_dataset("fashion_mnist_16", config["data_root"], 0)
    began = time.perf_counter()
    metrics = train(model, masks, data, Recipe.from_dict(training), 0, torch.device("cpu"))
    return time.perf_counter() - began, metrics[-1]["test_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--cell", action="store_true", help="also train one sparse-study cell both ways")
    parser.add_argument("--cell-epochs", type=int, default=None, help="the cell's epochs (default: the study's)")
    parser.add_argument("--quick", action="store_true", help="the sparse study's shapes only")
    parser.add_argument("--out", type=Path, help="also write the figures as a Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = matmul_rate(1024, 1, 1.0)
    lines = [f"*{machine()}, {datetime.date.today().isoformat()}, torch {torch.__version__}, one thread; "
             f"fp32 matmul {rate:.0f} GFLOP/s (`benchmarks/channel_sparse.py`).*", "",
             "| model | data shape | width | method | density | channel-sparse layers | masked dense img/s "
             "| channel-sparse img/s | ratio | kept GFLOP/s (share of matmul) |", "|---|---|---|---|---|---|---|---|---|---|"]
    shapes = [s for s in SHAPES if s.dataset == "fashion_mnist_16"] if args.quick else SHAPES
    for shape in shapes:
        rates, layers, total, gflop = step_rates(shape, args.batch)
        dense, sparse = rates["off"], rates["auto"]
        achieved = sparse * gflop
        info = dataset_record(shape.dataset)
        lines.append(f"| {shape.model} | {info.channels}x{info.image_size}x{info.image_size} | {shape.width} | "
                     f"{shape.method} | {shape.density} | {layers} of {total} | {dense:,.0f} | {sparse:,.0f} | "
                     f"{sparse / dense:.2f}x | {achieved:.1f} ({100 * achieved / rate:.0f} %) |")
        print(lines[-1], flush=True)
    lines += ["", "One 3x3 layer, 80 -> 80 channels at 4x4, batch 128, forward and backward, by in-degree (where "
              "`auto` stops: `n2n.channel_sparse.MAX_IN_DEGREE_SHARE` of the inputs):", "",
              "| in-degree | share of inputs | masked dense ms | channel-sparse ms | ratio |", "|---|---|---|---|---|"]
    for degree in (2, 4, 8, 16, 20, 32, 40):
        dense_s = layer_seconds(80, 4, degree, args.batch, False)
        sparse_s = layer_seconds(80, 4, degree, args.batch, True)
        lines.append(f"| {degree} | {degree / 80:.3g} | {1e3 * dense_s:.2f} | {1e3 * sparse_s:.2f} | "
                     f"{dense_s / sparse_s:.2f}x |")
        print(lines[-1], flush=True)
    if args.cell:
        lines += ["", "| sparse-study cell (vgg19 0.3125, rp 0.05, seed 0) | wall s | test accuracy % |", "|---|---|---|"]
        results = {}
        for mode in ("off", "auto"):
            results[mode] = train_cell(mode, args.cell_epochs)
            lines.append(f"| `channel_sparse: {mode}` | {results[mode][0]:.0f} | {results[mode][1]:.2f} |")
            print(lines[-1], flush=True)
        lines.append(f"| ratio | {results['off'][0] / results['auto'][0]:.2f}x | |")
        print(lines[-1])
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
