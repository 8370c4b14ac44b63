"""The claims stage and its page: the claims' rows and lines (n2n.claims) as Markdown, `claims.md`, beside
`claims.parquet`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from n2n.claims import HEALTH_MARK, VERDICTS, ClaimOptions, claims_table, summary
from n2n.health import HealthOptions
from n2n.io import read_cells, write_parquet, write_text
from n2n.stats import LEVEL


def _number(v: Any, fmt: str) -> str:
    return "" if pd.isna(v) else f"{v:{fmt}}"


def _text(v: Any) -> str:
    return "" if pd.isna(v) else str(v)


def _verdict_text(verdict_: str, verdict_all: Any) -> str:
    changed = isinstance(verdict_all, str) and verdict_all and verdict_all != verdict_
    return f"**{verdict_}**" + (f" {HEALTH_MARK} (all pairs: {verdict_all})" if changed else "")


def summary_markdown(table: pd.DataFrame) -> str:
    lines = ["## The claims, in one line each", "",
             "Each line pools its claim's reliable rows at the seed level (a seed's differences averaged over the "
             "rows, the test over seeds); claims 6-8 are controls from later work, not the paper's. "
             f"{HEALTH_MARK}: the verdict over all pairs, unhealthy seeds included, differs.", ""]
    for r in summary(table).itertuples():
        mark = f" {HEALTH_MARK}" if r.health_changes_verdict else ""
        lines.append(f"{r.claim}. {r.statement}: **{r.verdict}**{mark}. {r.text}"
                     + (f" (rows: {r.tally})." if r.tally else "."))
    return "\n".join(lines) + "\n"


def claims_markdown(table: pd.DataFrame, health_options: HealthOptions = HealthOptions()) -> str:
    from n2n.health import legend

    lines = [summary_markdown(table), "## The claims, row by row", "",
             f"Pairs: seeds healthy in both methods ({legend(health_options)}); excluded: seeds left "
             f"out and why. Difference over the pairs, its {LEVEL:.0%} interval (Student's t) and half-width (±), "
             "the test (paired t; an exact sign test where the spread is zero) and its p, Holm's p within the "
             "claim and the level Holm compares the row's p with. The reference effect: the paper's in the row's "
             "units, on the row's data set where the paper has it, else on CIFAR-10, else the config's smallest "
             "effect of interest (the source says which); the power to detect it at that level with the observed "
             "spread, and whether the interval excludes it. All pairs: the verdict with unhealthy seeds kept.", "",
             "Verdicts: " + "; ".join(f"*{v}*: {text}" for v, text in VERDICTS.items()) + ".", "",
             "| claim | model | data | density | comparison | statistic | pairs | excluded | difference | 95% CI | "
             "± | test | p | p (Holm) | level | reference | power | excludes reference | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        ci = f"[{_number(r.ci_low, '.2f')}, {_number(r.ci_high, '.2f')}]" if pd.notna(r.ci_low) else ""
        reference = f"{_number(r.reference_effect, '+.2f')} ({r.reference_source})" if pd.notna(r.reference_effect) \
            else ""
        excluded = f"{r.n_excluded} ({r.excluded})" if r.n_excluded else "0"
        excludes = "" if pd.isna(r.ci_low) else ("yes" if r.excludes_reference else "no")
        lines.append(f"| {r.claim} | {_text(r.model)} | {_text(r.dataset)} | {_number(r.density, 'g')} | "
                     f"{_text(r.comparison)} | {_text(r.statistic)} | {r.n_pairs} | {excluded} | "
                     f"{_number(r.difference, '+.2f')} | {ci} | {_number(r.half_width, '.2f')} | {_text(r.test)} | "
                     f"{_number(r.p_value, '.2g')} | {_number(r.p_holm, '.2g')} | {_number(r.level, '.3g')} | "
                     f"{reference} | {_number(r.power, '.2f')} | {excludes} | "
                     f"{_verdict_text(r.verdict, r.verdict_all)} |")
    return "\n".join(lines) + "\n"


def run_claims(inputs: dict[str, list[str]], keys: dict[str, list[dict[str, Any]]], parquet_path: str,
               markdown_path: str, t_sat: float, options: dict[str, Any] | None = None,
               health: dict[str, Any] | None = None) -> pd.DataFrame:
    """The claims stage: `inputs` and `keys` by grid (table1, convergence, table3, skip_comparison), and
    `health`: the acc.json of every cell of those grids (n2n.health)."""
    columns = ["model", "dataset", "method", "density", "seed", "test_accuracy", "epoch", "t", "F"]
    frames = {name: read_cells(inputs[name], keys[name], columns)
              for name in ("table1", "convergence", "table3", "skip_comparison", "health")}
    health_options = HealthOptions(**(health or {}))
    table = claims_table(frames["table1"], frames["convergence"], frames["table3"], frames["skip_comparison"],
                         t_sat, ClaimOptions(**(options or {})), frames["health"], health_options)
    write_parquet(parquet_path, table)
    write_text(markdown_path, claims_markdown(table, health_options))
    return table
