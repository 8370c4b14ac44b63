"""The paper's claims, tested on the run's own cells: a difference per claim and cell, its 95 %
confidence interval over seeds, a p-value corrected for the claim's many rows, and a verdict that says
only what the runs support.

Seeds are paired: a seed fixes the sequential weights' initialisation (a network with skips starts
from exactly its reference's weights) and every epoch's data order, so the difference between two
methods within one seed removes that variance. A pair counts only when both of its seeds are healthy
(n2n.health). Per row: Student's t interval and two-sided paired t-test over the healthy pairs; the
rows of one claim are one family, and Holm's step-down correction holds the verdicts at a family-wise
5 %. Each verdict's meaning, in one sentence: `VERDICTS`; one line per claim over its rows: `summary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from n2n.health import HealthOptions, health_column
from n2n.io import read_cells, write_parquet, write_text
from n2n.reference import load_reference

LEVEL = 0.95
ALPHA = 1 - LEVEL
MIN_PAIRS = 3  # fewer healthy pairs than this: no verdict but "unreliable"
COLUMNS = ["claim", "statement", "model", "dataset", "density", "base", "comparison", "statistic", "n_pairs",
           "n_excluded", "excluded", "difference", "ci_low", "ci_high", "half_width", "p_value", "p_holm",
           "reference_effect", "reference_source", "verdict"]

VERDICTS = {
    "supported": "the Holm-corrected test rejects a zero difference, and the difference has the paper's sign",
    "contradicted": "the Holm-corrected test rejects a zero difference, and the difference has the opposite sign",
    "inconclusive": "no difference could be rejected, though the interval is narrow enough to have seen the "
                    "paper's effect",
    "underpowered": "no difference could be rejected, and the interval's half-width exceeds the paper's effect: "
                    "this run could not have seen it",
    "unreliable": f"fewer than {MIN_PAIRS} pairs of healthy seeds: no test is made",
    "not run": "the run has no cells for this claim",
}


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


def p_value(diffs: np.ndarray) -> float:
    """Two-sided paired t-test of a zero mean difference; identical differences: 0 if nonzero, else 1."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) < 2:
        return float("nan")
    if np.all(diffs == diffs[0]):
        return 0.0 if diffs[0] != 0 else 1.0
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = np.asarray(p_values, dtype=float)
    tested = np.flatnonzero(~np.isnan(p))
    out = np.full(len(p), np.nan)
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict(n_pairs: int, difference: float, p_holm: float, half_width: float, reference: float,
            direction: int) -> str:
    if n_pairs < MIN_PAIRS:
        return "unreliable"
    if p_holm < ALPHA:
        return "supported" if np.sign(difference) == direction else "contradicted"
    if pd.notna(reference) and half_width > abs(reference):
        return "underpowered"
    return "inconclusive"


def _base(method: str) -> str:
    return method.split("-", 1)[1] if "-" in method else method


@dataclass
class Pairs:
    """One row's paired differences over healthy seeds, and the seeds left out with their reasons."""

    key: dict[str, Any]
    diffs: pd.Series  # by seed
    excluded: dict[int, list[str]]  # seed -> "method: reason"

    def minus(self, other: Pairs) -> Pairs:
        seeds = self.diffs.index.intersection(other.diffs.index)
        excluded = {s: sorted(set(self.excluded.get(s, []) + other.excluded.get(s, [])))
                    for s in {*self.excluded, *other.excluded}}
        return Pairs(self.key, (self.diffs[seeds] - other.diffs[seeds]).rename(None), excluded)


def _pairs(frame: pd.DataFrame, value: str, first: str, second: str) -> list[Pairs]:
    """(model, dataset, density, base) -> per-seed value(first-X) - value(second-X) over the seeds both have
    healthy (column `unhealthy`: '' or the reasons), and the others' reasons."""
    out = []
    frame = frame.assign(base=frame["method"].map(_base))
    if "unhealthy" not in frame:
        frame = frame.assign(unhealthy="")
    for (model, dataset, density, base), group in frame.groupby(["model", "dataset", "density", "base"], sort=False):
        sides = [group[group["method"] == (f"{side}-{base}" if side else base)].set_index("seed")
                 for side in (first, second)]
        seeds = sides[0].index.intersection(sides[1].index)
        if not len(seeds):
            continue
        excluded: dict[int, list[str]] = {}
        for side in sides:
            for seed in seeds:
                reasons = side.loc[seed, "unhealthy"]
                if isinstance(reasons, str) and reasons:
                    excluded.setdefault(int(seed), []).append(f"{side.loc[seed, 'method']} {reasons}")
        healthy = [s for s in seeds if int(s) not in excluded]
        key = {"model": model, "dataset": dataset, "density": float(density), "base": base}
        out.append(Pairs(key, (sides[0].loc[healthy, value] - sides[1].loc[healthy, value]).rename(None), excluded))
    return out


