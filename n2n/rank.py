"""One rank of a data-parallel training, started by `n2n.distributed.run_ranks`.

As a fresh interpreter (`python -m n2n.rank SPEC RANK`, how ranks start on CUDA) or forked. The
stop flag is installed before anything slow is imported, so SLURM's SIGUSR1 never kills a rank
that is still starting; a rank whose parent dies is killed with it (Linux).
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import os
import signal
import sys

from n2n.stop import install_stop_handler

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)


def run_rank(spec_path: str, rank: int) -> None:
    """Run the rank's share of the call in `spec_path` (written by run_ranks); exit 75 when it stopped to resume."""
    install_stop_handler()
    _die_with_parent()
    with open(spec_path) as fh:
        spec = json.load(fh)
    from n2n.joblog import add_log_file

    root = logging.getLogger()
    for inherited in list(root.handlers):  # a forked rank holds its parent's handlers
        root.removeHandler(inherited)
    for path in spec["log_files"]:  # rank 0 logs everything; the others their warnings and errors
        handler = add_log_file(path, mode="a")
        if rank:
            handler.setLevel(logging.WARNING)
            handler.setFormatter(logging.Formatter(f"%(asctime)s %(name)s %(levelname)s rank {rank}: %(message)s"))
    module, name = spec["target"].split(":")
    function = getattr(importlib.import_module(module), name)
    try:
        function(rank=rank, world=spec["world"], rendezvous=spec["rendezvous"], **spec["kwargs"])
    except SystemExit:
        raise
    except BaseException as err:
        log.exception("rank %d failed: %s", rank, err)
        print(f"error: rank {rank}: {type(err).__name__}: {err}", file=sys.stderr)
        raise


if __name__ == "__main__":
    try:
        run_rank(sys.argv[1], int(sys.argv[2]))
    except SystemExit:
        raise
    except BaseException:
        sys.exit(1)  # the traceback is in the job's log
