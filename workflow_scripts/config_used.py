"""Rule config_used -> n2n.config.write_config (the configuration of this run, for the report)."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.config:write_config", sm.log[0], config=sm.params.config, path=sm.output[0])
