"""Rule adjacency -> n2n.connectivity.run_adjacency."""
from n2n.connectivity import run_adjacency
from n2n.joblog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_adjacency(sm.input[0], sm.output.adjacency, sm.output.nodes, sm.params.weighting)
