"""Heat signatures of full-size VGG19 and ResNet50 channel graphs: Lanczos (the project's method)
against dense `eigh`, measured in one run.

    python benchmarks/heat_signature.py [--skip-resnet]

Graphs: full-size CIFAR VGG19 and ResNet50 at initialisation, dense and at densities 0.1 and 0.02
with N2NSkip (rp masks), l1 edge weights, L = D - W, sources = the 3 input channels, t = 16 points
from 1e-3 to 1e3 plus t_sat = 1 and infinity. Dense eigh runs on the VGG19 graphs only; the
ResNet50 figure is extrapolated from VGG19's by n^3 and says so. The last line is the speed-up on VGG19.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from n2n.connectivity import channel_graph, network_at_init
from n2n.heat import heat_signature, heat_signature_dense, t_grid

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}


def timed(fn, *args):
    tracemalloc.start()
    began = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-resnet", action="store_true")
    args = parser.parse_args()
    ts = t_grid(1e-3, 1e3, 16, t_sat=1.0)
    cases = [("vgg19", "dense", 1.0), ("vgg19", "n2nskip-rp", 0.1), ("vgg19", "n2nskip-rp", 0.02)]
    if not args.skip_resnet:
        cases += [("resnet50", "dense", 1.0), ("resnet50", "n2nskip-rp", 0.02)]
    print(f"{'graph':<26}{'nodes':>8}{'edges':>11}{'lanczos s':>11}{'MiB':>8}{'eigh s':>9}{'rel err':>10}")
    eigh_seconds: dict[str, float] = {}
    speedups = []
    for model, method, density in cases:
        net = network_at_init(model, "cifar10", method, density, seed=0, width=1.0, skips=SKIPS)
        adjacency, nodes = channel_graph(net, "l1")
        sources = nodes["is_source"].to_numpy(float)
        fast, seconds, mib = timed(heat_signature, adjacency, sources, ts, "unnormalised", 1e-10)
        name = f"{model} {method} {density:g}"
        n = adjacency.shape[0]
        if model == "vgg19":
            exact, eigh_s, _ = timed(heat_signature_dense, adjacency, sources, ts, "unnormalised")
            err = max(np.linalg.norm(f - e) / np.linalg.norm(e) for f, e in zip(fast, exact))
            eigh_seconds[model] = eigh_s
            eigh_text, err_text = f"{eigh_s:9.2f}", f"{err:10.1e}"
            speedups.append((name, eigh_s / seconds))
            eigh_seconds["vgg_n"] = n
        else:
            estimate = eigh_seconds.get("vgg19", float("nan")) * (n / eigh_seconds.get("vgg_n", n)) ** 3
            eigh_text, err_text = f"~{estimate:8.0f}", "  (extrap.)"
        print(f"{name:<26}{n:>8}{adjacency.nnz // 2:>11}{seconds:>11.3f}{mib:>8.0f}{eigh_text}{err_text}", flush=True)
    for name, ratio in speedups:
        print(f"speed-up over dense eigh, {name}: {ratio:.0f}x")
    print(f"speed-up on VGG19 (dense graph): {speedups[0][1]:.0f}x")


if __name__ == "__main__":
    main()
