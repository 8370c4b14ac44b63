"""Rule train -> n2n.training.run_train."""
from n2n.joblog import job_logging
from n2n.training import run_train

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_train(
        mask_path=sm.input.masks,
        model_path=sm.output.model,
        metrics_path=sm.output.metrics,
        checkpoint_path=sm.params.checkpoint,
        dataset=sm.wildcards.dataset,
        data_root=sm.params.data_root,
        recipe=sm.params.recipe,
        device=sm.params.device,
        threads=sm.threads,
    )
