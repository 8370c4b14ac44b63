"""`python -m n2n selftest [--device cuda]`: the first command to run on a new GPU node.

Every branch the training takes on that device, on a tiny generated cell (VGG19 with N2NSkip on a
generated CIFAR-10-format folder), in about a minute: bf16 training and evaluation, torch.compile,
data-parallel ranks started as on CUDA (NCCL over every visible GPU; gloo on the CPU), JPEG
decoding (nvjpeg on CUDA, with the CPU fallback for PNG and CMYK files), the CPU's channel-sparse
kernels (n2n.channel_sparse), a deterministic repeat
giving identical weights, and one throughput figure. One line per check: passed, failed with the
error, or skipped with the reason; the exit code is 1 if any failed.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
RECIPE = {"epochs": 2, "batch_size": 64, "lr": 0.05, "lr_step_epochs": 1, "lr_gamma": 0.5, "momentum": 0.9,
          "weight_decay": 5e-4, "eval_batch_size": 256, "num_workers": 0}


class Skipped(Exception):
    """A check that does not apply here (the reason is its message)."""


def write_cifar10(folder: Path, per_batch: int = 128, test: int = 256, seed: int = 0) -> Path:
    """A CIFAR-10-format folder (torchvision's pickles) of learnable generated images: each class
    is a colour, plus noise. Returns the data root (the folder holding cifar-10-batches-py/)."""
    from n2n.registry import dataset

    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (10, 3))
    out = folder / dataset("cifar10").folder
    out.mkdir(parents=True, exist_ok=True)

    def batch(n: int) -> dict[str, Any]:
        labels = rng.integers(0, 10, n)
        images = palette[labels][:, :, None] + rng.normal(0, 40, (n, 3, 1024))
        return {"data": np.clip(images, 0, 255).astype(np.uint8).reshape(n, 3072), "labels": labels.tolist()}

    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", test)]:
        with open(out / name, "wb") as fh:
            pickle.dump(batch(n), fh)
    return folder


def write_mask(folder: Path, width: float) -> Path:
    """The masks of VGG19 with N2NSkip at density 0.1, pruned at random, for CIFAR-10 shapes."""
    from n2n.masks import save_masks
    from n2n.models import make_arch
    from n2n.pruners import prune
    from n2n.skips import add_skips

    arch = make_arch("vgg19", "cifar10", "n2nskip-rp", width, SKIPS)
    masks, meta = prune(arch, "n2nskip-rp", 0.1, 0, SKIPS["share"])
    masks, meta = add_skips(arch, masks, meta, 0)
    path = folder / "skip_mask.npz"
    save_masks(path, masks, meta)
    return path


@contextlib.contextmanager
def numerics_restored() -> Iterator[None]:
    """Undo what configure_numerics sets, so that one check's settings do not leak into the next."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32,
             torch.backends.cuda.matmul.allow_tf32)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32,
         torch.backends.cuda.matmul.allow_tf32) = saved[1:]


class Cell:
    """The tiny cell's files, and its training through the train stage's own function."""

    def __init__(self, folder: Path, device: torch.device, width: float) -> None:
        self.folder = folder
        self.device = device
        self.data_root = str(write_cifar10(folder / "data"))
        self.mask = write_mask(folder, width)
        self.runs = 0

    def train(self, processes: int = 1, through_ranks: bool = False, **recipe: Any
              ) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
        """Train the cell with `recipe`'s changes; `through_ranks`: by the data-parallel launcher even for one."""
        import pandas as pd

        from n2n.distributed import run_ranks
        from n2n.evaluation import density_report
        from n2n.masks import load_masks
        from n2n.modelfiles import load_model
        from n2n.training import run_train

        self.runs += 1
        out = self.folder / f"run{self.runs}"
        out.mkdir()
        args = dict(mask_path=str(self.mask), model_path=str(out / "model.pt"),
                    metrics_path=str(out / "metrics.parquet"), checkpoint_path=str(out / "ckpt.pt"),
                    dataset="cifar10", data_root=self.data_root, recipe={**RECIPE, **recipe},
                    device=str(self.device), threads=1)
        with numerics_restored():
            if through_ranks:
                run_ranks("n2n.training:train_rank", processes, self.device.type, args, [])
            else:
                run_train(**args, processes=processes)
        model, _ = load_model(out / "model.pt")
        density_report(model, load_masks(self.mask)[0])  # raises if a pruned weight is nonzero
        metrics = pd.read_parquet(out / "metrics.parquet").to_dict("records")
        if not all(np.isfinite(row["train_loss"]) for row in metrics):
            raise AssertionError(f"training loss not finite: {[row['train_loss'] for row in metrics]}")
        return model.state_dict(), metrics


