"""ERK layer densities against RigL's own `get_sparsities_erdos_renyi` (google-research/rigl,
rigl/sparse_utils.py), on the prunable layers of VGG19 and ResNet50 at the studies' and the paper's shapes.

RigL's module imports TensorFlow for logging only on this path: it is loaded with stand-ins for its
imports, and its function is called with objects carrying a mask's `name` and `shape`. RigL counts each
layer's zeros as floor(sparsity * size), so its total differs from the exact one by under a weight per
layer; the figures are the largest difference of a layer's density, and of a layer's kept count.

    python benchmarks/erk_agreement.py --rigl PATH/TO/rigl   # a checkout of google-research/rigl
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np


def load_rigl(checkout: Path):
    logging = types.SimpleNamespace(info=lambda *a, **k: None)
    stubs = {"tensorflow": types.ModuleType("tensorflow"), "tensorflow.compat": types.ModuleType("tensorflow.compat"),
             "tensorflow.compat.v1": types.SimpleNamespace(logging=logging),
             "rigl": types.ModuleType("rigl"), "rigl.str_sparsities": types.ModuleType("rigl.str_sparsities"),
             "google_research": types.ModuleType("google_research"),
             "google_research.micronet_challenge": types.ModuleType("google_research.micronet_challenge"),
             "google_research.micronet_challenge.counting": types.ModuleType("counting")}
    stubs["rigl"].str_sparsities = stubs["rigl.str_sparsities"]
    stubs["google_research.micronet_challenge"].counting = stubs["google_research.micronet_challenge.counting"]
    sys.modules.update(stubs)
    spec = importlib.util.spec_from_file_location("rigl_sparse_utils", checkout / "rigl" / "sparse_utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Mask:
    def __init__(self, index: int, shape: tuple[int, ...]) -> None:
        self.name = f"layer{index}/mask:0"
        self.shape = types.SimpleNamespace(as_list=lambda: list(shape))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rigl", type=Path, required=True, help="a checkout of google-research/rigl")
    args = parser.parse_args()
    rigl = load_rigl(args.rigl)

    from n2n.masks import erk_counts, erk_densities, prunable_parameters
    from n2n.models import build_model, make_arch

    skips = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
    print("model, data, width, density: layers, largest |density difference|, largest |count difference|, "
          "total ours / RigL's")
    for model, dataset, width in [("vgg19", "cifar10", 1.0), ("resnet50", "cifar10", 1.0),
                                  ("vgg19", "fashion_mnist_16", 0.25), ("resnet50", "fashion_mnist_16", 0.125)]:
        net = build_model(make_arch(model, dataset, "rp", width, skips), 0)
        shapes = [tuple(p.shape) for p in prunable_parameters(net).values()]
        sizes = np.array([int(np.prod(s)) for s in shapes])
        for density in (0.1, 0.05, 0.02):
            total = int(round(density * sizes.sum()))
            masks = [Mask(i, s) for i, s in enumerate(shapes)]
            theirs = rigl.get_sparsities_erdos_renyi(masks, 1 - density, {}, include_kernel=True)
            their_density = np.array([1 - theirs[m.name] for m in masks])
            ours = np.array(erk_densities(shapes, total))
            counts = np.array(erk_counts(shapes, total))
            print(f"{model}, {dataset}, {width:g}, {density:g}: {len(shapes)}, "
                  f"{np.abs(ours - their_density).max():.2e}, {np.abs(counts - their_density * sizes).max():.2f}, "
                  f"{counts.sum()} / {(their_density * sizes).sum():.1f}")


if __name__ == "__main__":
    main()
