"""Rule add_skips -> n2n.skips.run_add_skips."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.skips:run_add_skips", sm.log[0], prune_mask_path=sm.input[0], out_path=sm.output[0])
