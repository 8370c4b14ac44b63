"""What a configuration's grid costs to train: cells, multiply-adds and GPU-hours at a stated throughput.

    python benchmarks/study_cost.py config/fashion-full.yaml --images-per-second vgg19=10000 resnet50=4000

A GPU trains a pruned network with dense kernels (the masks zero weights, they skip no work), so a
cell costs its dense network's multiply-adds (N2NSkip's skip convolutions added) per image: forward,
and about twice that backward. Prints, per model: training runs, multiply-adds per image (dense,
with skips), training multiply-adds in all, and GPU-hours at the images/s given (the GPU issue
measures them: benchmarks/train_throughput.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from n2n.config import grid_cells, load_config, model_width, training_recipe
    from n2n.cost import cost_report
    from n2n.models import build_model, make_arch
    from n2n.outputs import OUTPUTS
    from n2n.registry import dataset as dataset_record

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="config files over config.yaml, in order")
    parser.add_argument("--images-per-second", nargs="+", default=["vgg19=10000", "resnet50=4000"],
                        help="model=images/s of training (assumed until measured)")
    args = parser.parse_args()
    config = load_config(ROOT / "config.yaml", *args.configs)
    speed = {k: float(v) for k, v in (item.split("=") for item in args.images_per_second)}
    cells = {c for o in OUTPUTS.values() if o.cell_file in ("acc.json", "metrics.parquet", "heat_distance.parquet")
             for c in grid_cells(config, o.section, o.grid)}
    skips = config["skips"]
    total_hours = 0.0
    per_image_of: dict[tuple[str, str, str], int] = {}
    for model in sorted({c.model for c in cells}):
        mine = [c for c in cells if c.model == model]
        hours = macs_all = 0.0
        for cell in mine:
            recipe = training_recipe(config, cell.dataset)
            images = recipe.get("train_images") or None
            key = (model, cell.dataset, cell.method)
            if key not in per_image_of:  # every weight kept: the dense kernels' work, skips included
                net = build_model(make_arch(model, cell.dataset, cell.method, model_width(config, model), skips), 0)
                per_image_of[key] = cost_report(net)["macs"]
            per_image = per_image_of[key]
            seen = (images or dataset_record(cell.dataset).train_size) * recipe["epochs"]
            macs_all += 3 * per_image * seen
            hours += seen / speed[model] / 3600
        dense = build_model(make_arch(model, mine[0].dataset, "dense", model_width(config, model), skips), 0)
        size = dataset_record(mine[0].dataset).image_size
        print(f"{model}: {len(mine)} trainings, {cost_report(dense)['macs'] / 1e6:.0f} M multiply-adds per "
              f"{size}x{size} image (dense), {macs_all:.1e} multiply-adds of training, "
              f"{hours:.0f} GPU-hours at {speed[model]:.0f} images/s")
        total_hours += hours
    print(f"all: {total_hours:.0f} GPU-hours (evaluation, pruning and connectivity not counted)")


if __name__ == "__main__":
    main()