def check_bf16(cell: Cell) -> str:
    from n2n.numerics import autocast

    if cell.device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise Skipped(f"{torch.cuda.get_device_name(cell.device)} has no bf16: set `precision: fp32`")
    with autocast(cell.device, "bf16"):
        out = torch.nn.Linear(4, 4).to(cell.device)(torch.ones(2, 4, device=cell.device))
    if out.dtype != torch.bfloat16:
        raise AssertionError(f"autocast gave {out.dtype}, not bfloat16")
    _, metrics = cell.train(precision="bf16")
    return f"2 epochs, loss {metrics[0]['train_loss']:.3f} -> {metrics[-1]['train_loss']:.3f}, " \
           f"test accuracy {metrics[-1]['test_accuracy']:.1f}%"


def check_compile(cell: Cell) -> str:
    backend = "inductor" if cell.device.type == "cuda" else "aot_eager"  # inductor on the CPU compiles for ~1 min
    began = time.perf_counter()
    _, metrics = cell.train(compile=True, compile_backend=backend, epochs=1)
    return f"{backend}: 1 epoch in {time.perf_counter() - began:.1f}s, loss {metrics[0]['train_loss']:.3f}"


def check_data_parallel(cell: Cell) -> str:
    """Ranks started as on CUDA (fresh interpreters), in the process group built as on the device."""
    import os

    from n2n.distributed import RANK_START_ENV

    world = torch.cuda.device_count() if cell.device.type == "cuda" else 2  # one GPU: a world of one rank
    previous = os.environ.get(RANK_START_ENV)
    os.environ[RANK_START_ENV] = "spawn"
    try:
        _, metrics = cell.train(processes=world, through_ranks=True, epochs=1)
    finally:
        os.environ.pop(RANK_START_ENV) if previous is None else os.environ.__setitem__(RANK_START_ENV, previous)
    backend = "NCCL and gloo" if cell.device.type == "cuda" else "gloo"
    return f"{world} rank{'s' if world > 1 else ''} started as fresh interpreters ({backend}), " \
           f"loss {metrics[0]['train_loss']:.3f}"


def check_jpeg(cell: Cell) -> str:
    from PIL import Image

    from n2n.imagenet import decode_images

    rng = np.random.default_rng(0)
    pixels = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # smooth blocks
    files = {}
    for name, mode, fmt in [("colour.jpg", "RGB", "JPEG"), ("grey.jpg", "L", "JPEG"), ("cmyk.jpg", "CMYK", "JPEG"),
                            ("png.jpg", "RGB", "PNG")]:
        buffer = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(buffer, format=fmt, quality=95)
        files[name] = buffer.getvalue()
    blobs = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in files.values()]
    images, on_cpu = decode_images(blobs, list(files), cell.device)
    if sorted(on_cpu) != ["cmyk.jpg", "png.jpg"]:
        raise AssertionError(f"decoded on the CPU: {on_cpu}, expected the CMYK JPEG and the PNG")
    for name, image in zip(files, images):
        reference = np.asarray(Image.open(io.BytesIO(files[name])).convert("RGB")).transpose(2, 0, 1)
        error = np.abs(image.cpu().numpy().astype(int) - reference.astype(int)).mean()
        if image.device.type != cell.device.type or error > 3:
            raise AssertionError(f"{name}: on {image.device}, mean difference {error:.2f} from PIL")
    decoder = "nvjpeg" if cell.device.type == "cuda" else "libjpeg"
    return f"colour and grey JPEGs by {decoder}, CMYK JPEG and PNG by PIL, within 3 levels of PIL"


