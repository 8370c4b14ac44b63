"""Results published in the README and docs/: blocks between markers regenerated from a run's tables,
each opening with where its numbers came from (commit, CPU model and cores, date), so that a page is
refreshed from a new run in one step (`make publish-demo` after `make demo`).

A block is marked in a page as

    <!-- BEGIN results/demo table1 -->
    ...
    <!-- END results/demo table1 -->

and holds the table of `results/demo/tables/table1.md` (its Markdown table alone); `claims` holds the
premises' and claims' numbered lines, `claims-rows` their row-by-row table, `cells` every cell's test
accuracy per seed (its acc.json files, unhealthy seeds with their reasons), `run` what the run cost
(its run.json: wall time, jobs, the machine's matmul rate, seconds per training; n2n.runrecord), and a
study's `left-out` what it left out for time, priced at that record.
Blocks of other results folders are left as they are.

A study's folder in the repository (`studies/sparse`, say) holds its cells file (n2n.cells): its blocks
(`<!-- BEGIN studies/sparse claims -->`, `claims-rows`, `cells`) are recomputed from that file alone, with
the commit, CPU and date of the run that made it, so that a reader can check every verdict from the
repository and no page can drift from it.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from n2n.io import write_text
from n2n.provenance import commit, machine

MARKER = re.compile(r"(<!-- BEGIN (\S+) (\S+) -->\n)(.*?)(<!-- END \2 \3 -->)", flags=re.S)


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
    """The claims page's numbered lines, one per premise and claim."""
    return "\n".join(line for line in markdown.splitlines() if re.match(r"P?\d+\. ", line))


def per_seed_table(cells: list[tuple[str, dict[str, Any]]]) -> str:
    """(density as written, acc.json row) in order -> one line per (model, method, density): each seed's test
    accuracy, an unhealthy seed's reasons beside it."""
    from n2n.health import unhealthy_reasons

    rows: dict[tuple[str, str, str], list[str]] = {}
    for density, cell in cells:
        reasons = unhealthy_reasons(cell)
        rows.setdefault((cell["model"], cell["method"], density), []).append(
            f"s{cell['seed']} {cell['test_accuracy']:.2f}" + (f" ({', '.join(reasons)})" if reasons else ""))
    return "\n".join(["| model | method | density | test accuracy per seed (%) |", "|---|---|---|---|",
                      *(f"| {m} | {method} | {d} | {'; '.join(seeds)} |" for (m, method, d), seeds in rows.items())])


def cells_table(results: Path) -> str:
    """Every cell of a run (its acc.json files), its test accuracy per seed."""
    import json

    paths = sorted(results.glob("*/*/*/*/seed*/acc.json"), key=lambda p: (p.parts[-6:-2], int(p.parts[-2][4:])))
    if not paths:
        raise FileNotFoundError(f"no cell of {results} has an acc.json (run the workflow first)")
    return per_seed_table([(path.parts[-3], json.loads(path.read_text())) for path in paths])


def study_cells_table(cells: Any) -> str:
    """A cells file's cells, as cells_table gives a run's."""
    records = cells.sort_values(["model", "method", "density", "seed"]).to_dict("records")
    return per_seed_table([(repr(float(cell["density"])), cell) for cell in records])


def study_block_text(folder: Path, shown: Path, name: str) -> str:
    """A block of a study's folder: from its cells file and the claims recomputed from it, or a page a
    script of the repository generated there (`<name>.md`, the premise table, say), as it is."""
    from n2n.claims_report import claims_markdown, claims_from_cells
    from n2n.io import read_parquet

    if name == "run":
        from n2n.runrecord import read_record, run_block

        return run_block(read_record(folder), shown.as_posix())
    if name == "left-out":
        import yaml

        from n2n.runrecord import left_out_block, read_record

        spec = yaml.safe_load((folder / "left_out.yaml").read_text())
        return left_out_block(read_record(folder), spec, shown.as_posix())
    if name not in ("claims", "claims-rows", "cells"):
        page = folder / f"{name}.md"
        if not page.exists():
            raise FileNotFoundError(f"a block names {name!r} of {shown}, but {page} does not exist")
        return page.read_text()

    cells = read_parquet(folder / "cells.parquet")
    first = cells.iloc[0] if len(cells) else {}
    header = (f"*From `{shown.as_posix()}/cells.parquet`: the run of commit {first.get('commit', '?')}, "
              f"{first.get('cpu', '?')}, {first.get('date', '?')}.*")
    if name == "cells":
        return f"{header}\n\n{study_cells_table(cells)}\n"
    table, health_options = claims_from_cells(cells)
    markdown = claims_markdown(table, health_options, cells.attrs.get("waiting", {}))
    if name == "claims":
        return f"{header}\n\n{claims_lines(markdown)}\n"
    if name == "claims-rows":
        return f"{header}\n\n{table_part(markdown.split('row by row', 1)[1])}\n"


def block_text(root: Path, results: Path, name: str) -> str:
    if results.parts[0] in ("studies", "benchmarks"):
        return study_block_text(root / results, results, name)
    tables = root / results / "tables"
    if name == "run":
        from n2n.runrecord import read_record, run_block

        return run_block(read_record(root / results), results.as_posix())
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
