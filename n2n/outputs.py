"""The pipeline's tables and figures: which grid and which cell file each reads, its title, where the
HTML report files it, and its counterpart in the paper. Free of heavy imports (the Snakefile reads it)."""

from __future__ import annotations

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
    Output("table2", "tables", "table2", "acc.json", "Table 2: ImageNet top-1 accuracy (%)", "Accuracy",
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
