"""ImageNet (ILSVRC-2012): the loader (Table 2) and the preparation of its official archives.

Reading: an ImageFolder tree `imagenet/{train,val}/<wnid>/`, by DataLoader workers. On CUDA the
workers only read file bytes and whole batches are decoded on the GPU (`decode_images`), with
the files that decoder does not take decoded on the CPU instead.

Preparing: the archives: `ILSVRC2012_img_train.tar` (one tar per class, named by WNID), `ILSVRC2012_img_val.tar`
(50,000 images in one flat folder) and `ILSVRC2012_devkit_t12.tar.gz`, whose
`data/ILSVRC2012_validation_ground_truth.txt` gives each validation image's ILSVRC2012_ID (1-1000)
in file-name order and whose `data/meta.mat` maps IDs to WNIDs. The IDs are not in sorted-WNID
order, while the loader (torchvision's ImageFolder) numbers classes by sorted folder name: images
are therefore placed by WNID, never by ID - 1.

    python -m n2n prepare-imagenet --archives /path/to/archives --out data/imagenet

writes `train/<wnid>/` and `val/<wnid>/` into a temporary folder beside `--out` and renames it
when complete, so a half-prepared tree never looks ready.
"""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
from pathlib import Path

import numpy as np
import torch

from n2n.data import Normalise, balanced_indices
from n2n.distributed import SINGLE, Ranks
from n2n.registry import check_data, dataset

log = logging.getLogger(__name__)


class UnreadableImageError(RuntimeError):
    """An image file that no decoder can read (named in the message)."""


