"""Training throughput: the usual PyTorch pipeline against the project's, in one run on one device.

    python benchmarks/train_throughput.py                 # CPU: narrow models, few steps
    python benchmarks/train_throughput.py --width 1 --steps 100 --images 50000   # a GPU

For vgg19 and resnet50 at density 0.02 with N2NSkip (CIFAR-10 shapes, batch 128), it trains a
fixed number of steps with
  (a) the usual pipeline: PIL images, torchvision's RandomCrop + RandomHorizontalFlip + ToTensor +
      Normalize per sample in DataLoader workers, pinned memory, fp32, contiguous tensors;
  (b) the project's: the data set resident on the device as uint8, crop and flip per batch on the
      device, channels_last, bf16 autocast on CUDA, optionally torch.compile (--compile);
both with the masks re-applied after every step. It prints images/s, the ratio, the achieved
TFLOP/s (FLOPs of one training step counted by torch's FlopCounterMode), its fraction of the
device's bf16 peak (CUDA), and the GPU-hours the whole Table 1 grid (260 runs x 300 epochs x 50,000
images) would take at that speed. The data are random CIFAR-shaped images: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from n2n.connectivity import network_at_init
from n2n.data import ResidentData, TorchvisionData
from n2n.registry import DATASETS
from n2n.masks import apply_masks_, float_masks, prunable_parameters
from n2n.numerics import autocast

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 tensor-core peaks
TABLE1_IMAGES = 260 * 300 * 50_000


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def train_flops(model, batch: torch.Tensor, labels: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(batch), labels).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batch)


def run(model, data, device, steps: int, batch_size: int, fast: bool, compile_model: bool) -> float:
    masks = {n: (p != 0) for n, p in prunable_parameters(model).items()}
    if fast:
        model.to(device, memory_format=torch.channels_last)
    else:
        model.to(device)
    fmasks = float_masks(masks, model)
    forward = torch.compile(model, mode="max-autotune-no-cudagraphs") if compile_model else model
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    precision = "auto" if fast else "fp32"
    model.train()
    done, began, warm = 0, None, 3
    generator = torch.Generator().manual_seed(0)
    while done < steps + warm:
        for x, y in data.train_batches(batch_size, generator):
            if done == warm:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                began = time.perf_counter()
            if fast:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                loss = F.cross_entropy(forward(x).float(), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            apply_masks_(model, fmasks)
            done += 1
            if done == steps + warm:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--width", type=float, default=None, help="width multiplier (default 1 on CUDA, 0.25 on CPU)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 100 on CUDA, 5 on CPU)")
    parser.add_argument("--images", type=int, default=None, help="training images (default 50000 CUDA, 2048 CPU)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: CPU cores)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the project's pipeline")
    parser.add_argument("--models", nargs="+", default=["vgg19", "resnet50"])
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    width = args.width or (1.0 if cuda else 0.25)
    steps = args.steps or (100 if cuda else 5)
    n = args.images or (50_000 if cuda else 2048)
    workers = args.workers if args.workers is not None else (torch.get_num_threads() if cuda else 1)
    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; width {width}; batch {args.batch_size}; {steps} timed steps; {workers} workers")
    rng = np.random.default_rng(0)
    info = DATASETS["cifar10"]
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    peak = peak_flops(device)
    for model_name in args.models:
        usual_data = TorchvisionData(ResidentData(info, images, labels, images[:256], labels[:256]), workers)
        fast_data = ResidentData(info, images, labels, images[:256], labels[:256]).to(device)
        usual = run(network_at_init(model_name, "cifar10", "n2nskip-rp", 0.02, 0, width, SKIPS),
                    usual_data.to(device), device, steps, args.batch_size, fast=False, compile_model=False)
        model = network_at_init(model_name, "cifar10", "n2nskip-rp", 0.02, 0, width, SKIPS)
        fast = run(model, fast_data, device, steps, args.batch_size, fast=True, compile_model=args.compile)
        x, y = fast_data.first_batch(8)
        flops = train_flops(model.float(), x.contiguous(memory_format=torch.channels_last), y)
        achieved = fast * flops
        line = (f"{model_name}: usual {usual:,.0f} img/s, project {fast:,.0f} img/s, ratio {fast / usual:.2f}x; "
                f"{flops / 1e9:.2f} GFLOP/image -> {achieved / 1e12:.2f} TFLOP/s")
        if peak:
            line += f" ({100 * achieved / peak:.1f}% of bf16 peak)"
        if cuda and width == 1.0:
            line += f"; Table 1 grid ({model_name} share): {TABLE1_IMAGES / fast / 3600 / 2:,.0f} GPU-hours"
        print(line, flush=True)


if __name__ == "__main__":
    main()
