"""Rule evaluate -> n2n.evaluation.run_evaluate."""
from n2n.evaluation import run_evaluate
from n2n.joblog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_evaluate(
        model_path=sm.input.model,
        mask_path=sm.input.masks,
        out_path=sm.output[0],
        dataset=sm.wildcards.dataset,
        data_root=sm.params.data_root,
        batch_size=sm.params.batch_size,
        device=sm.params.device,
        threads=sm.threads,
        precision=sm.params.precision,
    )
