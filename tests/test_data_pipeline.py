"""Input pipelines: the resident batch augmentation matches torchvision's per-sample one in
distribution; the fast and the usual pipeline train to the same accuracy; ImageNet's loader reads
an ImageFolder tree (PIL workers, and whole-batch JPEG decoding)."""

from dataclasses import replace

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SMALL_SKIPS
from n2n.data import ResidentData, TorchvisionData, augment, load_digits_data
from n2n.registry import DATASETS
from n2n.imagenet import ImageFolderData


def marker_positions(images: torch.Tensor) -> np.ndarray:
    """Where the single bright pixel ended up (row, col), -1 when cropped away."""
    flat = images.reshape(len(images), -1)
    hit = flat.max(dim=1).values > 0.5
    idx = flat.argmax(dim=1)
    w = images.shape[-1]
    return np.where(hit.numpy()[:, None], np.stack([(idx // w).numpy(), (idx % w).numpy()], 1), -1)


def test_batch_augmentation_matches_torchvision_in_distribution():
    from torchvision import transforms

    info = DATASETS["cifar10"]
    image = np.zeros((1, 3, 32, 32), dtype=np.uint8)
    image[0, :, 5, 9] = 255  # a marker: its position after augmentation encodes shift and flip
    n = 8000  # about 50 draws for each of the 162 shift-and-flip outcomes
    ours = augment(torch.from_numpy(image).repeat(n, 1, 1, 1), info.crop_padding, info.hflip,
                   torch.Generator().manual_seed(0))[:, 0].float() / 255
    tv = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])
    torch.manual_seed(0)
    pil = Image.fromarray(image[0].transpose(1, 2, 0))
    theirs = torch.stack([tv(pil)[0] for _ in range(n)])
    a, b = marker_positions(ours), marker_positions(theirs)
    keys = sorted({tuple(p) for p in np.concatenate([a, b])})
    count = lambda pos: np.array([np.sum(np.all(pos == k, axis=1)) for k in keys], dtype=float)  # noqa: E731
    ca, cb = count(a), count(b)
    assert len(keys) > 100  # 81 shifts x 2 flips (some cropped away)
    # same distribution: a two-sample chi-square on the joint histogram
    expected = (ca + cb) / 2
    stat = ((ca - expected) ** 2 / expected).sum() + ((cb - expected) ** 2 / expected).sum()
    dof = len(keys) - 1
    assert stat < dof + 5 * np.sqrt(2 * dof), (stat, dof)


def test_fast_and_usual_pipeline_train_alike():
    from n2n.masks import prunable_parameters
    from n2n.models import build_model, make_arch
    from n2n.training import Recipe, train

    recipe = Recipe(epochs=3, batch_size=64, lr=0.03, lr_step_epochs=2, lr_gamma=0.3, momentum=0.9,
                    weight_decay=5e-4, eval_batch_size=512, num_workers=0)
    finals = {"resident": [], "dataloader": []}
    for seed in (0, 1, 2):
        for pipeline in finals:
            data = load_digits_data()
            data.info = replace(data.info, crop_padding=1)  # the demo digits are not cropped: compare crops too
            if pipeline == "dataloader":
                data = TorchvisionData(data, num_workers=0)
            net = build_model(make_arch("vgg19", "digits", "dense", 0.125, SMALL_SKIPS), seed)
            masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(net).items()}
            finals[pipeline].append(train(net, masks, data, recipe, seed, torch.device("cpu"))[-1]["test_accuracy"])
    fast, usual = np.array(finals["resident"]), np.array(finals["dataloader"])
    spread = max(fast.std(ddof=1), usual.std(ddof=1), 1.0)
    assert abs(fast.mean() - usual.mean()) <= 2 * spread, finals


@pytest.fixture()
def imagefolder(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            folder = tmp_path / "imagenet" / split / cls
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    return tmp_path


@pytest.mark.parametrize("decode_on_device", [False, True])
def test_imagefolder_loader(imagefolder, decode_on_device):
    data = ImageFolderData(str(imagefolder), num_workers=0, decode_on_device=decode_on_device)
    assert data.train_size == 6
    batches = list(data.train_batches(4, torch.Generator().manual_seed(0)))
    assert [x.shape for x, _ in batches] == [(4, 3, 224, 224), (2, 3, 224, 224)]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == [0, 0, 0, 1, 1, 1]
    x, y = next(iter(data.test_batches(6)))
    assert x.shape == (6, 3, 224, 224) and x.dtype == torch.float32 and abs(float(x.mean())) < 3


def test_missing_imagenet_names_the_folder(tmp_path):
    from n2n.data import MissingDataError

    with pytest.raises(MissingDataError, match="imagenet not found"):
        ImageFolderData(str(tmp_path), num_workers=0)


def test_resident_data_moves_once():
    data = load_digits_data()
    assert isinstance(data, ResidentData) and data.train_x.dtype == torch.uint8
    assert data.train_size == DATASETS["digits"].train_size  # the record's count, used before data is read


@pytest.fixture()
def imagenet_oddities(tmp_path):
    """ImageNet's odd files: a PNG named .JPEG, a CMYK JPEG, a grey JPEG, beside ordinary JPEGs."""
    rng = np.random.default_rng(1)
    pixels = lambda: rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)  # noqa: E731
    for split in ("train", "val"):
        folder = tmp_path / "imagenet" / split / "n02105855"
        folder.mkdir(parents=True)
        Image.fromarray(pixels()).save(folder / "n02105855_2933.JPEG", format="PNG")
        Image.fromarray(pixels()).convert("CMYK").save(folder / "n03018349_4028.JPEG", format="JPEG")
        Image.fromarray(pixels()).convert("L").save(folder / "grey.JPEG", format="JPEG")
        other = tmp_path / "imagenet" / split / "n01440764"
        other.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(pixels()).save(other / f"rgb{i}.JPEG", format="JPEG")
    return tmp_path


@pytest.mark.parametrize("decode_on_device", [False, True])
def test_imagenet_odd_files_are_read_on_both_paths(imagenet_oddities, decode_on_device):
    data = ImageFolderData(str(imagenet_oddities), num_workers=0, decode_on_device=decode_on_device)
    batches = list(data.train_batches(4, torch.Generator().manual_seed(0)))
    assert sum(len(y) for _, y in batches) == 6 and all(x.shape[1:] == (3, 224, 224) for x, _ in batches)
    x, _ = next(iter(data.test_batches(6)))
    assert x.shape == (6, 3, 224, 224) and torch.isfinite(x).all()
    if decode_on_device:  # the PNG and the CMYK JPEG went to the CPU decoder, and were counted
        assert {p.rsplit("/", 1)[1] for p in data.decoded_on_cpu} == {"n02105855_2933.JPEG", "n03018349_4028.JPEG"}


def test_an_unreadable_image_is_an_error_naming_it(imagenet_oddities):
    from n2n.imagenet import UnreadableImageError

    bad = imagenet_oddities / "imagenet" / "val" / "n01440764" / "rgb0.JPEG"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    data = ImageFolderData(str(imagenet_oddities), num_workers=0, decode_on_device=True)
    with pytest.raises(UnreadableImageError, match="rgb0.JPEG: no decoder can read this image"):
        list(data.test_batches(6))


# --- Fashion-MNIST: the official IDX files, small generated ones in the tests (n2n.data.FASHION_SHAPES patched)

SMALL_FASHION = {"train-images-idx3-ubyte.gz": (20, 28, 28), "train-labels-idx1-ubyte.gz": (20,),
                 "t10k-images-idx3-ubyte.gz": (10, 28, 28), "t10k-labels-idx1-ubyte.gz": (10,)}


def write_idx(path, array: np.ndarray, magic: int | None = None) -> None:
    import gzip
    import struct

    magic = magic if magic is not None else (0x0803 if array.ndim == 3 else 0x0801)
    with gzip.open(path, "wb") as fh:
        fh.write(struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes())


@pytest.fixture()
def small_fashion(tmp_path, monkeypatch):
    """data_root with generated Fashion-MNIST files of 20 training and 10 test images (labels 0-9 twice/once)."""
    import n2n.data
    from n2n import registry

    monkeypatch.setattr(n2n.data, "FASHION_SHAPES", SMALL_FASHION)
    monkeypatch.setenv(registry.SYSTEM_DATA_ENV, "off")  # this machine's Debian copy must not stand in
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {name: (rng.integers(0, 256, shape) if len(shape) == 3 else np.arange(shape[0]) % 10)
              for name, shape in SMALL_FASHION.items()}
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return tmp_path, arrays


def test_fashion_mnist_reads_the_idx_files_at_its_records_size(small_fashion):
    from n2n.data import load_dataset

    root, arrays = small_fashion
    padded = load_dataset("fashion_mnist", str(root))
    assert padded.train_x.shape == (20, 1, 32, 32) and padded.test_x.shape == (10, 1, 32, 32)
    assert torch.equal(padded.train_x[:, 0, 2:30, 2:30], torch.from_numpy(arrays["train-images-idx3-ubyte.gz"]
                                                                          .astype(np.uint8)))
    assert padded.train_x[:, :, :2].sum() == 0  # zero padding
    assert padded.test_y.tolist() == list(range(10))
    small = load_dataset("fashion_mnist_16", str(root))
    assert small.train_x.shape == (20, 1, 16, 16) and small.train_x.dtype == torch.uint8
    subset = small.training_subset(10)  # one image per class, the same every time
    assert sorted(subset.train_y.tolist()) == list(range(10)) and len(subset.test_y) == 10
    assert torch.equal(subset.train_x, small.training_subset(10).train_x)


def test_a_training_subset_the_classes_cannot_share_is_refused_by_name():
    data = load_digits_data()
    for images in (15, data.train_size + 10):  # not a multiple of the 10 classes; more than there are
        with pytest.raises(ValueError, match=f"training.train_images = {images}: must be a multiple of the 10 "
                                             "classes and at most the 1442 training images of digits"):
            data.training_subset(images)


@pytest.mark.parametrize("fault, problem", [
    ("missing", "missing"),
    ("truncated", "not a readable gzip file"),
    ("magic", "IDX header says magic 0x0801"),
    ("short", "data bytes, expected"),
])
def test_a_bad_fashion_mnist_file_is_named_with_both_ways_to_get_it(small_fashion, fault, problem):
    from n2n.data import MissingDataError, load_dataset

    root, arrays = small_fashion
    path = root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    if fault == "missing":
        path.unlink()
    elif fault == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif fault == "magic":
        write_idx(path, arrays[path.name], magic=0x0801)
    else:
        import gzip

        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(MissingDataError) as err:
        load_dataset("fashion_mnist", str(root))
    message = str(err.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "snakemake download_data" in message and "apt-get install dataset-fashion-mnist" in message


def test_fashion_mnist_is_found_in_debians_folder_without_configuration(small_fashion, tmp_path, monkeypatch):
    from n2n import registry

    root, _ = small_fashion
    monkeypatch.setenv(registry.SYSTEM_DATA_ENV, str(root))  # Debian's folder, under another root
    assert registry.DATASETS["fashion_mnist"].system_folders == ("fashion-mnist",)
    empty = tmp_path / "empty_root"
    assert registry.data_folders("fashion_mnist", str(empty)) == [str(root / "fashion-mnist")]
    from n2n.data import load_dataset

    assert load_dataset("fashion_mnist", str(empty)).train_size == 20
    (empty / "fashion-mnist").mkdir(parents=True)  # an incomplete copy in data_root does not hide the system one
    assert registry.data_folders("fashion_mnist", str(empty)) == [str(root / "fashion-mnist")]
    monkeypatch.setenv(registry.SYSTEM_DATA_ENV, "off")  # as on a new machine: data_root only
    assert registry.data_folders("fashion_mnist", str(empty)) == [str(empty / "fashion-mnist")]
    monkeypatch.setenv(registry.SYSTEM_DATA_ENV, "no")
    with pytest.raises(ValueError, match="N2N_SYSTEM_DATA='no': give an absolute folder .* or 'off'"):
        registry.data_folders("fashion_mnist", str(empty))


DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.exists(DEBIAN_FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_the_real_fashion_mnist_files_agree_with_torchvisions_reader(tmp_path):
    import gzip

    from torchvision.datasets.mnist import read_image_file, read_label_file

    from n2n.data import FASHION_SHAPES, read_idx

    for name, shape in FASHION_SHAPES.items():
        ours = read_idx(Path(DEBIAN_FASHION) / name, shape, "")
        raw = tmp_path / name.removesuffix(".gz")
        raw.write_bytes(gzip.decompress((Path(DEBIAN_FASHION) / name).read_bytes()))
        theirs = (read_image_file if len(shape) == 3 else read_label_file)(str(raw))
        assert np.array_equal(ours, theirs.numpy()), name
