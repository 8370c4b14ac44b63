"""Rule table -> n2n.tables.run_table (table1, table2: acc.json; table3: heat_distance.parquet)."""
from n2n.joblog import job_logging
from n2n.tables import run_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_table(sm.wildcards.table, list(sm.input), sm.params.cells, sm.output.parquet, sm.output.markdown,
              t_sat=sm.params.t_sat)
