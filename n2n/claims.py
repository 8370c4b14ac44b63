"""The paper's claims, tested on the run's own cells: a difference per claim and cell, its 95 %
confidence interval over seeds, and a verdict.

Seeds are paired: a seed fixes the sequential weights' initialisation (a network with skips starts
from exactly its reference's weights) and every epoch's data order, so the difference between two
methods within one seed removes that variance; the interval is Student's t over the per-seed
differences (none for a single seed). The verdict: *supported* when the interval excludes zero in
the paper's direction, *contradicted* when it excludes zero the other way, *inconclusive*
otherwise, and *not run* for a claim the run has no cells for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from n2n.io import read_cells, write_parquet, write_text
from n2n.reference import load_reference

LEVEL = 0.95
COLUMNS = ["claim", "statement", "model", "dataset", "density", "base", "comparison", "statistic", "n_seeds",
           "paired", "difference", "ci_low", "ci_high", "paper_difference", "verdict"]


@dataclass(frozen=True)
class Claim:
    number: int
    statement: str
    direction: int  # +1: the paper says the difference is positive; -1: negative


CLAIMS = {c.number: c for c in [
    Claim(1, "N2NSkip-X is more accurate than X at the same density (Tables 1, 2)", +1),
    Claim(2, "The gain of N2NSkip-X over X is larger at 5% and 2% than at 10% density", +1),
    Claim(3, "N2NSkip-X converges faster: more accurate than X in the early epochs (Figure 5)", +1),
    Claim(4, "N2NSkip-X is better connected: lower F at saturation than X (Table 3)", -1),
    Claim(5, "At high sparsity N2NSkip-X loses less accuracy than ResSkip-X (Figure 6)", +1),
]}


@dataclass(frozen=True)
class ClaimOptions:
    early_epoch: int = 50  # claim 3: the epoch compared (the paper looks at the first 50 of 300)
    high_sparsity: float = 0.1  # claim 5: densities at or below this


def interval(diffs: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of the per-seed differences: Student's t interval; NaN bounds for one seed."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean()) if len(diffs) else float("nan")
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def verdict(low: float, high: float, direction: int) -> str:
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    if (low > 0 and direction > 0) or (high < 0 and direction < 0):
        return "supported"
    if (low > 0 and direction < 0) or (high < 0 and direction > 0):
        return "contradicted"
    return "inconclusive"


def _base(method: str) -> str:
    return method.split("-", 1)[1] if "-" in method else method


def _row(claim: Claim, key: dict[str, Any], comparison: str, statistic: str, diffs: pd.Series,
         paper: float = float("nan")) -> dict[str, Any]:
    mean, low, high = interval(diffs.to_numpy())
    return {"claim": claim.number, "statement": claim.statement, **key, "comparison": comparison,
            "statistic": statistic, "n_seeds": len(diffs), "paired": True, "difference": mean, "ci_low": low,
            "ci_high": high, "paper_difference": paper, "verdict": verdict(low, high, claim.direction)}


def _pairs(frame: pd.DataFrame, value: str, first: str, second: str) -> list[tuple[dict[str, Any], pd.Series]]:
    """(model, dataset, density, base) -> per-seed value(first-X) - value(second-X), seeds in both."""
    out = []
    frame = frame.assign(base=frame["method"].map(_base))
    for (model, dataset, density, base), group in frame.groupby(["model", "dataset", "density", "base"], sort=False):
        a = group[group["method"] == (f"{first}-{base}" if first else base)].set_index("seed")[value]
        b = group[group["method"] == (f"{second}-{base}" if second else base)].set_index("seed")[value]
        seeds = a.index.intersection(b.index)
        if len(seeds):
            key = {"model": model, "dataset": dataset, "density": float(density), "base": base}
            out.append((key, (a[seeds] - b[seeds]).rename(None)))
    return out


def _paper_accuracy(ref: pd.DataFrame, model: str, dataset: str, method: str, density: float) -> float:
    hit = ref[(ref["model"] == model) & (ref["dataset"] == dataset) & (ref["method"] == method)
              & np.isclose(ref["density"], density)]
    return float(hit["mean"].iloc[0]) if len(hit) else float("nan")


def accuracy_claims(acc: pd.DataFrame) -> list[dict[str, Any]]:
    """Claims 1 and 2 from Table 1's cells (acc.json rows with their keys)."""
    rows, gains, ref = [], {}, load_reference("table1")
    for key, diffs in _pairs(acc, "test_accuracy", "n2nskip", ""):
        m, d, x, b = key["model"], key["dataset"], key["density"], key["base"]
        paper = _paper_accuracy(ref, m, d, f"n2nskip-{b}", x) - _paper_accuracy(ref, m, d, b, x)
        rows.append(_row(CLAIMS[1], key, f"n2nskip-{b} − {b}", "test accuracy (%)", diffs, paper))
        gains[(m, d, b, x)] = (diffs, paper)
    for (m, d, b, x), (diffs, paper) in gains.items():
        if x in (0.05, 0.02) and (m, d, b, 0.1) in gains:
            base_diffs, base_paper = gains[(m, d, b, 0.1)]
            seeds = diffs.index.intersection(base_diffs.index)
            key = {"model": m, "dataset": d, "density": x, "base": b}
            rows.append(_row(CLAIMS[2], key, f"(n2nskip-{b} − {b}) at {x:g} − at 0.1", "accuracy gain (%)",
                             diffs[seeds] - base_diffs[seeds], paper - base_paper))
    return rows