def _excluded_text(excluded: dict[int, list[str]]) -> str:
    """'rp cut apart: seeds 0, 1; n2nskip-rp at chance: seed 3'."""
    by_reason: dict[str, list[int]] = {}
    for seed, reasons in sorted(excluded.items()):
        for reason in reasons:
            by_reason.setdefault(reason, []).append(seed)
    return "; ".join(f"{reason}: seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                     for reason, seeds in by_reason.items())


def _row(claim: Claim, pairs: Pairs, comparison: str, statistic: str,
         reference: tuple[float, str] = (float("nan"), "")) -> dict[str, Any]:
    diffs = pairs.diffs.to_numpy(dtype=float)
    mean, low, high = interval(diffs)
    return {"claim": claim.number, "statement": claim.statement, **pairs.key, "comparison": comparison,
            "statistic": statistic, "n_pairs": len(diffs), "n_excluded": len(pairs.excluded),
            "excluded": _excluded_text(pairs.excluded), "difference": mean, "ci_low": low, "ci_high": high,
            "half_width": (high - low) / 2, "p_value": p_value(diffs) if len(diffs) >= MIN_PAIRS else float("nan"),
            "reference_effect": reference[0], "reference_source": reference[1]}


def _paper_effect(ref: pd.DataFrame, column: str, model: str, dataset: str, first: str, second: str,
                  density: float, source: str) -> tuple[float, str]:
    """first − second in the paper for this model and density: on `dataset`, else on CIFAR-10 (and says so)."""
    for data in dict.fromkeys([dataset, "cifar10"]):
        values = []
        for method in (first, second):
            hit = ref[(ref["model"] == model) & (ref["dataset"] == data) & (ref["method"] == method)
                      & np.isclose(ref["density"], density)]
            values.append(float(hit[column].iloc[0]) if len(hit) else float("nan"))
        if not np.isnan(values[0] - values[1]):
            return values[0] - values[1], source if data == dataset else f"{source}, CIFAR-10"
    return float("nan"), ""


def accuracy_claims(acc: pd.DataFrame) -> list[dict[str, Any]]:
    """Claims 1 and 2 from Table 1's cells (acc.json rows with their keys)."""
    rows, gains, ref = [], {}, load_reference("table1")
    for pairs in _pairs(acc, "test_accuracy", "n2nskip", ""):
        m, d, x, b = (pairs.key[k] for k in ("model", "dataset", "density", "base"))
        paper = _paper_effect(ref, "mean", m, d, f"n2nskip-{b}", b, x, "Table 1")
        rows.append(_row(CLAIMS[1], pairs, f"n2nskip-{b} − {b}", "test accuracy (%)", paper))
        gains[(m, d, b, x)] = (pairs, paper)
    for (m, d, b, x), (pairs, paper) in gains.items():
        if x in (0.05, 0.02) and (m, d, b, 0.1) in gains:
            base_pairs, base_paper = gains[(m, d, b, 0.1)]
            rows.append(_row(CLAIMS[2], pairs.minus(base_pairs), f"(n2nskip-{b} − {b}) at {x:g} − at 0.1",
                             "accuracy gain (%)", (paper[0] - base_paper[0], paper[1])))
    return rows


def convergence_claims(metrics: pd.DataFrame, early_epoch: int) -> list[dict[str, Any]]:
    """Claim 3 from the convergence figure's cells: test accuracy at `early_epoch` (or the last, if fewer).
    Figure 5 gives no numbers: Table 1's final gain of the same cell serves as the reference effect."""
    if metrics.empty:
        return []
    epoch = min(early_epoch, int(metrics["epoch"].max()))
    at = metrics[metrics["epoch"] == epoch]
    ref = load_reference("table1")
    return [_row(CLAIMS[3], pairs, f"n2nskip-{pairs.key['base']} − {pairs.key['base']}",
                 f"test accuracy (%) at epoch {epoch}",
                 _paper_effect(ref, "mean", pairs.key["model"], pairs.key["dataset"], f"n2nskip-{pairs.key['base']}",
                               pairs.key["base"], pairs.key["density"], "Table 1's final gain"))
            for pairs in _pairs(at, "test_accuracy", "n2nskip", "")]


def connectivity_claims(heat: pd.DataFrame, t_sat: float) -> list[dict[str, Any]]:
    """Claim 4 from Table 3's cells: F at t_sat."""
    at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)]
    # the paper's Table 3 names no data set; its networks are Table 1's CIFAR-10 ones (our reading)
    ref = load_reference("table3").assign(dataset="cifar10")
    return [_row(CLAIMS[4], pairs, f"n2nskip-{pairs.key['base']} − {pairs.key['base']}", f"F at t_sat = {t_sat:g}",
                 _paper_effect(ref, "F", pairs.key["model"], pairs.key["dataset"], f"n2nskip-{pairs.key['base']}",
                               pairs.key["base"], pairs.key["density"], "Table 3"))
            for pairs in _pairs(at, "F", "n2nskip", "")]