def jpeg_components(blob: bytes) -> int | None:
    """Colour components of a JPEG (1 grey, 3 YCbCr, 4 CMYK/YCCK) from its frame header; None if not a JPEG."""
    if blob[:3] != b"\xff\xd8\xff":
        return None
    i = 2
    while i + 9 < len(blob) and blob[i] == 0xFF:
        marker = blob[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return blob[i + 9]
        i += 2 + int.from_bytes(blob[i + 2:i + 4], "big")
    return None


def decode_images(blobs: list[torch.Tensor], paths: list[str], device: torch.device) -> tuple[list[torch.Tensor], list[str]]:
    """Decode encoded image files to RGB uint8 [3, H, W] tensors on `device`; also return the files
    decoded on the CPU.

    Grey and colour JPEGs go to torchvision's batch decoder (on the GPU when `device` is CUDA).
    Whatever it does not take (ImageNet's PNG named .JPEG, its CMYK JPEGs, a damaged file) is
    decoded on the CPU by PIL, as the PIL path would; a file PIL cannot read either is an error.
    This is the one place that decodes: a newer decoder replaces this function.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    images: list[torch.Tensor | None] = [None] * len(blobs)
    fast = [i for i, b in enumerate(blobs) if jpeg_components(b.numpy().tobytes()) in (1, 3)]
    try:
        decoded = decode_jpeg([blobs[i] for i in fast], mode=ImageReadMode.RGB, device=device) if fast else []
        for i, image in zip(fast, decoded):
            images[i] = image
    except RuntimeError:  # a damaged file fails the whole batch: try each one alone
        for i in fast:
            try:
                images[i] = decode_jpeg(blobs[i], mode=ImageReadMode.RGB, device=device)
            except RuntimeError:
                pass
    slow = [i for i, image in enumerate(images) if image is None]
    for i in slow:
        images[i] = _decode_with_pil(blobs[i], paths[i]).to(device)
    return images, [paths[i] for i in slow]


def _decode_with_pil(blob: torch.Tensor, path: str) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob.numpy().tobytes())) as image:
            rgb = np.asarray(image.convert("RGB"))
    except Exception as err:
        raise UnreadableImageError(f"{path}: no decoder can read this image ({type(err).__name__}: {err})") from None
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)


def load_imagenet(name: str, data_root: str, num_workers: int) -> ImageFolderData:
    """ImageNet's loader (registry record): the ImageFolder tree data_root/imagenet/{train,val}."""
    return ImageFolderData(data_root, num_workers)


class _EncodedFiles(torch.utils.data.Dataset):
    """ImageFolder samples as undecoded file bytes: decoding happens in whole batches, on the GPU."""

    def __init__(self, samples: list[tuple[str, int]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        return torch.from_numpy(np.fromfile(path, dtype=np.uint8)), label, path


def _bytes_collate(batch):
    return [b[0] for b in batch], torch.tensor([b[1] for b in batch]), [b[2] for b in batch]


class ImageFolderData:
    """ImageNet from an ImageFolder tree (Table 2).

    DataLoader workers with pinned memory feed the GPU. With `decode_on_device` (default: when
    training on CUDA) the workers only read JPEG bytes and `torchvision.io.decode_jpeg(device=...)`
    decodes the whole batch on the GPU, where crop, flip and normalisation follow; otherwise the
    workers decode with PIL and apply torchvision's transforms per sample.
    """

    def __init__(self, data_root: str, num_workers: int, decode_on_device: bool | None = None) -> None:
        check_data("imagenet", data_root)
        from torchvision import datasets, transforms

        info = dataset("imagenet")
        self.info = info
        self._normalise = Normalise(info)  # the GPU-decoding path; the PIL path uses torchvision's transforms
        normalise = transforms.Normalize(info.mean, info.std)
        root = Path(data_root) / "imagenet"
        self.train_set = datasets.ImageFolder(str(root / "train"), transforms.Compose([
            transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor(), normalise]))
        self.test_set = datasets.ImageFolder(str(root / "val"), transforms.Compose([
            transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), normalise]))
        self.num_workers = num_workers
        self.decode_on_device = decode_on_device
        self.decoded_on_cpu: set[str] = set()  # files the batch decoder did not take, logged once each
        self.device = torch.device("cpu")
        self.layout = torch.contiguous_format  # memory format of training and test batches

    def to(self, device: torch.device | str, layout: torch.memory_format = torch.contiguous_format
           ) -> ImageFolderData:
        self.device = torch.device(device)
        self.layout = layout
        self._normalise.to(self.device)
        return self

    @property
    def train_size(self) -> int:
        return len(self.train_set)

    def _on_device(self) -> bool:
        return self.device.type == "cuda" if self.decode_on_device is None else self.decode_on_device

    def _loader(self, dataset, batch_size: int, generator: torch.Generator | None, collate=None,
                ranks: Ranks = SINGLE):
        """Batches in the order drawn from `generator` (file order without one), this rank's share of each."""
        n = len(dataset)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        batches = [order[s:s + batch_size] for s in range(0, n, batch_size)]
        shares = [b[ranks.share(len(b))].tolist() for b in batches if len(b) >= ranks.world]
        return torch.utils.data.DataLoader(dataset, batch_sampler=shares, num_workers=self.num_workers,
                                           collate_fn=collate, pin_memory=self.device.type == "cuda")

    def _decode_batch(self, blobs: list[torch.Tensor], paths: list[str], train: bool) -> torch.Tensor:
        from torchvision.transforms import v2

        images, on_cpu = decode_images(blobs, paths, self.device)
        for path in on_cpu:
            if path not in self.decoded_on_cpu:
                self.decoded_on_cpu.add(path)
                log.warning("decoded on the CPU (not a grey or colour JPEG): %s (%d such files so far)", path,
                            len(self.decoded_on_cpu))
        ops = ([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()] if train
               else [v2.Resize(256, antialias=True), v2.CenterCrop(224)])
        shape = v2.Compose(ops)
        return self._normalise(torch.stack([shape(img) for img in images]))

    def _batches(self, dataset, batch_size, generator, train: bool, ranks: Ranks):
        if self._on_device():
            files = _EncodedFiles(dataset.samples)
            for blobs, y, paths in self._loader(files, batch_size, generator, _bytes_collate, ranks):
                x = self._decode_batch(blobs, paths, train)
                yield x.contiguous(memory_format=self.layout), y.to(self.device, non_blocking=True)
        else:
            for x, y in self._loader(dataset, batch_size, generator, None, ranks):
                yield (x.to(self.device, non_blocking=True).contiguous(memory_format=self.layout),
                       y.to(self.device, non_blocking=True))

    def train_batches(self, batch_size: int, generator: torch.Generator, ranks: Ranks = SINGLE):
        return self._batches(self.train_set, batch_size, generator, True, ranks)

    def test_batches(self, batch_size: int, ranks: Ranks = SINGLE):
        return self._batches(self.test_set, batch_size, None, False, ranks)

    def first_batch(self, batch_size: int):
        return next(iter(self._loader(self.train_set, batch_size, torch.Generator().manual_seed(0))))

    def class_balanced_batch(self, per_class: int, generator: torch.Generator):
        """`per_class` training images of every class, drawn by `generator`, as the validation images are
        shaped (resize, centre crop): GraSP's calibration sample."""
        from torchvision import datasets

        idx = balanced_indices(torch.tensor(self.train_set.targets), self.info.classes, per_class, generator)
        plain = datasets.ImageFolder(self.train_set.root, self.test_set.transform)
        subset = torch.utils.data.Subset(plain, idx.tolist())
        x, y = next(iter(torch.utils.data.DataLoader(subset, batch_size=len(subset), num_workers=self.num_workers)))
        return x.to(self.device), y.to(self.device)


TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT_TAR = "ILSVRC2012_devkit_t12.tar.gz"
GROUND_TRUTH = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
META = "ILSVRC2012_devkit_t12/data/meta.mat"


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        return archive.extractfile(name).read()  # type: ignore[union-attr]
    except KeyError:
        raise FileNotFoundError(f"{archive.name} has no {name}: is it the ILSVRC2012 devkit?") from None


def devkit_labels(devkit: Path) -> tuple[dict[int, str], list[str]]:
    """(ILSVRC2012_ID -> WNID for the 1,000 leaf classes, the validation images' WNIDs in file-name order)."""
    from scipy.io import loadmat

    with tarfile.open(devkit) as archive:
        synsets = loadmat(io.BytesIO(_member(archive, META)), squeeze_me=True)["synsets"]
        truth = _member(archive, GROUND_TRUTH).decode().split()
    wnid_of = {int(i): str(w) for i, w, c in zip(synsets["ILSVRC2012_ID"], synsets["WNID"], synsets["num_children"])
               if int(c) == 0}
    return wnid_of, [wnid_of[int(i)] for i in truth]


def prepare_imagenet(archives: str | Path, out: str | Path) -> dict[str, int]:
    """Build `out/train/<wnid>/` and `out/val/<wnid>/` from the three official archives; return image counts."""
    archives, out = Path(archives), Path(out)
    missing = [name for name in (TRAIN_TAR, VAL_TAR, DEVKIT_TAR) if not (archives / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{archives} lacks {', '.join(missing)} (the ILSVRC2012 archives from image-net.org)")
    if out.exists():
        raise FileExistsError(f"{out} exists already; remove it to prepare ImageNet again")
    wnid_of, val_wnids = devkit_labels(archives / DEVKIT_TAR)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = {"train": 0, "val": 0}
    with tarfile.open(archives / TRAIN_TAR) as outer:
        for member in outer:
            wnid = Path(member.name).stem
            if wnid not in wnid_of.values():
                raise ValueError(f"{TRAIN_TAR} holds {member.name}, which is not one of the devkit's classes")
            folder = tmp / "train" / wnid
            folder.mkdir(parents=True)
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                for image in inner.getmembers():
                    (folder / Path(image.name).name).write_bytes(inner.extractfile(image).read())  # type: ignore[union-attr]
                    counts["train"] += 1
            log.info("train/%s: done", wnid)
    with tarfile.open(archives / VAL_TAR) as archive:
        images = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: Path(m.name).name)
        if len(images) != len(val_wnids):
            raise ValueError(f"{VAL_TAR} holds {len(images)} images but the ground truth labels {len(val_wnids)}")
        for member, wnid in zip(images, val_wnids):
            folder = tmp / "val" / wnid
            folder.mkdir(parents=True, exist_ok=True)
            (folder / Path(member.name).name).write_bytes(archive.extractfile(member).read())  # type: ignore[union-attr]
            counts["val"] += 1
    tmp.rename(out)
    log.info("ImageNet prepared in %s: %d training and %d validation images", out, counts["train"], counts["val"])
    return counts
