"""What the pipeline knows: one record per data set and per model, the pruners and the skip kinds.

Free of heavy imports (no torch, no pandas), so the Snakefile and config validation can use it.
Code that loads or builds is named by "module:function" and imported only when used. Adding a
data set is one record here plus its loader; a model, one record plus its layer builder; a
pruner, one line in PRUNERS ("module:Class").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    """Everything the pipeline knows of one data set."""

    name: str
    channels: int
    classes: int
    image_size: int
    mean: tuple[float, ...]  # per channel, of the training images scaled to [0, 1]
    std: tuple[float, ...]
    crop_padding: int  # training augmentation: random crop after zero padding by this many pixels (0: none)
    hflip: bool  # training augmentation: random horizontal flip
    loader: str  # "module:function", called as function(name, data_root, num_workers)
    folder: str | None = None  # read from data_root/folder; None: bundled, nothing to read from data_root
    required: tuple[str, ...] = ()  # entries of the folder that must exist before it is read
    how_to_get: str = ""  # said when they do not
    download: str | None = None  # "module:function" fetching it into data_root (name, data_root); None: by hand
    system_folders: tuple[str, ...] = ()  # read from here (under /usr/share/datasets) when data_root/folder lacks it
    train_size: int = 0  # training images (cost estimates before the data is read)


CIFAR_HOW_TO_GET = "run `snakemake download_data --cores 1` where there is network, or point data_root at a copy"
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz")
FASHION_SYSTEM_FOLDERS = ("fashion-mnist",)  # under SYSTEM_DATA_ROOT: Debian's package dataset-fashion-mnist
FASHION_HOW_TO_GET = ("get it either way: `snakemake download_data --cores 1` fetches the official files where there is "
                      "network, or Debian's package installs them where n2n finds them without configuration "
                      "(`sudo apt-get install dataset-fashion-mnist`, into /usr/share/datasets/fashion-mnist)")

DATASETS: dict[str, Dataset] = {
    "cifar10": Dataset("cifar10", 3, 10, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4, True,
                       "n2n.data:load_cifar", "cifar-10-batches-py", ("data_batch_1", "test_batch"), CIFAR_HOW_TO_GET,
                       "n2n.data:download_cifar", train_size=50000),
    "cifar100": Dataset("cifar100", 3, 100, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 4, True,
                        "n2n.data:load_cifar", "cifar-100-python", ("train", "test"), CIFAR_HOW_TO_GET,
                        "n2n.data:download_cifar", train_size=50000),
    "imagenet": Dataset("imagenet", 3, 1000, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 0, True,
                        "n2n.imagenet:load_imagenet", "imagenet", ("train", "val"),
                        "place the ImageFolder tree (train/, val/) there, e.g. with `python -m n2n prepare-imagenet --archives DIR --out DATA_ROOT/imagenet`",
                        train_size=1281167),
    # Xiao et al. 2017, the official IDX files: 60,000 training and 10,000 test images, 28x28 grayscale.
    # fashion_mnist: zero-padded to 32x32, the paper's CIFAR input size, with its crop and flip (clothes and
    # shoes keep their class when mirrored). fashion_mnist_16: downsampled to 16x16 for CPU studies, flip
    # only: at 16 px a 2-px shift cuts a garment's outline and slows a short schedule (docs/study-fashion.md)
    "fashion_mnist": Dataset("fashion_mnist", 1, 10, 32, (0.2190,), (0.3318,), 4, True,
                             "n2n.data:load_fashion_mnist", "fashion-mnist", FASHION_FILES, FASHION_HOW_TO_GET,
                             "n2n.data:download_fashion_mnist", FASHION_SYSTEM_FOLDERS, 60000),
    "fashion_mnist_16": Dataset("fashion_mnist_16", 1, 10, 16, (0.2868,), (0.3218,), 0, True,
                                "n2n.data:load_fashion_mnist", "fashion-mnist", FASHION_FILES, FASHION_HOW_TO_GET,
                                "n2n.data:download_fashion_mnist", FASHION_SYSTEM_FOLDERS, 60000),
    # scikit-learn's 8x8 handwritten digits, upsampled to 16x16. No flips (they would confuse digits)
    # and no crops: the digits are centred and fill their frame, so a shift cuts strokes off and
    # slows learning (dense VGG19 reaches a lower accuracy in the demo's epochs with a 2-px crop)
    "digits": Dataset("digits", 1, 10, 16, (0.306,), (0.319,), 0, False, "n2n.data:load_digits", train_size=1442),
}


@dataclass(frozen=True)
class Model:
    """A network: its main path's layers come from `layers` ("module:function" of an Arch)."""

    name: str
    layers: str


