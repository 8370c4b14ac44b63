"""Rule evaluate -> n2n.evaluation.run_evaluate."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(
    "n2n.evaluation:run_evaluate",
    sm.log[0],
    model_path=sm.input.model,
    mask_path=sm.input.masks,
    metrics_path=sm.input.metrics,
    out_path=sm.output[0],
    dataset=sm.wildcards.dataset,
    data_root=sm.params.data_root,
    batch_size=sm.params.batch_size,
    device=sm.params.device,
    threads=sm.threads,
    precision=sm.params.precision,
)
