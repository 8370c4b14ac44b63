"""Rule figure -> n2n.plots.run_figure."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.plots:run_figure", sm.log[0], name=sm.wildcards.figure, inputs=list(sm.input), keys=sm.params.cells,
          png_path=sm.output.png, pdf_path=sm.output.pdf, t_sat=sm.params.t_sat)