def skip_claims(acc: pd.DataFrame, high_sparsity: float) -> list[dict[str, Any]]:
    """Claim 5 from the skip comparison's cells at densities up to `high_sparsity`."""
    # accuracy difference = error difference reversed
    ref = load_reference("skip_comparison").assign(accuracy=lambda f: 100 - f["test_error"])
    rows = []
    for pairs in _pairs(acc[acc["density"] <= high_sparsity + 1e-12], "test_accuracy", "n2nskip", "resskip"):
        base = pairs.key["base"]
        rows.append(_row(CLAIMS[5], pairs, f"n2nskip-{base} − resskip-{base}", "test accuracy (%)",
                         _paper_effect(ref, "accuracy", pairs.key["model"], pairs.key["dataset"], f"n2nskip-{base}",
                                       f"resskip-{base}", pairs.key["density"], "Figure 6, read off")))
    return rows


def with_health(frame: pd.DataFrame, health: pd.DataFrame | None, options: HealthOptions) -> pd.DataFrame:
    """`frame` with column `unhealthy` ('' or the reasons) from the cells' acc.json rows in `health`."""
    if health is None or health.empty or frame.empty:
        return frame.assign(unhealthy="")
    keys = ["model", "dataset", "method", "density", "seed"]
    reasons = health[keys].assign(unhealthy=health_column(health, options).to_numpy())
    frame = frame.drop(columns=["unhealthy"], errors="ignore").merge(reasons.drop_duplicates(keys), on=keys,
                                                                     how="left")
    return frame.assign(unhealthy=frame["unhealthy"].fillna(""))