def convergence_claims(metrics: pd.DataFrame, early_epoch: int) -> list[dict[str, Any]]:
    """Claim 3 from the convergence figure's cells: test accuracy at `early_epoch` (or the last, if fewer)."""
    if metrics.empty:
        return []
    epoch = min(early_epoch, int(metrics["epoch"].max()))
    at = metrics[metrics["epoch"] == epoch]
    return [_row(CLAIMS[3], key, f"n2nskip-{key['base']} − {key['base']}", f"test accuracy (%) at epoch {epoch}",
                 diffs) for key, diffs in _pairs(at, "test_accuracy", "n2nskip", "")]


def connectivity_claims(heat: pd.DataFrame, t_sat: float) -> list[dict[str, Any]]:
    """Claim 4 from Table 3's cells: F at t_sat."""
    at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)]
    ref = load_reference("table3")
    rows = []
    for key, diffs in _pairs(at, "F", "n2nskip", ""):
        # the paper's Table 3 names no data set; its networks are Table 1's CIFAR-10 ones (our reading)
        paper = ref[(ref["model"] == key["model"]) & np.isclose(ref["density"], key["density"])
                    & (key["dataset"] == "cifar10")]
        p = dict(zip(paper["method"], paper["F"]))
        rows.append(_row(CLAIMS[4], key, f"n2nskip-{key['base']} − {key['base']}", f"F at t_sat = {t_sat:g}", diffs,
                         p.get(f"n2nskip-{key['base']}", np.nan) - p.get(key["base"], np.nan)))
    return rows


def skip_claims(acc: pd.DataFrame, high_sparsity: float) -> list[dict[str, Any]]:
    """Claim 5 from the skip comparison's cells at densities up to `high_sparsity`."""
    ref = load_reference("skip_comparison")
    rows = []
    for key, diffs in _pairs(acc[acc["density"] <= high_sparsity + 1e-12], "test_accuracy", "n2nskip", "resskip"):
        paper = ref[(ref["model"] == key["model"]) & (ref["dataset"] == key["dataset"])
                    & np.isclose(ref["density"], key["density"])]
        errors = dict(zip(paper["method"], paper["test_error"]))  # accuracy difference = error difference reversed
        base = key["base"]
        rows.append(_row(CLAIMS[5], key, f"n2nskip-{base} − resskip-{base}", "test accuracy (%)", diffs,
                         errors.get(f"resskip-{base}", np.nan) - errors.get(f"n2nskip-{base}", np.nan)))
    return rows


def claims_table(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
                 t_sat: float, options: ClaimOptions = ClaimOptions()) -> pd.DataFrame:
    """Every claim's rows; a claim without cells is one row, verdict *not run*."""
    rows = (accuracy_claims(acc) + convergence_claims(metrics, options.early_epoch)
            + connectivity_claims(heat, t_sat) + skip_claims(skips, options.high_sparsity))
    for number, claim in CLAIMS.items():
        if not any(r["claim"] == number for r in rows):
            rows.append({"claim": number, "statement": claim.statement, "n_seeds": 0, "paired": True,
                         "verdict": "not run"})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["claim", "model", "dataset", "base", "density"],
                                                           kind="stable", ignore_index=True)


def claims_markdown(table: pd.DataFrame) -> str:
    def number(v: float, fmt: str) -> str:
        return "" if pd.isna(v) else f"{v:{fmt}}"

    def text(v: Any) -> str:
        return "" if pd.isna(v) else str(v)

    counts = table.groupby("claim")["verdict"].value_counts().unstack(fill_value=0)
    lines = ["## The paper's claims, tested", ""]
    for number_, claim in CLAIMS.items():
        tally = ", ".join(f"{n} {v}" for v, n in counts.loc[number_].items() if n) if number_ in counts.index else ""
        lines.append(f"{number_}. {claim.statement}: {tally}")
    lines += ["", f"Difference over seeds (paired by seed), its {LEVEL:.0%} confidence interval (Student's t), the "
              "paper's difference where it gives one.", "",
              "| claim | model | data | density | comparison | seeds | difference | 95% CI | paper | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        fmt = ".2e" if isinstance(r.statistic, str) and r.statistic.startswith("F ") else ".2f"
        ci = f"[{number(r.ci_low, fmt)}, {number(r.ci_high, fmt)}]" if pd.notna(r.ci_low) else ""
        lines.append(f"| {r.claim} | {text(r.model)} | {text(r.dataset)} | {number(r.density, 'g')} | "
                     f"{text(r.comparison)} | {r.n_seeds} | {number(r.difference, fmt)} | {ci} | "
                     f"{number(r.paper_difference, fmt)} | **{r.verdict}** |")
    return "\n".join(lines) + "\n"


def run_claims(inputs: dict[str, list[str]], keys: dict[str, list[dict[str, Any]]], parquet_path: str,
               markdown_path: str, t_sat: float, options: dict[str, Any] | None = None) -> pd.DataFrame:
    """The claims stage: `inputs` and `keys` by grid (table1, convergence, table3, skip_comparison)."""
    columns = ["model", "dataset", "method", "density", "seed", "test_accuracy", "epoch", "t", "F"]
    frames = {name: read_cells(inputs[name], keys[name], columns)
              for name in ("table1", "convergence", "table3", "skip_comparison")}
    table = claims_table(frames["table1"], frames["convergence"], frames["table3"], frames["skip_comparison"],
                         t_sat, ClaimOptions(**(options or {})))
    write_parquet(parquet_path, table)
    write_text(markdown_path, claims_markdown(table))
    return table
