# N2NSkip pipeline: prune -> add_skips -> train -> evaluate -> adjacency -> heat_signature -> aggregate.
# Targets (generated from the rules and n2n.outputs: python -m n2n docs), or any per-cell file such as
#   results/vgg19/cifar10/n2nskip-rp/0.02/seed3/acc.json
# BEGIN generated targets
#   all_tables: every table and figure and the claims (the default target)
#   claims: the paper's claims, tested: tables/claims.md and .parquet
#   config_used: the config the run used
#   download_data: every data set with a downloader
#   table1: Table 1: test accuracy (%)
#   table2: Table 2: top-1 test accuracy (%)
#   table3: Table 3: connectivity distance F to the dense reference
#   table_pruners: Pruners with and without N2NSkip: test accuracy (%)
#   figure_convergence: Test accuracy per epoch, mean and sd over seeds
#   figure_skip_comparison: Test error against density, N2NSkip against ResSkip
#   figure_heat_signature: F(t) against the dense network, per method
#   figure_heat_layers: Mean heat per layer at t_sat
#   figure_scree: Scree curves alpha(K, t_sat)
#   figure_pruner_comparison: Accuracy of every pruner without and with N2NSkip
#   figure_layer_densities: Kept fraction of every layer, per method
#   figure_pruner_cost: Test accuracy against kept multiply-adds per image
# END generated targets
from snakemake.utils import min_version

min_version("9.10")  # pyproject.toml's range: rules/scheduler.smk is tested on it


configfile: "config.yaml"


include: "rules/scheduler.smk"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/aggregate.smk"
include: "rules/prune.smk"
include: "rules/train.smk"
include: "rules/connectivity.smk"
include: "rules/data.smk"
include: "rules/unknown.smk"
