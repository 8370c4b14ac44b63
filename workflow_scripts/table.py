"""Rule table -> n2n.tables.run_table (table1, table2: acc.json; table3: heat_distance.parquet)."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.tables:run_table", sm.log[0], name=sm.wildcards.table, inputs=list(sm.input), keys=sm.params.cells,
          parquet_path=sm.output.parquet, markdown_path=sm.output.markdown, t_sat=sm.params.t_sat,
          health=sm.params.health)
