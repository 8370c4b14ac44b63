# Snakemake's own threads stay flat as jobs finish: one pending scheduler wake-up at a time, on a daemon
# thread (n2n/scheduling.py says why). Read first, so every command that reads the Snakefile gets it; only the
# main Snakemake process schedules, so a job's own Snakemake process (a cluster job, a group) is left as it is.
# A Snakemake the patch was not written for is left unpatched with one warning, never a failed load.
import n2n.scheduling
from snakemake.logging import logger as _logger

if getattr(workflow, "is_main_process", True):
    n2n.scheduling.patch_snakemake(_logger.warning)
