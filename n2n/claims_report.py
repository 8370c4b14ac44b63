"""The claims stage and its page: the cells file (n2n.cells), the premises' and claims' rows (n2n.claims) and
lines (n2n.claim_lines), written as `cells.parquet`, `claims.parquet` and the Markdown page `claims.md`.

The stage writes the cells file first and computes the claims from it, so that `python -m n2n claims --cells
studies/<study>/cells.parquet` gives the same page from the repository alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from n2n.cells import GRIDS, cells_frame, claim_frames, run_facts
from n2n.claim_lines import bounds, claims_table, summary
from n2n.claims import FAMILIES, HEALTH_MARK, NOT_RUN, PREMISE_STATUS, PREMISES, VERDICTS, ClaimOptions
from n2n.health import HealthOptions
from n2n.io import read_cells, read_parquet, write_parquet, write_text


def _number(v: Any, fmt: str) -> str:
    return "" if pd.isna(v) else f"{v:{fmt}}"


def _text(v: Any) -> str:
    return "" if pd.isna(v) else str(v)


def verdict_text(verdict: str, premise: Any, verdict_all: Any = None) -> str:
    """'**contradicted** · premise not met': the verdict with its premise's status, and the all-pairs verdict
    where it differs."""
    changed = isinstance(verdict_all, str) and verdict_all and verdict_all != verdict
    return (f"**{verdict}**" + (f" · premise {premise}" if isinstance(premise, str) and premise else "")
            + (f" {HEALTH_MARK} (all pairs: {verdict_all})" if changed else ""))


def seeds_sentence(seeds: list[int], options: ClaimOptions) -> str:
    """Which seeds the claims use, and which chose the study's regime (claims.regime_seeds)."""
    used = ", ".join(map(str, seeds)) or "none"
    if options.regime_seeds:
        return (f"Seeds: the claims use seeds {used}; the regime was chosen on seeds "
                f"{', '.join(map(str, options.regime_seeds))} (`claims.regime_seeds`), which no claim uses.")
    return (f"Seeds: the claims use seeds {used}; the config names no seeds that chose the regime "
            "(`claims.regime_seeds`).")


def summary_markdown(table: pd.DataFrame, waiting: dict[str, str] | None = None, seeds: str = "") -> str:
    """The one-line-each section. `waiting`: claim -> why a claim without cells waits (a recovered cells file
    that holds accuracies only, say), said instead of "no cells in this run"."""
    out = ["## The premises and the claims, in one line each", "",
           "The premises first: claim 1 rests on P1 in its cells, claim 2 on P2, claim 5 on P3, and a claim's verdict "
           "carries its premise's status. Each line pools its reliable rows at the seed level (a seed's differences "
           "averaged over the rows, the test over seeds) and is the claim's one decision, within its family: "
           f"{', '.join(FAMILIES.values())}, each Holm-corrected over its lines (zero), its readings against the "
           "reference from intervals at Bonferroni's level within the family (simultaneous). The recovery claims "
           "(1, 2, 5) are read against the paper's share of the loss recovered, times this run's loss, per seed. "
           f"Claims 6-8 are controls from later work, not the paper's. {HEALTH_MARK}: the verdict over all pairs, "
           "unhealthy seeds included, differs.", ""]
    if seeds:
        out += [seeds, ""]
    lines = summary(table)
    for r in lines.itertuples():
        text = (waiting or {}).get(r.claim, r.text) if r.verdict == NOT_RUN else r.text
        out.append(f"{r.claim}. {r.statement}: {verdict_text(r.verdict, r.premise)}"
                   f"{f' {HEALTH_MARK}' if r.health_changes_verdict else ''}. {text}.")
        if r.claim == list(PREMISES)[-1]:
            out.append("")
    return "\n".join(out) + "\n"


def _share(r: Any) -> str:
    if pd.isna(r.share):
        return ""
    return f"{r.share:.2f} {bounds(r.share_low, r.share_high)} (paper {r.paper_share:.2f})"


