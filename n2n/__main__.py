"""The command line, `python -m n2n COMMAND`: connectivity, selftest, prepare-imagenet, timed, claims, publish, docs.

`connectivity` (a network's connectivity at initialisation), `selftest [--device cuda]` (every device branch of
the training, on a tiny cell), `prepare-imagenet`, `timed` (a study's run record), `claims` (the claims again from
a cells file), `publish --results DIR PAGE...` (a run's tables into the marked blocks of the README and docs/)
and `docs` (the generated blocks of the README, docs/ and the Snakefile rewritten from the code: n2n.docgen)."""

from __future__ import annotations

import argparse
import logging
import sys
import time


def connectivity_command(args: argparse.Namespace) -> int:
    import numpy as np

    from n2n import registry
    from n2n.connectivity import channel_graph, network_at_init
    from n2n.heat import distance, heat_signature, t_grid

    registry.check_cell(args.model, args.dataset, args.pruner, float(args.density))
    skips = {"share": args.skip_share, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}
    def data_fn():
        from n2n.data import load_dataset

        return load_dataset(args.dataset, args.data_root)

    ts = t_grid(args.t_min, args.t_max, args.t_points, args.t_sat)
    began = time.perf_counter()
    signatures = {}
    for method, density in (("dense", 1.0), (args.pruner, float(args.density))):
        net = network_at_init(args.model, args.dataset, method, density, args.seed, args.width, skips, data_fn)
        adjacency, nodes = channel_graph(net, args.weighting)
        sources = nodes["is_source"].to_numpy(float)
        signatures[method] = heat_signature(adjacency, sources, ts, args.laplacian, args.tol)
        print(f"{args.model} {method} {density:g}: {adjacency.shape[0]} nodes, {adjacency.nnz // 2} edges")
    f = distance(signatures["dense"], signatures[args.pruner])
    print(f"\nF(t) = ||S_dense(t) - S(t)||, {args.weighting} weights, {args.laplacian} Laplacian, at initialisation")
    print(f"{'t':>10}  {'F':>12}")
    for t, value in zip(ts, f):
        print(f"{t:>10.4g}  {value:>12.4e}{'   <- t_sat' if np.isclose(t, args.t_sat) else ''}")
    print(f"\n{time.perf_counter() - began:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m n2n", description="n2n command-line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    publish = sub.add_parser("publish", help="a run's tables into the marked blocks of pages (README, docs/)")
    publish.add_argument("--results", required=True, help="the run's results folder, e.g. results/demo")
    publish.add_argument("--root", default=".", help="the checkout that ran it (its commit is named)")
    publish.add_argument("pages", nargs="+")
    docs = sub.add_parser("docs", help="rewrite the generated blocks of the README, docs/ and the Snakefile")
    docs.add_argument("--check", action="store_true", help="change nothing; exit 1 naming the stale files")
    claims = sub.add_parser("claims", help="the premises and claims again from a study's cells file, no retraining")
    claims.add_argument("--cells", required=True, help="a cells file, e.g. studies/sparse/cells.parquet")
    claims.add_argument("--out", help="the folder for claims.md and claims.parquet (default: the cells file's)")
    conn = sub.add_parser("connectivity", help="F(t) of a pruned network against its dense reference, at init")
    conn.add_argument("--model", required=True)
    conn.add_argument("--pruner", required=True, help="method, e.g. rp, n2nskip-rp, csp")
    conn.add_argument("--density", required=True, type=str)
    conn.add_argument("--seed", type=int, default=0)
    conn.add_argument("--dataset", default="cifar10", help="sets input channels and classes (csp reads its data)")
    conn.add_argument("--data-root", default="data")
    conn.add_argument("--width", type=float, default=1.0)
    conn.add_argument("--skip-share", type=float, default=0.5)
    conn.add_argument("--weighting", choices=["l1", "binary"], default="l1")
    conn.add_argument("--laplacian", choices=["unnormalised", "normalised"], default="unnormalised")
    conn.add_argument("--t-min", type=float, default=1e-3)
    conn.add_argument("--t-max", type=float, default=1e3)
    conn.add_argument("--t-points", type=int, default=16)
    conn.add_argument("--t-sat", type=float, default=1.0)
    conn.add_argument("--tol", type=float, default=1e-10)
    prep = sub.add_parser("prepare-imagenet", help="the official ILSVRC2012 archives -> train/<wnid>, val/<wnid>")
    prep.add_argument("--archives", required=True, help="folder with the train, val and devkit archives")
    prep.add_argument("--out", default="data/imagenet", help="the tree to write (data_root/imagenet)")
    timed = sub.add_parser("timed", help="run a command and record what it cost in RESULTS/run.json (n2n.runrecord)")
    timed.add_argument("results", help="the run's results folder, e.g. results/sparse")
    timed.add_argument("--rate-seconds", type=float, default=2.0, help="how long the matmul rate is measured")
    test = sub.add_parser("selftest", help="every branch the training takes on a device, on a tiny generated cell")
    test.add_argument("--device", default="auto", help="auto (CUDA if visible), cpu or cuda")
    test.add_argument("--only", nargs="*", help="run only the checks whose names start with these words")
    argv = sys.argv[1:] if argv is None else list(argv)
    command: list[str] = []  # `timed`'s command: everything after its `--`, options included
    if argv[:1] == ["timed"] and "--" in argv:
        argv, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    args = parser.parse_args(argv)
    try:
        if args.command == "selftest":
            from n2n.selftest import run_selftest

            return run_selftest(args.device, args.only)
        if args.command == "prepare-imagenet":
            from n2n.imagenet import prepare_imagenet

            logging.basicConfig(level=logging.INFO, format="%(message)s")
            counts = prepare_imagenet(args.archives, args.out)
            print(f"{args.out}: {counts['train']} training and {counts['val']} validation images")
            return 0
        if args.command == "timed":
            from n2n.runrecord import timed

            if not command:
                raise ValueError("timed: name the command after --, e.g. python -m n2n timed results/demo -- snakemake ...")
            return timed(args.results, command, rate_seconds=args.rate_seconds)
        if args.command == "claims":
            from n2n.claims_report import claims_command

            print(", ".join(str(p) for p in claims_command(args.cells, args.out)))
            return 0
        if args.command == "docs":
            from n2n import docgen

            if args.check:
                stale = docgen.stale()
                print(f"stale generated blocks: {', '.join(stale)} (run python -m n2n docs)" if stale
                      else "every generated block is current")
                return 1 if stale else 0
            changed = docgen.write_all()
            print(f"rewrote {', '.join(changed)}" if changed else "every generated block is current")
            return 0
        if args.command == "publish":
            from n2n.publish import publish

            changed = publish(args.pages, args.results.rstrip("/"), args.root)
            print(f"{args.results}: {', '.join(changed) if changed else 'no page had a block of it that changed'}")
            return 0
        return connectivity_command(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
