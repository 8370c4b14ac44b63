"""Rule heat_signature -> n2n.heat.run_heat_signature."""
from n2n.heat import run_heat_signature
from n2n.joblog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
conn = sm.params.connectivity
with job_logging(sm.log[0]):
    run_heat_signature(
        adjacency_path=sm.input.adjacency,
        nodes_path=sm.input.nodes,
        heat_path=sm.output.heat,
        distance_path=sm.output.distance,
        reference_heat_path=sm.input.reference or None,
        t_min=conn["t_min"],
        t_max=conn["t_max"],
        t_points=conn["t_points"],
        t_sat=conn["t_sat"],
        kind=conn["laplacian"],
        tol=conn["tol"],
    )
