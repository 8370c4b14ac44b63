# N2NSkip pipeline: prune -> add_skips -> train -> evaluate -> adjacency -> heat_signature -> aggregate.
# Targets: all_tables (default), table1, table2, table3, figure_convergence, figure_skip_comparison,
# figure_heat_signature, download_data, or any per-cell file such as
#   results/vgg19/cifar10/n2nskip-rp/0.02/seed3/acc.json
from snakemake.utils import min_version

min_version("8.0")


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
