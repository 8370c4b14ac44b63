"""Rule adjacency -> n2n.connectivity.run_adjacency."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.connectivity:run_adjacency", sm.log[0], model_path=sm.input[0], adjacency_path=sm.output.adjacency,
          nodes_path=sm.output.nodes, weighting=sm.params.weighting)
