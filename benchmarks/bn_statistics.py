"""How many training images does re-estimating BatchNorm's statistics need (`training.bn_statistics_images`)?
Evaluates each trained cell with its running averages, then with statistics re-estimated by
`n2n.training.reestimate_batchnorm` over each number of training images asked for (weights untouched).

    python benchmarks/bn_statistics.py results/study/resnet50/fashion_mnist_16/dense/1.0/seed* --images 1024 4096

Prints one line per cell and a mean per image count; `--test-batch-statistics` adds the accuracy with
each test batch of 1,000 normalised by its own statistics (a network that works only that way is not healthy). The data set and training subset come from the
configs given (default: the study's); nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import statistics
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from n2n.config import load_config, training_recipe
    from n2n.data import load_dataset
    from n2n.evaluation import evaluate
    from n2n.modelfiles import load_model
    from n2n.training import reestimate_batchnorm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="+", help="cell folders holding model.pt")
    parser.add_argument("--images", nargs="+", type=int, default=[1024, 2048, 4096, 12000])
    parser.add_argument("--configs", nargs="+", default=[ROOT / "config" / "demo.yaml", ROOT / "config" / "study.yaml"])
    parser.add_argument("--test-batch-statistics", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(ROOT / "config.yaml", *args.configs)
    loaded: dict[str, object] = {}
    columns: dict[str, list[float]] = {}
    for cell in map(Path, args.cells):
        dataset = cell.parts[-4]
        if dataset not in loaded:
            loaded[dataset] = load_dataset(dataset, config["data_root"])
        data = loaded[dataset]
        recipe = training_recipe(config, dataset)
        train = data.training_subset(recipe["train_images"]) if recipe.get("train_images") else data
        trained, _ = load_model(cell / "model.pt")
        row = {"running averages": evaluate(trained, data, 1000)[1]}
        for images in args.images:
            model = copy.deepcopy(trained)
            reestimate_batchnorm(model, train, images, recipe["batch_size"])
            row[f"{images} images"] = evaluate(model, data, 1000)[1]
        if args.test_batch_statistics:
            model = copy.deepcopy(trained).train()  # BatchNorm normalises each batch by its own statistics
            with torch.no_grad():
                hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in data.test_batches(1000))
            row["test-batch statistics"] = 100.0 * hits / len(data.test_y)
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
        print(f"{cell}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    print("mean (sd) over the cells: " + ", ".join(
        f"{k} {statistics.mean(v):.2f} ({statistics.stdev(v) if len(v) > 1 else 0:.2f})" for k, v in columns.items()))


if __name__ == "__main__":
    main()