def check_deterministic(cell: Cell) -> str:
    first, _ = cell.train(deterministic=True, epochs=1)
    second, _ = cell.train(deterministic=True, epochs=1)
    different = [name for name in first if not torch.equal(first[name], second[name])]
    if different:
        raise AssertionError(f"two runs differ in {len(different)} tensors, first {different[0]}")
    return f"two runs, {len(first)} tensors identical"


def check_throughput(cell: Cell) -> str:
    """Training steps per second of VGG19 with N2NSkip (full width on CUDA), batch 128, CIFAR shapes."""
    import torch.nn.functional as F

    from n2n.models import build_model, make_arch
    from n2n.numerics import autocast

    width = 1.0 if cell.device.type == "cuda" else 0.0625
    model = build_model(make_arch("vgg19", "cifar10", "n2nskip-rp", width, SKIPS), 0)
    model.to(cell.device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(128, 3, 32, 32, device=cell.device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,), device=cell.device)

    def step() -> None:
        with autocast(cell.device, "auto"):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    steps = 50 if cell.device.type == "cuda" else 5
    for _ in range(3):
        step()
    sync = torch.cuda.synchronize if cell.device.type == "cuda" else (lambda: None)
    sync()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    rate = steps * 128 / (time.perf_counter() - began)
    return f"VGG19 width {width:g}, batch 128, 32x32: {rate:,.0f} images/s"


def check_channel_sparse(cell: Cell) -> str:
    from n2n.channel_sparse import library_error, load_library, make_channel_sparse
    from n2n.masks import load_masks
    from n2n.models import Arch, build_model

    if cell.device.type != "cpu":
        raise Skipped("its kernels are the CPU's: on this device every layer computes masked dense")
    if load_library() is None:
        raise Skipped(f"{library_error()}: every layer computes masked dense, at the dense cost")
    masks, meta = load_masks(cell.mask)
    chosen = make_channel_sparse(build_model(Arch.from_dict(meta["arch"]), 0), masks, "auto", cell.device)
    if not chosen:
        raise AssertionError("no layer of the paper's RP went channel-sparse")
    _, metrics = cell.train(channel_sparse="auto")
    return (f"{len(chosen)} of {len(masks)} layers, 2 epochs, loss {metrics[0]['train_loss']:.3f} -> "
            f"{metrics[-1]['train_loss']:.3f}")


CHECKS: list[tuple[str, Callable[[Cell], str]]] = [
    ("channel-sparse layers", check_channel_sparse),
    ("bf16 training and evaluation", check_bf16),
    ("torch.compile", check_compile),
    ("data-parallel ranks", check_data_parallel),
    ("JPEG decoding", check_jpeg),
    ("deterministic repeat", check_deterministic),
    ("throughput", check_throughput),
]


def run_selftest(device: str = "auto", only: list[str] | None = None, print_fn: Callable[[str], None] = print) -> int:
    """Run the checks (all, or those whose names start with one of `only`); 0 if none failed."""
    from n2n.numerics import resolve_device

    try:
        dev = resolve_device(device)
    except RuntimeError as err:
        print_fn(f"FAIL device: {err}")
        return 1
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print_fn(f"n2n selftest on {dev.type} ({name}), torch {torch.__version__}")
    failed = 0
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="n2n-selftest-") as folder:
        cell = Cell(Path(folder), dev, width=0.0625)
        for label, check in CHECKS:
            if only and not any(label.startswith(prefix) for prefix in only):
                continue
            start = time.perf_counter()
            try:
                detail = check(cell)
            except Skipped as skip:
                print_fn(f"SKIP {label}: {skip}")
                continue
            except Exception as err:
                failed += 1
                print_fn(f"FAIL {label}: {type(err).__name__}: {err}")
                print_fn("     " + traceback.format_exc().strip().replace("\n", "\n     "))
                continue
            print_fn(f"PASS {label}: {detail} ({time.perf_counter() - start:.1f}s)")
    print_fn(f"{'all checks passed' if not failed else f'{failed} failed'} in {time.perf_counter() - began:.0f}s")
    return 1 if failed else 0