def claims_markdown(table: pd.DataFrame, health_options: HealthOptions = HealthOptions(),
                    waiting: dict[str, str] | None = None, seeds: str = "") -> str:
    from n2n.health import legend

    lines = [summary_markdown(table, waiting, seeds), "## The premises and the claims, row by row", "",
             f"Each row is an estimate of one cell, shown at its line's levels; the line decides. Pairs: seeds "
             f"healthy in every method the row reads ({legend(health_options)}); excluded: seeds left out and why. "
             "Difference over the pairs and its 95 % interval (Student's t), the test (paired t; an exact sign test "
             "where the spread is zero) and its p, the line's Holm level and the row's interval there (zero); the "
             "reference (the paper's, in the row's units, on the row's data set where the paper has it, else on "
             "CIFAR-10; for a recovery claim the paper's share times this run's loss; else the config's smallest "
             "effect of interest: the source says which) and the row's difference less it, at the line's "
             "Bonferroni level; a recovery row's share of the run's loss recovered (Fieller), against the paper's; "
             "the reading at those levels. All pairs: the reading with unhealthy seeds kept.", "",
             "Verdicts: " + "; ".join(f"*{v}*: {text}" for v, text in VERDICTS.items()) + ".", "",
             "Premise: " + "; ".join(f"*{v}*: {text}" for v, text in PREMISE_STATUS.items()) + ".", "",
             "| claim | model | data | density | comparison | statistic | pairs | excluded | difference | 95% CI | "
             "test | p | Holm level | interval there | reference | less reference, Bonferroni level | "
             "share recovered | reading |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        ci = f"[{_number(r.ci_low, '.2f')}, {_number(r.ci_high, '.2f')}]" if pd.notna(r.ci_low) else ""
        at = f"[{_number(r.decision_low, '.2f')}, {_number(r.decision_high, '.2f')}]" if pd.notna(r.decision_low) \
            else ""
        versus = (f"[{_number(r.versus_low, '.2f')}, {_number(r.versus_high, '.2f')}] at {_number(r.level_equivalence, '.3g')}"
                  if pd.notna(r.versus_low) else "")
        reference = f"{_number(r.reference_effect, '+.2f')} ({r.reference_source})" if pd.notna(r.reference_effect) \
            else ""
        excluded = f"{r.n_excluded} ({r.excluded})" if r.n_excluded else "0"
        lines.append(f"| {r.claim} | {_text(r.model)} | {_text(r.dataset)} | {_number(r.density, 'g')} | "
                     f"{_text(r.comparison)} | {_text(r.statistic)} | {r.n_pairs} | {excluded} | "
                     f"{_number(r.difference, '+.2f')} | {ci} | {_text(r.test)} | {_number(r.p_value, '.2g')} | "
                     f"{_number(r.level, '.3g')} | {at} | {reference} | {versus} | {_share(r)} | "
                     f"{verdict_text(r.verdict, r.premise, r.verdict_all)} |")
    return "\n".join(lines) + "\n"


def claims_from_cells(cells: pd.DataFrame) -> tuple[pd.DataFrame, HealthOptions]:
    """Every premise's and claim's rows from a cells file, with the settings its attrs carry."""
    frames = claim_frames(cells)
    health_options = HealthOptions(**cells.attrs.get("health", {}))
    table = claims_table(frames["table1"], frames["convergence"], frames["table3"], frames["skip_comparison"],
                         float(cells.attrs.get("t_sat", 1.0)), ClaimOptions(**cells.attrs.get("claims", {})),
                         frames["health"], health_options)
    return table, health_options


def claims_page(cells: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(the rows, claims.md's text) from a cells file alone."""
    table, health_options = claims_from_cells(cells)
    seeds = seeds_sentence(sorted(int(s) for s in cells["seed"].unique()) if "seed" in cells else [],
                           ClaimOptions(**cells.attrs.get("claims", {})))
    return table, claims_markdown(table, health_options, cells.attrs.get("waiting", {}), seeds)


def write_claims(cells: pd.DataFrame, parquet_path: str | Path, markdown_path: str | Path) -> pd.DataFrame:
    table, text = claims_page(cells)
    write_parquet(parquet_path, table)
    write_text(markdown_path, text)
    return table


def run_claims(inputs: dict[str, list[str]], keys: dict[str, list[dict[str, Any]]], cells_path: str,
               parquet_path: str, markdown_path: str, t_sat: float, options: dict[str, Any] | None = None,
               health: dict[str, Any] | None = None) -> pd.DataFrame:
    """The claims stage: `inputs` and `keys` by grid (table1, convergence, table3, skip_comparison), and
    `health`: the acc.json of every cell of those grids (n2n.health). Writes the cells file, then the claims
    computed from it."""
    columns = ["model", "dataset", "method", "density", "seed", "test_accuracy", "epoch", "t", "F"]
    frames = {name: read_cells(inputs[name], keys[name], columns) for name in (*GRIDS, "health")}
    options = options or {}
    cells = cells_frame(frames, t_sat, ClaimOptions(**options).early_epoch, run_facts(),
                        {"claims": dict(options), "health": dict(health or {})})
    write_parquet(cells_path, cells)
    return write_claims(read_parquet(cells_path), parquet_path, markdown_path)


def claims_command(cells_path: str, out: str | None = None) -> list[Path]:
    """`python -m n2n claims --cells F`: claims.md and claims.parquet beside F (or in `out`)."""
    folder = Path(out) if out else Path(cells_path).parent
    written = [folder / "claims.parquet", folder / "claims.md"]
    write_claims(read_parquet(cells_path), *written)
    return written


