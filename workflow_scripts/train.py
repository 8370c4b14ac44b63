"""Rule train -> n2n.training.run_train."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(
    "n2n.training:run_train",
    sm.log[0],
    mask_path=sm.input.masks,
    model_path=sm.output.model,
    metrics_path=sm.output.metrics,
    checkpoint_path=sm.params.checkpoint,
    dataset=sm.wildcards.dataset,
    data_root=sm.params.data_root,
    recipe=sm.params.recipe,
    device=sm.params.device,
    threads=sm.threads,
    processes=sm.params.processes,
)
