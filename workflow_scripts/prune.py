"""Rule prune -> n2n.pruners.run_prune."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(
    "n2n.pruners:run_prune",
    sm.log[0],
    out_path=sm.output[0],
    model=sm.wildcards.model,
    dataset=sm.wildcards.dataset,
    method=sm.wildcards.pruner,
    density=float(sm.wildcards.density),
    seed=int(sm.wildcards.seed),
    width=sm.params.width,
    skips=sm.params.skips,
    data_root=sm.params.data_root,
    pruning=sm.params.pruning,
    device=sm.params.device,
    threads=sm.threads,
)
