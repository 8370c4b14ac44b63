"""Every output and checkpoint is written here, atomically: to a temporary name in the same folder,
then renamed. A job killed half-way leaves a temporary file, never a truncated file under the final
name, so Snakemake and resumed jobs never mistake a partial output for a complete one.

Temporary files of a writer that died (SIGKILL, a preempted node) are removed by the next write of the
same file: a folder never holds more than one per output being written. A write that fails (no space,
quota, read-only filesystem, permission) raises WriteError: one line naming the file, the error in
words, the filesystem's free space and what the write needed; the previous version stays as it was.
Inputs that cannot be read raise UnreadableInputError naming the file and how to rebuild it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)
TEMPORARY = ".tmp"  # temporary files are .<name>.<random>.tmp<suffix>


class WriteError(OSError):
    """An output or checkpoint could not be written; the message is one line."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.errno = code

    def __str__(self) -> str:
        return str(self.args[0])


# What a stage says of a fault, one template each: the fault tables of README.md and docs/reliability.md are
# generated from them (n2n.docgen)
WRITE_FAILED = "could not write {file}: {error} ({space}{need}){kept}"
UNREADABLE = "{file} is not a readable {kind} ({error}); delete it, and the workflow rebuilds it"


class UnreadableInputError(ValueError):
    """An input file exists but cannot be read (truncated, empty, foreign)."""


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def free_bytes(folder: Path) -> int | None:
    """Free space of the filesystem holding `folder` (its nearest existing parent); None if unknown."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def temporaries(final: Path) -> list[Path]:
    """The temporary files of writes of `final` (a dead writer's, or one in progress)."""
    return [Path(p) for p in glob.glob(str(final.parent / f".{glob.escape(final.name)}.*{TEMPORARY}{final.suffix}"))]


def _needed(final: Path, tmp: Path | None, size: int = 0) -> int:
    """What a write of `final` needs at least: its expected size, what it had written, the previous version's."""
    sizes = [p.stat().st_size for p in (tmp, final) if p is not None and p.exists()]
    return max([size, *sizes])


def write_error(final: Path, err: OSError, tmp: Path | None = None, size: int = 0) -> WriteError:
    """One line: the file, the error in words, the free space and what the write needed."""
    words = os.strerror(err.errno).lower() if err.errno else str(err)
    free = free_bytes(final.parent)
    space = "free space unknown" if free is None else f"{_size(free)} free on its filesystem"
    needed = _needed(final, tmp, size)
    need = f", the write needs about {_size(needed)}" if needed else ""
    kept = "; the previous version is unchanged" if final.exists() else ""
    return WriteError(err.errno, WRITE_FAILED.format(file=final, error=words, space=space, need=need, kept=kept))


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in a (nested) state: about what torch.save writes."""
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):
        return int(obj.element_size() * obj.nelement())
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def _looks_full(final: Path, tmp: Path | None, size: int) -> bool:
    """An error of a library's own (torch's zip writer, pyarrow) that a full filesystem explains."""
    free = free_bytes(final.parent)
    return free is not None and free <= max(_needed(final, tmp, size), 64 * 1024)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], size: int = 0) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds. `size`: about how
    many bytes the block writes, said when the write fails."""
    final = Path(path)
    tmp: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in temporaries(final):  # a dead writer's
            stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=TEMPORARY + final.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
    except OSError as err:
        raise write_error(final, err, size=size) from None
    try:
        yield tmp
        _kill_here_for_tests(final)
        os.replace(tmp, final)
    except WriteError:
        raise
    except OSError as err:
        raise write_error(final, err, tmp, size) from None
    except Exception as err:
        if _looks_full(final, tmp, size):
            raise write_error(final, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), tmp, size) from err
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


# a test's SIGKILL in the middle of a write: the temporary file written, the rename not yet done
KILL_IN_WRITE_ENV = "N2N_TEST_KILL_IN_WRITE"


def _kill_here_for_tests(final: Path) -> None:
    name = os.environ.get(KILL_IN_WRITE_ENV)
    if name and final.name == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a record file (kept across attempts, so not replaced atomically)."""
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(final, "a") as fh:
            fh.write(line + "\n")
    except OSError as err:
        raise write_error(final, err, size=len(line) + 1) from None


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def unreadable(path: str | os.PathLike[str], kind: str, err: Exception) -> UnreadableInputError:
    return UnreadableInputError(UNREADABLE.format(file=path, kind=kind, error=f"{type(err).__name__}: {err}"))


def read_json(path: str | os.PathLike[str]) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as err:
        raise unreadable(path, "JSON file", err) from None


def read_parquet(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(path, **kwargs)
    except FileNotFoundError:
        raise
    except Exception as err:  # pyarrow's ArrowInvalid and friends: an empty or cut file
        raise unreadable(path, "parquet file", err) from None


def read_cells(paths: list[str], keys: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    """One frame of cell files (acc.json: a row; parquet: its rows), each row with its cell's keys;
    an empty frame with `columns` when there are none."""
    import pandas as pd

    frames = [pd.DataFrame([{**read_json(path), **key}]) if str(path).endswith(".json")
              else read_parquet(path).assign(**key) for path, key in zip(paths, keys)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def write_parquet(path: str | os.PathLike[str], frame: Any) -> None:
    with atomic_path(path, int(frame.memory_usage(deep=True).sum())) as tmp:  # parquet compresses: at most this
        frame.to_parquet(tmp, index=False)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    data = text.encode()
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)
