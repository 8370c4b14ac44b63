"""Rule add_skips -> n2n.skips.run_add_skips."""
from n2n.joblog import job_logging
from n2n.skips import run_add_skips

with job_logging(snakemake.log[0]):  # noqa: F821 (injected by Snakemake)
    run_add_skips(prune_mask_path=snakemake.input[0], out_path=snakemake.output[0])  # noqa: F821
