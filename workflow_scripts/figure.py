"""Rule figure -> n2n.plots.run_figure."""
from n2n.joblog import job_logging
from n2n.plots import run_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    run_figure(sm.wildcards.figure, list(sm.input), sm.params.cells, sm.output.png, sm.output.pdf,
               t_sat=sm.params.t_sat)
