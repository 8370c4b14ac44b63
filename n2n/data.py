"""Data sets: the bundled demo digits, CIFAR-10/100 (torchvision's on-disk format); ImageNet in
`n2n.imagenet`. What each data set is (shape, classes, files, loader) is its record in `n2n.registry`.

Small data sets live in memory as uint8 tensors (on the training device when there is one)
and are augmented a whole batch at a time: random crop with zero padding and horizontal flip,
the paper's augmentation, with no per-sample Python.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from n2n.distributed import SINGLE, Ranks
from n2n.registry import FASHION_FILES, Dataset, MissingDataError, check_data, dataset


class Normalise:
    """uint8 images to (x - mean) / std per channel, the data set's mean and std (of images in [0, 1])."""

    def __init__(self, info: Dataset) -> None:
        self.mean = torch.tensor(info.mean).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(info.std).view(1, -1, 1, 1) * 255

    def to(self, device: torch.device) -> Normalise:
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std


class ResidentData:
    """A whole data set as uint8 tensors; batches are drawn and augmented on its device."""

    def __init__(self, info: Dataset, train_x: np.ndarray, train_y: np.ndarray,
                 test_x: np.ndarray, test_y: np.ndarray) -> None:
        self.info = info
        self.train_x = torch.from_numpy(np.ascontiguousarray(train_x))
        self.train_y = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
        self.test_x = torch.from_numpy(np.ascontiguousarray(test_x))
        self.test_y = torch.from_numpy(np.asarray(test_y, dtype=np.int64))
        self.device = torch.device("cpu")
        self.layout = torch.contiguous_format  # memory format of training and test batches
        self.normalise = Normalise(info)

    def to(self, device: torch.device | str, layout: torch.memory_format = torch.contiguous_format) -> ResidentData:
        """On `device`, its training and test batches in `layout` (the model's: channels_last to train)."""
        self.device = torch.device(device)
        self.layout = layout
        for name in ("train_x", "train_y", "test_x", "test_y"):
            setattr(self, name, getattr(self, name).to(self.device))
        self.normalise.to(self.device)
        return self

    @property
    def train_size(self) -> int:
        return len(self.train_y)

    def training_subset(self, images: int) -> ResidentData:
        """A fixed class-balanced subset of `images` training images (the same for every seed and method,
        so that paired cells train on the same images); the test set stays whole."""
        classes = self.info.classes
        if images > self.train_size or images % classes:
            raise ValueError(f"training.train_images = {images}: must be a multiple of the {classes} classes and at "
                             f"most the {self.train_size} training images of {self.info.name}")
        idx = balanced_indices(self.train_y.cpu(), classes, images // classes, torch.Generator().manual_seed(0))
        idx = idx.sort().values.to(self.train_y.device)
        subset = ResidentData(self.info, self.train_x[idx].cpu().numpy(), self.train_y[idx].cpu().numpy(),
                              self.test_x.cpu().numpy(), self.test_y.cpu().numpy())
        return subset.to(self.device, self.layout)

    def train_batches(self, batch_size: int, generator: torch.Generator, ranks: Ranks = SINGLE
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch: a permutation, then each batch cropped and flipped. `generator` lives on the CPU.

        With several ranks, `batch_size` is the global batch: every rank draws it whole (the same
        random numbers as one process) and keeps its share.
        """
        order = torch.randperm(self.train_size, generator=generator).to(self.device)
        for start in range(0, self.train_size, batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < ranks.world:
                continue  # too few images to give every rank one
            x = augment(self.train_x[idx], self.info.crop_padding, self.info.hflip, generator)
            part = ranks.share(len(idx))
            yield self.normalise(x[part]).contiguous(memory_format=self.layout), self.train_y[idx][part]

    def test_batches(self, batch_size: int, ranks: Ranks = SINGLE) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.test_y), batch_size):
            share = ranks.share(min(batch_size, len(self.test_y) - start))
            part = slice(start + share.start, start + share.stop)
            yield self.normalise(self.test_x[part]).contiguous(memory_format=self.layout), self.test_y[part]

    def first_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `batch_size` training images, unaugmented (for data-dependent pruners)."""
        return self.normalise(self.train_x[:batch_size]), self.train_y[:batch_size]

    def class_balanced_batch(self, per_class: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`per_class` training images of every class, unaugmented, drawn by `generator` (GraSP's sample)."""
        idx = balanced_indices(self.train_y.cpu(), self.info.classes, per_class, generator).to(self.device)
        return self.normalise(self.train_x[idx]), self.train_y[idx]


def balanced_indices(labels: torch.Tensor, classes: int, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of `per_class` examples of each class, in random order within a class, class by class."""
    order = torch.randperm(len(labels), generator=generator)
    shuffled = labels[order]
    picked = [order[shuffled == c][:per_class] for c in range(classes)]
    short = [c for c, p in enumerate(picked) if len(p) < per_class]
    if short:
        raise ValueError(f"classes {short[:5]} have fewer than {per_class} training examples: lower "
                         "pruning.grasp.samples_per_class")
    return torch.cat(picked)


def augment(x: torch.Tensor, pad: int, hflip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding by `pad`, and random horizontal flip, for a whole batch.

    Random numbers come from a CPU generator (reproducible across devices) and move to x's device.
    """
    n, _, h, w = x.shape
    if pad > 0:
        shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        rows = (shifts[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (shifts[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, chans, rows, cols]
    if hflip:
        flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


def _digits_file() -> Path:
    """scikit-learn's digits.csv.gz, found without importing scikit-learn (slow to import, in every job)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError("the demo data set needs scikit-learn (pip install scikit-learn)")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.exists():
        raise MissingDataError(f"scikit-learn's digits data not found at {path}")
    return path


def load_digits(name: str = "digits", data_root: str = "", num_workers: int = 0) -> ResidentData:
    """The digits' loader (registry record): nothing is read from data_root."""
    return load_digits_data()


def load_digits_data() -> ResidentData:
    """scikit-learn's handwritten digits (1,797 real 8x8 images, bundled): 80/20 split, 16x16 uint8."""
    raw = np.loadtxt(_digits_file(), delimiter=",", dtype=np.float32)
    images = torch.from_numpy(raw[:, :64].reshape(-1, 1, 8, 8)) / 16.0
    images = torch.nn.functional.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False)
    x = (images.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    y = raw[:, 64].astype(np.int64)
    test = np.zeros(len(y), dtype=bool)
    rng = np.random.default_rng(0)
    for c in range(10):  # stratified, fixed split
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=len(idx) // 5, replace=False)] = True
    return ResidentData(dataset("digits"), x[~test], y[~test], x[test], y[test])


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="latin1")


def load_cifar(name: str, data_root: str, num_workers: int = 0) -> ResidentData:
    """CIFAR-10 or CIFAR-100 from torchvision's pickles, resident in memory."""
    check_data(name, data_root)
    folder = Path(data_root) / dataset(name).folder
    if name == "cifar10":
        train = [_unpickle(folder / f"data_batch_{i}") for i in range(1, 6)]
        test = _unpickle(folder / "test_batch")
        key = "labels"
    else:
        train = [_unpickle(folder / "train")]
        test = _unpickle(folder / "test")
        key = "fine_labels"
    train_x = np.concatenate([b["data"] for b in train]).reshape(-1, 3, 32, 32)
    train_y = np.concatenate([b[key] for b in train])
    test_x = np.asarray(test["data"]).reshape(-1, 3, 32, 32)
    return ResidentData(dataset(name), train_x, train_y, test_x, np.asarray(test[key]))


IDX_MAGIC = {3: 0x0803, 1: 0x0801}  # unsigned bytes, with 3 (images) or 1 (labels) dimensions
# the official files (n2n.registry.FASHION_FILES: training images, labels, test images, labels) and their shapes
_FASHION_TRAIN = dataset("fashion_mnist").train_size
FASHION_SHAPES = dict(zip(FASHION_FILES, [(_FASHION_TRAIN, 28, 28), (_FASHION_TRAIN,), (10000, 28, 28), (10000,)]))


def read_idx(path: Path, shape: tuple[int, ...], how_to_get: str) -> np.ndarray:
    """One gzipped IDX file of unsigned bytes, checked against `shape`; a bad file is named with how to get it."""
    import gzip
    import struct

    def bad(problem: str) -> MissingDataError:
        return MissingDataError(f"{path}: {problem}; {how_to_get}")

    if not path.exists():
        raise bad("missing")
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:  # not gzip, or cut short
        raise bad(f"not a readable gzip file ({err})") from None
    header = 4 + 4 * len(shape)
    if len(raw) < header:
        raise bad(f"{len(raw)} bytes, shorter than an IDX header")
    magic, *dims = struct.unpack(f">{1 + len(shape)}I", raw[:header])
    if magic != IDX_MAGIC[len(shape)] or tuple(dims) != shape:
        raise bad(f"IDX header says magic {magic:#06x}, shape {tuple(dims)}; expected {IDX_MAGIC[len(shape)]:#06x}, "
                  f"{shape}")
    if len(raw) != header + int(np.prod(shape)):
        raise bad(f"{len(raw) - header} data bytes, expected {int(np.prod(shape))}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def fit_to(images: np.ndarray, size: int) -> np.ndarray:
    """(n, h, w) uint8 images to (n, 1, size, size): zero-padded when larger, antialiased resize when smaller."""
    h = images.shape[-1]
    x = images[:, None]
    if size >= h:
        before = (size - h) // 2
        return np.pad(x, ((0, 0), (0, 0), (before, size - h - before), (before, size - h - before)))
    t = torch.nn.functional.interpolate(torch.from_numpy(x.astype(np.float32)), size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return t.clamp(0, 255).round().to(torch.uint8).numpy()


def load_fashion_mnist(name: str, data_root: str, num_workers: int = 0) -> ResidentData:
    """Fashion-MNIST from its official IDX files, at its record's image size (n2n.registry)."""
    from n2n.registry import data_folder

    record = dataset(name)
    folder = data_folder(name, data_root)
    arrays = {file: read_idx(folder / file, shape, record.how_to_get) for file, shape in FASHION_SHAPES.items()}
    train_x, train_y, test_x, test_y = arrays.values()
    return ResidentData(record, fit_to(train_x, record.image_size), train_y, fit_to(test_x, record.image_size),
                        test_y)


FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # the official source (Xiao et al.)


def download_fashion_mnist(name: str, data_root: str) -> None:
    """Fetch the four official IDX files into data_root/fashion-mnist (needs network)."""
    import urllib.request

    from n2n.io import atomic_path

    record = dataset(name)
    folder = Path(data_root) / record.folder
    for file, shape in FASHION_SHAPES.items():
        try:
            with urllib.request.urlopen(FASHION_URL + file, timeout=60) as response, atomic_path(folder / file) as tmp:
                tmp.write_bytes(response.read())
        except OSError as err:  # URLError and friends: no network here
            raise MissingDataError(f"could not download {FASHION_URL + file} ({err}); install Debian's package "
                                   "dataset-fashion-mnist, or copy the four files into "
                                   f"{folder} from a machine with network") from None
        read_idx(folder / file, shape, record.how_to_get)


def load_dataset(name: str, data_root: str, num_workers: int = 4):
    """The data set `name` by its record's loader, on the CPU; call `.to(device)` to move it."""
    import importlib

    module, function = dataset(name).loader.split(":")
    return getattr(importlib.import_module(module), function)(name, data_root, num_workers)


def download_cifar(name: str, data_root: str) -> None:
    """Fetch CIFAR-10/100 into data_root in torchvision's layout (needs network and torchvision)."""
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        cls(data_root, train=True, download=True)
        cls(data_root, train=False, download=True)
    except OSError as err:  # URLError and friends: no network here
        raise MissingDataError(f"could not download {name} into {data_root!r} ({err}); copy torchvision's "
                               f"{dataset(name).folder}/ folder there from a machine with network") from None


class _PILDataset(torch.utils.data.Dataset):
    """A resident data set's training images as PIL images, for torchvision's per-sample transforms."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        from PIL import Image

        arrays = images.cpu().permute(0, 2, 3, 1).numpy()
        mode = "L" if arrays.shape[-1] == 1 else "RGB"
        self.images = [Image.fromarray(a.squeeze(-1) if mode == "L" else a, mode=mode) for a in arrays]
        self.labels = labels.cpu().tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


class TorchvisionData:
    """The usual PyTorch input pipeline, as the reference for the resident path: PIL images,
    torchvision's RandomCrop(padding) + RandomHorizontalFlip + ToTensor + Normalize per sample,
    a shuffling DataLoader with worker processes and pinned memory. Test batches as ResidentData."""

    def __init__(self, resident: ResidentData, num_workers: int = 2) -> None:
        from torchvision import transforms

        info = resident.info
        steps = [transforms.RandomCrop(info.image_size, padding=info.crop_padding)] if info.crop_padding else []
        if info.hflip:
            steps.append(transforms.RandomHorizontalFlip())
        steps += [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]
        self.info = info
        self.resident = resident
        self.dataset = _PILDataset(resident.train_x, resident.train_y, transforms.Compose(steps))
        self.num_workers = num_workers
        self.device = torch.device("cpu")
        self.layout = torch.contiguous_format

    def to(self, device: torch.device | str, layout: torch.memory_format = torch.contiguous_format
           ) -> TorchvisionData:
        self.device = torch.device(device)
        self.layout = layout
        self.resident.to(device, layout)  # test batches only
        return self

    @property
    def train_size(self) -> int:
        return len(self.dataset)

    def train_batches(self, batch_size: int, generator: torch.Generator, ranks: Ranks = SINGLE):
        if ranks.world > 1:
            raise ValueError("the reference pipeline (`training.pipeline: dataloader`) trains in one process")
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=True, generator=generator, num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False)
        for x, y in loader:
            yield (x.to(self.device, non_blocking=True).contiguous(memory_format=self.layout),
                   y.to(self.device, non_blocking=True))

    def test_batches(self, batch_size: int, ranks: Ranks = SINGLE):
        return self.resident.test_batches(batch_size, ranks)

    def first_batch(self, batch_size: int):
        return self.resident.first_batch(batch_size)

    def class_balanced_batch(self, per_class: int, generator: torch.Generator):
        return self.resident.class_balanced_batch(per_class, generator)
