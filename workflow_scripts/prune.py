"""Rule prune -> n2n.pruners.run_prune."""
from n2n.joblog import job_logging
from n2n.pruners import run_prune

wc = snakemake.wildcards  # noqa: F821 (injected by Snakemake)
with job_logging(snakemake.log[0]):  # noqa: F821
    run_prune(
        out_path=snakemake.output[0],  # noqa: F821
        model=wc.model,
        dataset=wc.dataset,
        method=wc.pruner,
        density=float(wc.density),
        seed=int(wc.seed),
        width=snakemake.params.width,  # noqa: F821
        skips=snakemake.params.skips,  # noqa: F821
        data_root=snakemake.params.data_root,  # noqa: F821
        options=snakemake.params.options,  # noqa: F821
        device=snakemake.params.device,  # noqa: F821
        threads=snakemake.threads,  # noqa: F821
    )
