"""The scree curve's spectrum of the full-size ResNet50-CIFAR channel graph (22,733 nodes), exactly:
time and peak memory of `n2n.heat.laplacian_spectrum`, against the heat_signature job's resources.

    python benchmarks/scree_full_size.py [--model resnet50] [--pruner n2nskip-rp --density 0.02]
        [--out benchmarks/results/scree-full-size.md]
"""

from __future__ import annotations

import argparse
import datetime
import resource
import time
from pathlib import Path

import yaml

from n2n.connectivity import channel_graph, network_at_init
from n2n.heat import laplacian_spectrum, scree, t_grid

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--pruner", default="dense")
    parser.add_argument("--density", default="1.0")
    parser.add_argument("--out", type=Path, help="also write the figures as a Markdown page here (a publish block)")
    args = parser.parse_args()
    net = network_at_init(args.model, "cifar10", args.pruner, float(args.density), 0, 1.0, SKIPS, None)
    adjacency, nodes = channel_graph(net, "l1")
    del net
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    spectrum = laplacian_spectrum(adjacency)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    curve = scree(spectrum, t_grid(1e-3, 1e3, 16, 1.0), [0.05, 0.1])
    jobs = yaml.safe_load(open("config.yaml"))["resources"]["heat_signature"]
    print(f"{args.model} {args.pruner} {args.density}: {adjacency.shape[0]} nodes, {adjacency.nnz // 2} edges")
    print(f"exact spectrum: {seconds:.0f} s, peak RSS {peak:.0f} MiB (graph and network before: {before:.0f} MiB); "
          f"job resources: {jobs['mem_mb']} MB, {jobs['runtime']} min, {jobs['threads']} threads")
    print(f"smallest eigenvalues {spectrum[:3]}, largest {spectrum[-1]:.4g}")
    print(curve[curve["t"] == 1.0].to_string(index=False))
    if args.out is not None:
        from n2n.provenance import machine, matmul_rate

        text = (f"*`benchmarks/scree_full_size.py`: {machine()}, {datetime.date.today().isoformat()}, fp32 matmul "
                f"{matmul_rate(1024, 1, 2.0):.1f} GFLOP/s on one thread.*\n\n"
                f"{args.model} {args.pruner} {args.density}: {adjacency.shape[0]:,} nodes. The exact spectrum took "
                f"**{seconds:.0f} s** and a peak RSS of **{peak / 1024:.1f} GB** ({before / 1024:.1f} GB of it the "
                f"network and its graph, before), against the heat_signature job's {jobs['mem_mb']} MB and "
                f"{jobs['runtime']} minutes. Smallest eigenvalues "
                f"{', '.join(f'{x:.3g}' for x in spectrum[:3])}, largest {spectrum[-1]:.4g}.\n")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
