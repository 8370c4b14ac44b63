"""Atomic output files: write to a temporary name in the same folder, then rename.

A job killed half-way leaves a `.tmp` file behind, never a truncated file under the
final name, so Snakemake and resumed jobs never mistake a partial output for a complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp" + final.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def read_cells(paths: list[str], keys: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    """One frame of cell files (acc.json: a row; parquet: its rows), each row with its cell's keys;
    an empty frame with `columns` when there are none."""
    import pandas as pd

    frames = [pd.DataFrame([{**read_json(path), **key}]) if str(path).endswith(".json")
              else pd.read_parquet(path).assign(**key) for path, key in zip(paths, keys)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def write_parquet(path: str | os.PathLike[str], frame: Any) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
