"""How the Fashion-MNIST study's regime is chosen: dense networks and cell health only, no pruned accuracy.

    python benchmarks/fashion_regime.py dense --model vgg19 --width 0.25 --seeds 0 1 --epochs 6 --train-images 12000
    python benchmarks/fashion_regime.py health --model resnet50 --width 0.125

`dense` trains the dense network with the study's recipe on `--dataset` and prints each seed's test accuracy
(the official 10,000 test images), the spread over seeds and the seconds per training. `health` prunes each
method at each density at initialisation and prints the fewest weights kept by a main-path layer and whether
every class output is still reached from the input (n2n.health): no training, no accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from n2n.data import load_dataset
from n2n.health import mask_health
from n2n.connectivity import network_at_init
from n2n.models import build_model, make_arch
from n2n.training import Recipe, train

SKIPS = {"share": 0.5, "every": 3, "kernel_size": "target", "batchnorm": True, "resample": "maxpool"}


def dense(args: argparse.Namespace) -> None:
    data = load_dataset(args.dataset, "data")
    if args.crop is not None or args.flip is not None:  # a candidate augmentation for the record
        data.info = dataclasses.replace(data.info, crop_padding=data.info.crop_padding if args.crop is None
                                        else args.crop, hflip=data.info.hflip if args.flip is None else args.flip)
    recipe = Recipe(epochs=args.epochs, batch_size=128, lr=args.lr, lr_step_epochs=args.lr_step_epochs,
                    lr_gamma=args.lr_gamma, momentum=0.9, weight_decay=5e-4, eval_batch_size=1000,
                    train_images=args.train_images, bn_statistics_images=args.bn_statistics_images)
    accuracies = []
    for seed in args.seeds:
        net = build_model(make_arch(args.model, args.dataset, "dense", args.width, SKIPS), seed)
        masks = {}
        began = time.perf_counter()
        rows = train(net, masks, data, recipe, seed, torch.device("cpu"))
        accuracies.append(rows[-1]["test_accuracy"])
        curve = ", ".join(f"{r['test_accuracy']:.1f}" for r in rows)
        print(f"{args.model} w{args.width} {args.dataset} {args.train_images or 'all'} images {args.epochs} epochs "
              f"crop {data.info.crop_padding} flip {data.info.hflip} lr {args.lr} "
              f"BatchNorm statistics {args.bn_statistics_images or 'running'} seed {seed}: {accuracies[-1]:.2f} % "
              f"in {time.perf_counter() - began:.0f} s "
              f"(epochs: {curve})", flush=True)
    if len(accuracies) > 1:
        print(f"mean {statistics.mean(accuracies):.2f}, sd {statistics.stdev(accuracies):.2f}")


def health(args: argparse.Namespace) -> None:
    data = load_dataset(args.dataset, "data")
    for method in args.methods:
        for density in args.densities:
            for seed in args.seeds:
                # pruned weights are exactly zero in the network at initialisation: its weights are its masks
                net = network_at_init(args.model, args.dataset, method, density, seed, args.width, SKIPS, lambda: data)
                h = mask_health(net, {})
                print(f"{args.model} w{args.width} {method} {density} seed {seed}: fewest kept {h['min_layer_kept']} "
                      f"({h['min_layer_kept_name']}), outputs reached {h['outputs_reached']}/{h['outputs']}"
                      f"{' CUT APART' if h['cut_apart'] else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["dense", "health"])
    parser.add_argument("--model", default="vgg19")
    parser.add_argument("--dataset", default="fashion_mnist_16")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--lr-step-epochs", type=int, default=2)
    parser.add_argument("--lr-gamma", type=float, default=0.3)
    parser.add_argument("--train-images", type=int, default=12000)
    parser.add_argument("--bn-statistics-images", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["rp", "n2nskip-rp", "resskip-rp", "csp", "n2nskip-csp"])
    parser.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.05, 0.02])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--crop", type=int, default=None, help="dense: crop padding instead of the record's")
    parser.add_argument("--flip", type=lambda v: v == "true", default=None, help="dense: true|false instead of the "
                        "record's")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dense(args) if args.what == "dense" else health(args)


if __name__ == "__main__":
    main()
