# Snakemake's own threads and CPU stay flat as jobs finish: one pending scheduler wake-up at a time, on a
# daemon thread (n2n/scheduling.py says why). Read first, so every command that reads the Snakefile gets it.
from snakemake.logging import logger as _logger
from snakemake.scheduling.job_scheduler import JobScheduler as _JobScheduler

from n2n.scheduling import coalesce_reevaluations

if not coalesce_reevaluations(_JobScheduler):
    _logger.warning("n2n: this Snakemake's scheduler has no _schedule_reevalutation; its wake-ups are left as "
                    "they are (threads may grow with finished jobs: benchmarks/scheduler_scaling.py measures it)")
