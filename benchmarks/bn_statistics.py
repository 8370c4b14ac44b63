"""Is a trained cell's test accuracy held down by BatchNorm's running statistics? Evaluates each cell
as the pipeline does, then again after its BatchNorm statistics are re-estimated over its training
images (a cumulative average in one pass, weights untouched).

    python benchmarks/bn_statistics.py results/study/resnet50/fashion_mnist_16/n2nskip-rp/0.1/seed1 ...

Prints both test accuracies per cell. The data set and training subset come from the config given
(default: the study's); nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from n2n.config import load_config, training_recipe
    from n2n.data import load_dataset
    from n2n.evaluation import evaluate
    from n2n.modelfiles import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="+", help="cell folders holding model.pt")
    parser.add_argument("--configs", nargs="+", default=[ROOT / "config" / "demo.yaml", ROOT / "config" / "study.yaml"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(ROOT / "config.yaml", *args.configs)
    loaded: dict[str, object] = {}
    for cell in map(Path, args.cells):
        dataset = cell.parts[-4]
        if dataset not in loaded:
            loaded[dataset] = load_dataset(dataset, config["data_root"])
        data = loaded[dataset]
        images = training_recipe(config, dataset).get("train_images") or 0
        train = data.training_subset(images) if images else data
        model, _ = load_model(cell / "model.pt")
        before = evaluate(model, data, 1000)[1]
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None  # a cumulative average over the pass
        model.train()
        with torch.no_grad():
            for x, _ in train.train_batches(128, torch.Generator().manual_seed(0)):
                model(x)
        after = evaluate(model, data, 1000)[1]
        print(f"{cell}: test accuracy {before:.2f} % with the running statistics, {after:.2f} % with statistics "
              f"re-estimated over {train.train_size} training images", flush=True)


if __name__ == "__main__":
    main()