def claims_table(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
                 t_sat: float, options: ClaimOptions = ClaimOptions(), health: pd.DataFrame | None = None,
                 health_options: HealthOptions = HealthOptions()) -> pd.DataFrame:
    """Every claim's rows; a claim without cells is one row, verdict *not run*. `health`: the acc.json rows
    of every cell read (acc and skips are their own when it is None)."""
    def healthy(frame: pd.DataFrame) -> pd.DataFrame:
        return with_health(frame, health if health is not None else frame, health_options)

    rows = (accuracy_claims(healthy(acc)) + convergence_claims(healthy(metrics), options.early_epoch)
            + connectivity_claims(healthy(heat), t_sat) + skip_claims(healthy(skips), options.high_sparsity))
    for number, claim in CLAIMS.items():
        family = [r for r in rows if r["claim"] == number]
        for r, adjusted in zip(family, holm([r["p_value"] for r in family])):
            r["p_holm"] = adjusted
            r["verdict"] = verdict(r["n_pairs"], r["difference"], adjusted, r["half_width"], r["reference_effect"],
                                   claim.direction)
        if not family:
            rows.append({"claim": number, "statement": claim.statement, "n_pairs": 0, "n_excluded": 0,
                         "verdict": "not run"})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["claim", "model", "dataset", "base", "density"],
                                                           kind="stable", ignore_index=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per claim over its reliable rows (at least MIN_PAIRS healthy pairs).

    Accuracy claims (1, 2, 3, 5): the rows' mean difference, equally weighted, with a t interval from the
    rows' standard errors (the rows are independent cells; degrees of freedom: the smallest row's, which
    errs wide). Claim 4: F differs by orders of magnitude between cells, so only its sign is pooled: the
    rows with the paper's sign, and a two-sided sign test over the rows. The claims' lines are one more
    family: their p-values are Holm-corrected together, as the rows are within a claim.
    """
    from scipy import stats

    out = []
    for number, claim in CLAIMS.items():
        rows = table[(table["claim"] == number) & (table["verdict"] != "not run")]
        reliable = rows[rows["n_pairs"] >= MIN_PAIRS]
        tally = ", ".join(f"{n} {v}" for v, n in rows["verdict"].value_counts().items())
        line = {"claim": number, "statement": claim.statement, "rows": len(rows), "reliable_rows": len(reliable),
                "tally": tally, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "half_width": np.nan,
                "reference_effect": np.nan, "p_value": np.nan, "direction": 0, "verdict": "", "text": ""}
        if rows.empty:
            line.update(verdict="not run", text="no cells in this run")
        elif reliable.empty:
            seeds = int((rows["n_pairs"] + rows["n_excluded"]).max())
            why = (f"the grid runs {seeds} seed{'s' if seeds != 1 else ''} for it, and a verdict needs {MIN_PAIRS}"
                   if seeds < MIN_PAIRS else f"no row has {MIN_PAIRS} pairs of healthy seeds")
            line.update(verdict="unreliable", text=why)
        elif number == 4:
            agree = int((np.sign(reliable["difference"]) == claim.direction).sum())
            p = float(stats.binomtest(agree, len(reliable)).pvalue)
            line.update(p_value=p, direction=claim.direction if agree * 2 > len(reliable) else -claim.direction,
                        text=f"F lower with N2NSkip in {agree} of {len(reliable)} reliable rows (sign test p = {p:.2g}")
        else:
            df = int(reliable["n_pairs"].min()) - 1
            se = (reliable["half_width"] / stats.t.ppf(0.5 + LEVEL / 2, reliable["n_pairs"] - 1)).to_numpy()
            estimate = float(reliable["difference"].mean())
            pooled_se = float(np.sqrt((se ** 2).sum()) / len(reliable))
            half = float(stats.t.ppf(0.5 + LEVEL / 2, df) * pooled_se)
            p = float(2 * stats.t.sf(abs(estimate) / pooled_se, df)) if pooled_se > 0 else float(estimate == 0)
            line.update(estimate=estimate, ci_low=estimate - half, ci_high=estimate + half, half_width=half, p_value=p,
                        reference_effect=float(reliable["reference_effect"].abs().mean()),
                        direction=int(np.sign(estimate)),
                        text=f"mean difference {estimate:+.2f} points [{estimate - half:.2f}, {estimate + half:.2f}] "
                             f"over {len(reliable)} reliable rows (p = {p:.2g}")
        out.append(line)
    lines = pd.DataFrame(out)
    lines["p_holm"] = holm(lines["p_value"].tolist())
    for i, line in lines.iterrows():
        if line["verdict"] in ("not run", "unreliable"):
            continue
        claim = CLAIMS[int(line["claim"])]
        if line["p_holm"] < ALPHA:
            verdict_ = "supported" if line["direction"] == claim.direction else "contradicted"
        elif pd.notna(line["reference_effect"]) and line["half_width"] > line["reference_effect"]:
            verdict_ = "underpowered"
        else:
            verdict_ = "inconclusive"
        lines.loc[i, "verdict"] = verdict_
        lines.loc[i, "text"] = f"{line['text']}; Holm over the claims: {line['p_holm']:.2g})"
    return lines


def _number(v: Any, fmt: str) -> str:
    return "" if pd.isna(v) else f"{v:{fmt}}"


def _text(v: Any) -> str:
    return "" if pd.isna(v) else str(v)


def summary_markdown(table: pd.DataFrame) -> str:
    lines = ["## The paper's claims, in one line each", ""]
    for r in summary(table).itertuples():
        lines.append(f"{r.claim}. {r.statement}: **{r.verdict}**. {r.text}" + (f" (rows: {r.tally})." if r.tally
                                                                                else "."))
    return "\n".join(lines) + "\n"


def claims_markdown(table: pd.DataFrame, health_options: HealthOptions = HealthOptions()) -> str:
    from n2n.health import legend

    lines = [summary_markdown(table), "## The paper's claims, row by row", "",
             f"Pairs: seeds healthy in both methods ({legend(health_options)}); excluded: seeds left "
             f"out and why. Difference over the pairs, its {LEVEL:.0%} interval (Student's t) and half-width (±), "
             "the paired t-test's p and Holm's p within the claim, and the reference effect: the paper's, on the "
             "row's data set where the paper has it, else on CIFAR-10 (the source says which).", "",
             "Verdicts: " + "; ".join(f"*{v}*: {text}" for v, text in VERDICTS.items()) + ".", "",
             "| claim | model | data | density | comparison | pairs | excluded | difference | 95% CI | ± | p | "
             "p (Holm) | reference | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        fmt = ".2e" if isinstance(r.statistic, str) and r.statistic.startswith("F ") else ".2f"
        ci = f"[{_number(r.ci_low, fmt)}, {_number(r.ci_high, fmt)}]" if pd.notna(r.ci_low) else ""
        reference = f"{_number(r.reference_effect, fmt)} ({r.reference_source})" if pd.notna(r.reference_effect) \
            else ""
        excluded = f"{r.n_excluded} ({r.excluded})" if r.n_excluded else "0"
        lines.append(f"| {r.claim} | {_text(r.model)} | {_text(r.dataset)} | {_number(r.density, 'g')} | "
                     f"{_text(r.comparison)} | {r.n_pairs} | {excluded} | {_number(r.difference, fmt)} | {ci} | "
                     f"{_number(r.half_width, fmt)} | {_number(r.p_value, '.2g')} | {_number(r.p_holm, '.2g')} | "
                     f"{reference} | **{r.verdict}** |")
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
