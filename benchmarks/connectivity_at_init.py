"""F(t) at initialisation for full-size networks: does N2NSkip bring a pruned network closer to its
dense reference (the paper's Table 3 direction, "n2nskip lower")? For which t and weighting?

    python benchmarks/connectivity_at_init.py [--models vgg19 resnet50] [--densities 0.1 0.05 0.02]

Prints F(t) for rp and n2nskip-rp at each density under three graph settings (l1 weights with
L = D - W, binary weights with L = D - W, l1 weights with the normalised Laplacian), and for each
t whether n2nskip-rp's F is lower. Nothing is tuned: the settings are the config's options.
"""

from __future__ import annotations

import argparse
import time

from n2n.connectivity import channel_graph, network_at_init
from n2n.heat import distance, heat_signature, t_grid

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
SETTINGS = [("l1", "unnormalised"), ("binary", "unnormalised"), ("l1", "normalised")]
SHOW_T = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0]


def signatures(net, ts):
    out = {}
    for weighting, kind in SETTINGS:
        adjacency, nodes = channel_graph(net, weighting)
        out[(weighting, kind)] = heat_signature(adjacency, nodes["is_source"].to_numpy(float), ts, kind, 1e-10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg19", "resnet50"])
    parser.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.05, 0.02])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ts = t_grid(min(SHOW_T), max(SHOW_T), len(SHOW_T), with_infinity=False)
    header = "".join(f"{t:>10.0e}" for t in ts)
    for model in args.models:
        began = time.perf_counter()
        dense = signatures(network_at_init(model, "cifar10", "dense", 1.0, args.seed, 1.0, SKIPS), ts)
        for density in args.densities:
            f = {m: {k: distance(dense[k], s) for k, s in
                     signatures(network_at_init(model, "cifar10", m, density, args.seed, 1.0, SKIPS), ts).items()}
                 for m in ("rp", "n2nskip-rp")}
            for setting in SETTINGS:
                print(f"\n{model} d={density:g} weights={setting[0]} laplacian={setting[1]}")
                print(f"{'t':<12}{header}")
                for m in ("rp", "n2nskip-rp"):
                    print(f"{m:<12}" + "".join(f"{v:>10.2e}" for v in f[m][setting]))
                lower = f["n2nskip-rp"][setting] < f["rp"][setting]
                print(f"{'n2n lower':<12}" + "".join(f"{'yes' if x else 'no':>10}" for x in lower))
        print(f"\n{model}: {time.perf_counter() - began:.0f}s", flush=True)


if __name__ == "__main__":
    main()