MODELS: dict[str, Model] = {
    "vgg19": Model("vgg19", "n2n.models:vgg19_layers"),
    "resnet50": Model("resnet50", "n2n.models:resnet50_layers"),
}

PRUNERS: dict[str, str] = {
    "dense": "n2n.pruners.dense:DensePruner",
    "rp": "n2n.pruners.channel:ChannelRandomPruner",  # the paper's RP: expander graphs over channels
    "rp_weights": "n2n.pruners.random:RandomPruner",  # random single weights, every layer at the same density
    "csp": "n2n.pruners.csp:ConnectionSensitivityPruner",
    "scl": "n2n.pruners.scl:SparseConnectivityLearning",
    "grasp": "n2n.pruners.grasp:GraSPPruner",
    "synflow": "n2n.pruners.synflow:SynFlowPruner",
    "mag": "n2n.pruners.magnitude:MagnitudePruner",
    "erk": "n2n.pruners.random:ERKRandomPruner",
}

# pruners that train (their prune jobs get the `prune_learned` resources)
LEARNED_PRUNERS: tuple[str, ...] = ("scl",)

SKIP_KINDS: tuple[str, ...] = ("n2nskip", "resskip")

# the layerwise-shuffle control of pruner X (Frankle et al. 2021): X's mask with its kept positions redrawn
# at random within each layer; method X_shuffled, with skip twins like any pruner (n2nskip-X_shuffled)
SHUFFLED = "_shuffled"
METHOD_GRAMMAR = ("a method is [SKIP-]PRUNER[_shuffled]: SKIP one of " + ", ".join(SKIP_KINDS)
                  + "; PRUNER one of " + ", ".join(PRUNERS) + "; _shuffled: the pruner's mask shuffled within each "
                  "layer (not for dense), e.g. n2nskip-rp, csp_shuffled")


class UnknownNameError(ValueError):
    """A model, data set, method or density the pipeline does not know."""


class MissingDataError(FileNotFoundError):
    """A data set is not where the config says it is."""


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise UnknownNameError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def model(name: str) -> Model:
    if name not in MODELS:
        raise UnknownNameError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    return MODELS[name]


def split_method(method: str) -> tuple[str | None, str]:
    """'n2nskip-rp' -> ('n2nskip', 'rp'); 'csp' -> (None, 'csp'); 'csp_shuffled' -> (None, 'csp_shuffled').
    Raises on unknown names."""
    skip, _, base = method.rpartition("-")
    skip = skip or None
    if skip is not None and skip not in SKIP_KINDS:
        raise UnknownNameError(
            f"unknown method {method!r}: skip kind {skip!r} is not one of {', '.join(SKIP_KINDS)} ({METHOD_GRAMMAR})"
        )
    pruner, shuffled = split_control(base)
    if pruner not in PRUNERS:
        raise UnknownNameError(
            f"unknown method {method!r}: pruner {pruner!r} is not one of {', '.join(PRUNERS)} ({METHOD_GRAMMAR})"
        )
    if pruner == "dense" and (skip is not None or shuffled):
        what = ("skips are added to a pruned network, not to dense" if skip
                else "a layerwise shuffle redraws a pruned network's kept weights; dense keeps them all")
        raise UnknownNameError(f"unknown method {method!r}: {what}")
    return skip, base


