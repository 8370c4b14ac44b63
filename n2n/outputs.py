"""The pipeline's tables and figures: which grid and which cell file each reads, its title, where the
HTML report files it, and its counterpart in the paper. Free of heavy imports (the Snakefile reads it)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    name: str
    section: str  # the config section of its grid: tables | figures
    grid: str  # the grid's name in that section
    cell_file: str  # what it reads from each cell of the grid
    title: str
    category: str  # the report's section
    paper: str  # the paper's counterpart


TABLES: dict[str, Output] = {o.name: o for o in [
    Output("table1", "tables", "table1", "acc.json", "Table 1: test accuracy (%)", "Accuracy",
           "the paper's Table 1 (CIFAR-10/100)"),
    Output("table2", "tables", "table2", "acc.json", "Table 2: top-1 test accuracy (%)", "Accuracy",
           "the paper's Table 2 (ImageNet)"),
    Output("table3", "tables", "table3", "heat_distance.parquet",
           "Table 3: connectivity distance F to the dense reference", "Connectivity", "the paper's Table 3, at t_sat"),
    Output("pruners", "tables", "pruners", "acc.json", "Pruners with and without N2NSkip: test accuracy (%)",
           "Pruners", "no paper value: an extension of Table 1"),
]}

FIGURES: dict[str, Output] = {o.name: o for o in [
    Output("convergence", "figures", "convergence", "metrics.parquet",
           "Test accuracy per epoch, mean and sd over seeds", "Convergence",
           "The paper's convergence figure: ResNet50, CIFAR-10, density 0.05, 300 epochs."),
    Output("skip_comparison", "figures", "skip_comparison", "acc.json",
           "Test error against density, N2NSkip against ResSkip", "Accuracy",
           "Crosses: the paper's Figure 6, read off the figure (approximate)."),
    Output("heat_signature", "tables", "table3", "heat_distance.parquet", "F(t) against the dense network, per method",
           "Connectivity", "The paper reports F at saturation only (Table 3); every t is plotted here."),
    Output("heat_layers", "tables", "table3", "heat_layers.parquet", "Mean heat per layer at t_sat", "Connectivity",
           "No paper counterpart."),
    Output("scree", "tables", "table3", "scree.parquet", "Scree curves alpha(K, t_sat)", "Connectivity",
           "The paper's Figure 4."),
    Output("pruner_comparison", "tables", "pruners", "acc.json", "Accuracy of every pruner without and with N2NSkip",
           "Pruners", "No paper counterpart."),
    Output("layer_densities", "tables", "pruners", "acc.json", "Kept fraction of every layer, per method", "Pruners",
           "No paper counterpart."),
    Output("pruner_cost", "tables", "pruners", "acc.json", "Test accuracy against kept multiply-adds per image",
           "Pruners", "No paper counterpart: the cost of each network, skips included."),
]}

OUTPUTS: dict[str, Output] = {**TABLES, **FIGURES}

# the grids whose cells test the paper's claims (n2n.claims), by the name the claims stage knows them
CLAIM_GRIDS: dict[str, Output] = {"table1": TABLES["table1"], "convergence": FIGURES["convergence"],
                                  "table3": TABLES["table3"], "skip_comparison": FIGURES["skip_comparison"]}


# a cell's files, in the order the stages write them: results/{model}/{dataset}/{method}/{density}/seed{seed}/<file>
CELL_FILES: dict[str, str] = {
    "prune_mask.npz": "prune: masks of the sequential weights",
    "skip_mask.npz": "add_skips: masks with the skip connections (n2nskip-X, resskip-X)",
    "model.pt": "train: the trained network",
    "metrics.parquet": "train: loss and accuracy per epoch",
    "acc.json": "evaluate: test accuracy, density, cost and health",
    "adjacency.npz": "adjacency: the channel graph",
    "nodes.parquet": "adjacency: its nodes",
    "heat.parquet": "heat_signature: heat per node and t",
    "heat_distance.parquet": "heat_signature: F(t) against the dense network",
    "heat_layers.parquet": "heat_signature: mean heat per layer",
    "scree.parquet": "heat_signature: scree curves",
}
CELL_PATTERN = "<results_dir>/{model}/{dataset}/{method}/{density}/seed{seed}/<file>"


class UnknownTargetError(ValueError):
    """A requested file that no rule writes."""


def check_target(target: str, results_dir: str) -> None:
    """Refuse a path under the results folder that no rule writes (UNKNOWN_TARGET_REGEX: rules/unknown.smk
    asks only for those), naming what is wrong with it and what a cell's files are."""
    prefix = results_dir.rstrip("/") + "/"
    parts = target[len(prefix):].split("/")
    if len(parts) != 6:
        problem = f"a cell's file lies 6 folders below {results_dir}, this path {len(parts)}"
    elif not re.fullmatch(r"seed[0-9]+", parts[4]):
        problem = f"{parts[4]!r} is not a seed folder (seed0, seed1, ...)"
    else:
        problem = f"a cell has no file {parts[5]!r}"
    files = "\n".join(f"  {name:22} {what}" for name, what in CELL_FILES.items())
    pattern = CELL_PATTERN.replace("<results_dir>", results_dir.rstrip("/"))
    raise UnknownTargetError(f"no rule writes {target}: {problem}. A cell's files are {pattern}, where <file> "
                             f"is one of:\n{files}\ne.g. {prefix}vgg19/digits/n2nskip-rp/0.1/seed0/acc.json")


# paths under the results folder that no rule writes: neither a cell's file nor under tables/, figures/, logs/
UNKNOWN_TARGET_REGEX = (r"(?!(tables|figures|logs)/|[^/]+\.(yaml|html)$|"
                        r"[^/]+/[^/]+/[^/]+/[^/]+/seed[0-9]+/(" + "|".join(re.escape(f) for f in CELL_FILES) + r")$)"
                        r"[^/].*")
