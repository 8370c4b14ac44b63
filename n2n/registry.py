"""Names the pipeline knows: models, datasets, pruners and skip kinds.

Kept free of heavy imports so the Snakefile and config validation can use it.
A pruner is registered by one line in PRUNERS ("module:Class", loaded lazily).
"""

from __future__ import annotations

import re

MODELS: tuple[str, ...] = ("vgg19", "resnet50")

# name -> needs data_root (the demo data set ships with scikit-learn)
DATASETS: dict[str, bool] = {"cifar10": True, "cifar100": True, "imagenet": True, "digits": False}

PRUNERS: dict[str, str] = {
    "dense": "n2n.pruners.dense:DensePruner",
    "rp": "n2n.pruners.random:RandomPruner",
    "csp": "n2n.pruners.csp:ConnectionSensitivityPruner",
    "scl": "n2n.pruners.scl:SparseConnectivityLearning",
    "grasp": "n2n.pruners.grasp:GraSPPruner",
    "synflow": "n2n.pruners.synflow:SynFlowPruner",
    "mag": "n2n.pruners.magnitude:MagnitudePruner",
    "erp": "n2n.pruners.expander:ExpanderRandomPruner",
}

# pruners that train (their prune jobs get the `prune_learned` resources)
LEARNED_PRUNERS: tuple[str, ...] = ("scl",)

CIFAR_FOLDERS: dict[str, str] = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}

SKIP_KINDS: tuple[str, ...] = ("n2nskip", "resskip")

DENSITY_RE = re.compile(r"^(1\.0|0\.[0-9]*[1-9])$")


class UnknownNameError(ValueError):
    """A model, data set, method or density the pipeline does not know."""


def split_method(method: str) -> tuple[str | None, str]:
    """'n2nskip-rp' -> ('n2nskip', 'rp'); 'csp' -> (None, 'csp'). Raises on unknown names."""
    skip, _, base = method.rpartition("-")
    skip = skip or None
    if skip is not None and skip not in SKIP_KINDS:
        raise UnknownNameError(
            f"unknown method {method!r}: skip kind {skip!r} is not one of {', '.join(SKIP_KINDS)}"
        )
    if base not in PRUNERS:
        raise UnknownNameError(
            f"unknown method {method!r}: pruner {base!r} is not one of {', '.join(PRUNERS)}"
        )
    if skip is not None and base == "dense":
        raise UnknownNameError(f"unknown method {method!r}: skips are added to a pruned network, not to dense")
    return skip, base


def all_methods() -> list[str]:
    bases = [p for p in PRUNERS if p != "dense"]
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


def check_cell(model: str, dataset: str, method: str, density: str | float) -> None:
    """Raise UnknownNameError naming the first bad part of a (model, dataset, method, density) cell."""
    if model not in MODELS:
        raise UnknownNameError(f"unknown model {model!r}: expected one of {', '.join(MODELS)}")
    if dataset not in DATASETS:
        raise UnknownNameError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    split_method(method)
    check_density(method, parse_density(density) if isinstance(density, str) else float(density))


def check_density(method: str, density: float) -> None:
    if not 0.0 < density <= 1.0:
        raise UnknownNameError(f"density {density!r} is outside (0, 1]")
    if method == "dense" and density != 1.0:
        raise UnknownNameError(f"method 'dense' has density 1.0, not {density!r}")


def data_files(dataset: str, data_root: str) -> list[str]:
    """The folder a data set is read from (a workflow input); none for the bundled demo data."""
    if dataset in CIFAR_FOLDERS:
        return [f"{data_root}/{CIFAR_FOLDERS[dataset]}"]
    if dataset == "imagenet":
        return [f"{data_root}/imagenet"]
    return []