def split_control(base: str) -> tuple[str, bool]:
    """'csp_shuffled' -> ('csp', True): the pruner and whether its mask is shuffled within each layer."""
    return (base[: -len(SHUFFLED)], True) if base.endswith(SHUFFLED) else (base, False)


def all_methods() -> list[str]:
    pruners = [p for p in PRUNERS if p != "dense"]
    bases = [*pruners, *(f"{p}{SHUFFLED}" for p in pruners)]
    return ["dense", *bases, *(f"{s}-{b}" for s in SKIP_KINDS for b in bases)]


def format_density(density: float) -> str:
    """The canonical spelling of a density in paths: 0.02, 0.1, 1.0."""
    return repr(float(density))


def parse_density(text: str) -> float:
    """Parse a density wildcard, refusing anything but the canonical spelling in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise UnknownNameError(f"density {text!r} is not a number") from None
    if not 0.0 < value <= 1.0:
        raise UnknownNameError(f"density {text!r} is outside (0, 1]")
    if format_density(value) != text:
        raise UnknownNameError(f"density {text!r} must be written {format_density(value)!r}")
    return value


def check_cell(model_name: str, dataset_name: str, method: str, density: str | float) -> None:
    """Raise UnknownNameError naming the first bad part of a (model, dataset, method, density) cell."""
    model(model_name)
    dataset(dataset_name)
    split_method(method)
    check_density(method, parse_density(density) if isinstance(density, str) else float(density))


def check_density(method: str, density: float) -> None:
    if not 0.0 < density <= 1.0:
        raise UnknownNameError(f"density {density!r} is outside (0, 1]")
    if method == "dense" and density != 1.0:
        raise UnknownNameError(f"method 'dense' has density 1.0, not {density!r}")


def downloadable() -> dict[str, Dataset]:
    """Data sets with a downloader, by their folder under data_root."""
    return {record.folder: record for record in DATASETS.values() if record.download and record.folder}


SYSTEM_DATA_ROOT = "/usr/share/datasets"  # where Debian's dataset-* packages install
SYSTEM_DATA_ENV = "N2N_SYSTEM_DATA"  # "off": read from data_root only, as a new machine does; a folder: another root


def system_folders(record: Dataset) -> tuple[Path, ...]:
    """The system-wide folders a data set is looked up in: its record's, under /usr/share/datasets. The variable
    N2N_SYSTEM_DATA changes the root (another folder), or hides them (`off`: the state of a new machine,
    whatever is installed on this one; the tests that count a plan's jobs use it)."""
    setting = os.environ.get(SYSTEM_DATA_ENV, "")
    if setting == "off":
        return ()
    if setting and not Path(setting).is_absolute():
        raise ValueError(f"{SYSTEM_DATA_ENV}={setting!r}: give an absolute folder (instead of {SYSTEM_DATA_ROOT}) "
                         "or 'off' to hide system-wide data sets")
    return tuple(Path(setting or SYSTEM_DATA_ROOT) / folder for folder in record.system_folders)


def data_folder(name: str, data_root: str) -> Path | None:
    """Where a data set is read from: data_root/folder when it holds every required entry, else the first
    system folder that does, else data_root/folder (where a download puts it). None for bundled data."""
    record = dataset(name)
    if record.folder is None:
        return None
    own = Path(data_root) / record.folder
    for folder in (own, *system_folders(record)):
        if all((folder / entry).exists() for entry in record.required):
            return folder
    return own


def data_folders(name: str, data_root: str) -> list[str]:
    """The folder a data set is read from (a workflow input); none for bundled data."""
    folder = data_folder(name, data_root)
    return [str(folder)] if folder else []


def check_data(name: str, data_root: str) -> None:
    """Raise MissingDataError naming the first missing entry of the data set's folder, and how to get it."""
    record = dataset(name)
    folder = data_folder(name, data_root)
    if folder is None:
        return
    missing = [str(folder / entry) for entry in record.required if not (folder / entry).exists()]
    if missing:
        raise MissingDataError(f"{name} not found under data_root={data_root!r}: missing {missing[0]}; "
                               f"{record.how_to_get}")
