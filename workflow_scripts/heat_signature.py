"""Rule heat_signature -> n2n.heat.run_heat_signature."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(
    "n2n.heat:run_heat_signature",
    sm.log[0],
    adjacency_path=sm.input.adjacency,
    nodes_path=sm.input.nodes,
    heat_path=sm.output.heat,
    distance_path=sm.output.distance,
    layers_path=sm.output.layers,
    scree_path=sm.output.scree,
    reference_heat_path=sm.input.reference or None,
    connectivity=sm.params.connectivity,
)
