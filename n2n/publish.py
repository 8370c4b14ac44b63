"""Results published in the README and docs/: blocks between markers regenerated from a run's tables,
each opening with where its numbers came from (commit, CPU model and cores, date), so that a page is
refreshed from a new run in one step (`make publish-demo` after `make demo`).

A block is marked in a page as

    <!-- BEGIN results/demo table1 -->
    ...
    <!-- END results/demo table1 -->

and holds the table of `results/demo/tables/table1.md` (its Markdown table alone); `claims` holds the
claims' numbered lines, `claims-rows` their row-by-row table, `cells` every cell's test accuracy per
seed (its acc.json files, unhealthy seeds with their reasons). Blocks of other results folders are left
as they are.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
from pathlib import Path

from n2n.io import write_text

MARKER = re.compile(r"(<!-- BEGIN (\S+) (\S+) -->\n)(.*?)(<!-- END \2 \3 -->)", flags=re.S)


def machine() -> str:
    """'AMD EPYC 7B13, 2 cores': the CPU model and the cores this process may use."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def commit(root: Path) -> str:
    """The checkout's commit, with '+ changes' where its tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return head + (" + changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def provenance(root: Path, results: Path) -> str:
    """Where a block's numbers came from: the results folder (relative to `root`), commit, machine and date."""
    when = datetime.datetime.fromtimestamp((root / results / "tables").stat().st_mtime).date().isoformat()
    return f"*From `{results.as_posix()}`: commit {commit(root)}, {machine()}, {when}.*"


def table_part(markdown: str) -> str:
    """The Markdown table of a table's page (its first run of `|` lines)."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise ValueError("no Markdown table in it")
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def claims_lines(markdown: str) -> str:
    """The claims page's numbered lines, one per claim."""
    return "\n".join(line for line in markdown.splitlines() if re.match(r"\d+\. ", line))


def cells_table(results: Path) -> str:
    """Every cell of a run, its test accuracy per seed, an unhealthy seed's reasons beside it."""
    import json

    from n2n.health import unhealthy_reasons

    rows: dict[tuple[str, str, str], list[str]] = {}
    for path in sorted(results.glob("*/*/*/*/seed*/acc.json"), key=lambda p: (p.parts[-6:-2], int(p.parts[-2][4:]))):
        cell = json.loads(path.read_text())
        reasons = unhealthy_reasons(cell)
        rows.setdefault((cell["model"], cell["method"], path.parts[-3]), []).append(
            f"s{cell['seed']} {cell['test_accuracy']:.2f}" + (f" ({', '.join(reasons)})" if reasons else ""))
    if not rows:
        raise FileNotFoundError(f"no cell of {results} has an acc.json (run the workflow first)")
    return "\n".join(["| model | method | density | test accuracy per seed (%) |", "|---|---|---|---|",
                      *(f"| {m} | {method} | {d} | {'; '.join(seeds)} |" for (m, method, d), seeds in rows.items())])


def block_text(root: Path, results: Path, name: str) -> str:
    tables = root / results / "tables"
    if name == "cells":
        body = cells_table(root / results)
    elif name == "claims":
        body = claims_lines((tables / "claims.md").read_text())
    elif name == "claims-rows":
        body = table_part((tables / "claims.md").read_text().split("row by row", 1)[1])
    else:
        path = tables / f"{name}.md"
        if not path.exists():
            raise FileNotFoundError(f"a block names {name!r}, but {path} does not exist (run the workflow first, "
                                    "or name one of its tables, claims, claims-rows or cells)")
        body = table_part(path.read_text())
    return f"{provenance(root, results)}\n\n{body}\n"


def publish(pages: list[str], results: str, root: str = ".") -> list[str]:
    """Regenerate every block of `results` in `pages` from its tables; the pages changed."""
    root_path, changed = Path(root), []
    for page in pages:
        text = Path(page).read_text()

        def replace(match: re.Match) -> str:
            if match.group(2) != results:
                return match.group(0)
            return match.group(1) + block_text(root_path, Path(results), match.group(3)) + match.group(5)

        new = MARKER.sub(replace, text)
        if new != text:
            write_text(page, new)
            changed.append(page)
    return changed
