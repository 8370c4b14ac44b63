"""Rule heat_signature -> n2n.heat.run_heat_signature."""
from n2n.heat import run_heat_signature
from n2n.joblog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_heat_signature(
        adjacency_path=sm.input.adjacency,
        nodes_path=sm.input.nodes,
        heat_path=sm.output.heat,
        distance_path=sm.output.distance,
        layers_path=sm.output.layers,
        scree_path=sm.output.scree,
        reference_heat_path=sm.input.reference or None,
        connectivity=sm.params.connectivity,
    )
