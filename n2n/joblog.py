"""Logging for one workflow job: everything the stage logs, and any traceback, goes to its log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from n2n.stop import RESUMABLE_EXIT_CODE, StopRequested


def add_log_file(path: str, mode: str = "w") -> logging.Handler:
    """Send every INFO-and-above record of this process to `path` (also by the rank-0 process of a data-parallel training)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode=mode)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def history_path(path: str) -> Path:
    """Where a job's log is kept across its attempts (Snakemake deletes a job's log before each one)."""
    return Path(path).with_name(f".{Path(path).name}.attempts")


@contextlib.contextmanager
def job_logging(path: str) -> Iterator[logging.Logger]:
    """The stage's log. It starts with the lines of the job's earlier failed or stopped attempts (a
    retry, a training resumed in a new allocation), kept in a hidden file beside it that is written
    as the log is, so a killed attempt's lines survive too; the file goes once the stage succeeds."""
    history = history_path(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(history.read_text() if history.exists() else "")
    handlers = [add_log_file(path, mode="a"), add_log_file(str(history), mode="a")]
    root = logging.getLogger()
    if "SLURM_JOB_ID" in os.environ:  # which cluster job ran this stage
        root.info("SLURM job %s on %s", os.environ["SLURM_JOB_ID"], os.uname().nodename)
    else:
        root.info("job on %s, pid %d", os.uname().nodename, os.getpid())
    try:
        yield root
        history.unlink(missing_ok=True)
    except StopRequested:
        root.warning("stopped to resume (exit %d): the checkpoint is current, the next attempt continues from it",
                     RESUMABLE_EXIT_CODE)
        print(f"stopped to resume (log: {path})", file=sys.stderr)
        raise
    except BaseException as err:
        root.exception("stage failed: %s", err)
        print(f"error: {err} (log: {path})", file=sys.stderr)
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
