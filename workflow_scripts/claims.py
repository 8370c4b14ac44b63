"""Rule claims -> n2n.claims_report.run_claims."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(
    "n2n.claims_report:run_claims",
    sm.log[0],
    inputs={name: list(sm.input[name]) for name in sm.params.cells},
    keys=sm.params.cells,
    cells_path=sm.output.cells,
    parquet_path=sm.output.parquet,
    markdown_path=sm.output.markdown,
    t_sat=sm.params.t_sat,
    options=sm.params.options,
    health=sm.params.health,
)
