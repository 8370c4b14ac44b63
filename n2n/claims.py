"""The paper's claims, the premises they rest on, and the controls a reviewer asks for, tested on the run's own
cells: a difference per claim and cell over paired seeds (n2n.pairing), a p-value corrected for the claim's many
rows (Holm), the interval at the level Holm applied, and a verdict that says what that interval says.

The premises come first. Claims 1, 2 and 5 are about recovering what pruning loses, so they are asked where
the run measured a loss: P1, pruning costs accuracy (dense − X), and P2, the cost grows with sparsity
(X at 0.1 − X below it). A claim row that rests on a premise carries the premise's status in its own cell
(`PREMISE_STATUS`), and so does its claim's line: "contradicted" where nothing was lost is not a reading of the
paper.

Per row: the mean paired difference, its 95 % interval, the two-sided paired t-test (an exact sign test where
every pair differs by the same amount) and Holm's step-down correction within the claim. The verdict is read
off the interval at the level at which Holm decided the row (`VERDICTS`): against zero and against the
reference effect (the paper's, else the config's smallest effect of interest). No verdict depends on a power
computed from the row's own spread; a study states its design power instead (n2n.stats). One line per claim
pools its rows at the seed level; the lines are one more family. Every row and line is computed a second time
over all pairs, unhealthy seeds included, and a verdict that changes between the two is marked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from n2n.health import HealthOptions
from n2n.pairing import Pairs, by_seed, excluded_text, pair_cells, seed_differences, with_health
from n2n.reference import load_reference
from n2n.stats import ALPHA, holm, holm_levels, interval, p_value, zero_spread

MIN_PAIRS = 3  # fewer healthy pairs than this: no verdict but "unreliable"
HEALTH_MARK = "◊"  # the verdict over all pairs, unhealthy seeds included, differs from the healthy pairs' one
COLUMNS = ["claim", "statement", "model", "dataset", "density", "base", "comparison", "statistic", "n_pairs",
           "n_excluded", "excluded", "difference", "ci_low", "ci_high", "half_width", "test", "p_value", "p_holm",
           "level", "decision_low", "decision_high", "reference_effect", "reference_source", "excludes_reference",
           "verdict", "premise", "seed_differences", "n_pairs_all", "difference_all", "p_holm_all", "verdict_all",
           "seed_differences_all", "health_changes_verdict"]

SUPPORTED, SMALLER, CONTRADICTED = "supported", "supported, smaller than the paper's", "contradicted"
RULED_OUT, CANNOT_TELL, UNRELIABLE, NOT_RUN = "paper's effect ruled out", "cannot tell", "unreliable", "not run"
VERDICTS = {
    SUPPORTED: "the interval at Holm's level excludes zero, on the claim's side",
    SMALLER: "supported, and the whole interval at Holm's level lies short of the paper's effect",
    CONTRADICTED: "the interval at Holm's level excludes zero, on the other side",
    RULED_OUT: "the interval at Holm's level holds zero but excludes the paper's effect: any effect is smaller",
    CANNOT_TELL: "the interval at Holm's level holds both zero and the paper's effect",
    UNRELIABLE: f"fewer than {MIN_PAIRS} pairs of healthy seeds: no test is made",
    NOT_RUN: "the run has no cells for this claim",
}
HOLDS, NOT_SHOWN, NOT_MET, NOT_MEASURED = "holds", "not shown", "not met", "not measured"
PREMISE_STATUS = {
    HOLDS: "the premise's row in the same cell is supported: the run lost what the claim says is recovered",
    NOT_SHOWN: "the premise's row cannot tell, or rules out the paper's loss: the run did not show a loss to recover",
    NOT_MET: "the premise's row is contradicted: the pruned network beat the dense one (or lost less at the lower "
             "density)",
    NOT_MEASURED: "the run has no premise row for the cell (no dense network, no 10 % cell, or too few pairs)",
}

# where the paper gives no number for a row: the config's smallest effect of interest
SESOI_SOURCE = "smallest effect of interest (claims.{key})"


@dataclass(frozen=True)
class Claim:
    """One claim or premise: what it says, the sign it predicts, the two methods a row compares ("{base}": the
    row's pruner X), the premise it rests on, and the papers it comes from."""

    number: str
    statement: str
    direction: int  # +1: the claim says first − second is positive; -1: negative
    first: str
    second: str
    sources: str
    bases: tuple[str, ...] = ()  # only these pruners (empty: every pruner with both methods in the grid)
    premise: str = ""  # the premise's number ("P1", "P2"), or none

    def methods(self, base: str) -> tuple[str, str]:
        """The two methods a row for pruner `base` compares: first − second."""
        return self.first.format(base=base), self.second.format(base=base)


PREMISES = {c.number: c for c in [
    Claim("P1", "Pruning costs accuracy: the dense network is more accurate than X at each density", +1, "dense",
          "{base}", "N2NSkip, Table 1 (its gaps to dense)"),
    Claim("P2", "The cost grows with sparsity: X at 10% is more accurate than X at each lower density", +1,
          "{base}", "{base}", "N2NSkip, Table 1 (its gaps between densities)"),
]}
CLAIMS = {c.number: c for c in [
    Claim("1", "N2NSkip-X is more accurate than X at the same density (Tables 1, 2)", +1, "n2nskip-{base}", "{base}",
          "N2NSkip, Tables 1 and 2", premise="P1"),
    Claim("2", "The gain of N2NSkip-X over X is larger at 5% and 2% than at 10% density", +1, "n2nskip-{base}",
          "{base}", "N2NSkip, Table 1", premise="P2"),
    Claim("3", "N2NSkip-X converges faster: more accurate than X in the early epochs (Figure 5)", +1,
          "n2nskip-{base}", "{base}", "N2NSkip, Figure 5"),
    Claim("4", "N2NSkip-X is better connected: lower F at saturation than X (Table 3)", -1, "n2nskip-{base}",
          "{base}", "N2NSkip, Table 3"),
    Claim("5", "At high sparsity N2NSkip-X loses less accuracy than ResSkip-X (Figure 6)", +1, "n2nskip-{base}",
          "resskip-{base}", "N2NSkip, Figure 6", premise="P1"),
    Claim("6", "Control: N2NSkip-rp is more accurate than random pruning at ERK layer densities (erk)", +1,
          "n2nskip-rp", "erk", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("rp",)),
    Claim("7", "Control: N2NSkip adds to a good allocation: N2NSkip-erk is more accurate than erk", +1,
          "n2nskip-{base}", "{base}", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("erk",)),
    Claim("8", "Control: the pruner's per-weight choice matters: X is more accurate than X shuffled within each layer",
          +1, "{base}", "{base}_shuffled", "Frankle et al. 2021 (predicts no difference)"),
]}
ALL = {**PREMISES, **CLAIMS}  # the order of the page: the premises, then the claims


@dataclass(frozen=True)
class ClaimOptions:
    early_epoch: int = 50  # claim 3: the epoch compared (the paper looks at the first 50 of 300)
    high_sparsity: float = 0.1  # claim 5: densities at or below this
    smallest_effect: float = 1.0  # points of accuracy: the reference where the paper has no value for a row
    smallest_log_ratio: float = 0.5  # claim 4 where Table 3 has no value: |ln F ratio| (F 1.65 times apart)


def decide(n_pairs: int, estimate: float, rejected: bool, low: float, high: float, reference: float,
           direction: int) -> str:
    """A verdict from a test's decision and its interval at the level that decision was taken at.

    `rejected`: the (Holm-corrected) test rejects a zero difference. `low`, `high`: the interval at the level
    Holm applied (NaN where there is none: zero spread). The reference is compared in the claim's direction."""
    if n_pairs < MIN_PAIRS:
        return UNRELIABLE
    bounds = np.isfinite(low) and np.isfinite(high)
    if rejected:
        if np.sign(estimate) != direction:
            return CONTRADICTED
        nearer, farther = sorted((direction * low, direction * high))
        return SMALLER if bounds and np.isfinite(reference) and farther < direction * reference else SUPPORTED
    if bounds and np.isfinite(reference) and not low <= reference <= high:
        return RULED_OUT
    return CANNOT_TELL


def _test(diffs: np.ndarray) -> dict[str, Any]:
    """The mean of paired differences, its 95 % interval, which test applies and its p (none under MIN_PAIRS)."""
    mean, low, high = interval(diffs)
    return {"estimate": mean, "ci_low": low, "ci_high": high,
            "test": "sign (zero spread)" if zero_spread(diffs) else "t",
            "p_value": p_value(diffs) if len(diffs) >= MIN_PAIRS else float("nan")}


def _row(claim: Claim, pairs: Pairs, statistic: str, reference: tuple[float, str]) -> dict[str, Any]:
    diffs = pairs.diffs.to_numpy(dtype=float)
    test = _test(diffs)
    return {"claim": claim.number, "statement": claim.statement, **pairs.key, "statistic": statistic,
            "n_pairs": len(diffs), "n_excluded": len(pairs.excluded), "excluded": excluded_text(pairs.excluded),
            "difference": test["estimate"], "ci_low": test["ci_low"], "ci_high": test["ci_high"],
            "half_width": (test["ci_high"] - test["ci_low"]) / 2, "test": test["test"], "p_value": test["p_value"],
            "reference_effect": reference[0], "reference_source": reference[1], "premise": "",
            "seed_differences": by_seed(pairs.diffs), "n_pairs_all": len(pairs.all_diffs),
            "difference_all": float(pairs.all_diffs.mean()) if len(pairs.all_diffs) else float("nan"),
            "seed_differences_all": by_seed(pairs.all_diffs)}


def _paper_effect(ref: pd.DataFrame, column: str, model: str, dataset: str, first: tuple[str, float],
                  second: tuple[str, float], source: str, transform: Callable[[float], float] = float
                  ) -> tuple[float, str]:
    """transform(first) − transform(second) in the paper, each a (method, density), for this model: on
    `dataset`, else on CIFAR-10 (and says so)."""
    for data in dict.fromkeys([dataset, "cifar10"]):
        values = []
        for method, density in (first, second):
            hit = ref[(ref["model"] == model) & (ref["dataset"] == data) & (ref["method"] == method)
                      & np.isclose(ref["density"], density)]
            values.append(transform(float(hit[column].iloc[0])) if len(hit) else float("nan"))
        if not np.isnan(values[0] - values[1]):
            return values[0] - values[1], source if data == dataset else f"{source}, CIFAR-10"
    return float("nan"), ""


def _or_smallest(reference: tuple[float, str], claim: Claim, options: ClaimOptions,
                 key: str = "smallest_effect") -> tuple[float, str]:
    """The paper's effect where it has one, else the config's smallest effect of interest in the claim's sign."""
    if np.isfinite(reference[0]):
        return reference
    return claim.direction * getattr(options, key), SESOI_SOURCE.format(key=key)


def _is_plain(method: str) -> bool:
    """A pruner alone: neither the dense network nor a twin with skips."""
    return method != "dense" and "-" not in method


def premise_rows(acc: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """P1 (dense − X at each density) and P2 (X at 0.1 − X at each lower density) for every plain pruner X of
    Table 1's cells. P2's seeds are P1's differenced, so a seed left out of either is left out of both."""
    if acc.empty:
        return []
    ref = load_reference("table1")
    plain = acc[acc["method"].map(_is_plain)]
    dense = acc[acc["method"] == "dense"]
    # dense is paired with X at X's density: one copy of the dense cells per density of the grid
    frame = pd.concat([plain] + [dense.assign(density=x) for x in sorted(plain["density"].unique())],
                      ignore_index=True)
    p1_claim = dataclasses.replace(PREMISES["P1"], bases=tuple(dict.fromkeys(plain["method"])))
    rows, costs = [], {}
    for pairs in pair_cells(frame, "test_accuracy", p1_claim):
        m, d, x, b = (pairs.key[k] for k in ("model", "dataset", "density", "base"))
        paper = _paper_effect(ref, "mean", m, d, ("dense", 1.0), (b, x), "Table 1")
        rows.append(_row(PREMISES["P1"], pairs, "test accuracy (%)", _or_smallest(paper, PREMISES["P1"], options)))
        costs[(m, d, b, x)] = pairs
    for (m, d, b, x), pairs in costs.items():
        if x < 0.1 and (m, d, b, 0.1) in costs:
            growth = pairs.minus(costs[(m, d, b, 0.1)])  # (dense − X at x) − (dense − X at 0.1)
            growth.key = {**growth.key, "comparison": f"{b} at 0.1 − {b} at {x:g}"}
            paper = _paper_effect(ref, "mean", m, d, (b, 0.1), (b, x), "Table 1")
            rows.append(_row(PREMISES["P2"], growth, "test accuracy (%)",
                             _or_smallest(paper, PREMISES["P2"], options)))
    return rows


def accuracy_claims(acc: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """Claims 1 and 2, and the controls 6-8, from Table 1's cells (acc.json rows with their keys)."""
    rows, gains, ref = [], {}, load_reference("table1")
    one, two = CLAIMS["1"], CLAIMS["2"]
    for pairs in pair_cells(acc, "test_accuracy", one):
        m, d, x, b = (pairs.key[k] for k in ("model", "dataset", "density", "base"))
        first, second = one.methods(b)
        paper = _paper_effect(ref, "mean", m, d, (first, x), (second, x), "Table 1")
        if b not in CLAIMS["7"].bases:  # n2nskip-erk − erk is the control's row
            rows.append(_row(one, pairs, "test accuracy (%)", _or_smallest(paper, one, options)))
        gains[(m, d, b, x)] = (pairs, paper)
    for (m, d, b, x), (pairs, paper) in gains.items():
        if x in (0.05, 0.02) and (m, d, b, 0.1) in gains and b not in CLAIMS["7"].bases:
            base_pairs, base_paper = gains[(m, d, b, 0.1)]
            diff = pairs.minus(base_pairs)
            diff.key = {**diff.key, "comparison": f"({pairs.key['comparison']}) at {x:g} − at 0.1"}
            rows.append(_row(two, diff, "accuracy gain (%)",
                             _or_smallest((paper[0] - base_paper[0], paper[1]), two, options)))
    for number in ("6", "7", "8"):
        claim = CLAIMS[number]
        rows += [_row(claim, pairs, "test accuracy (%)", _or_smallest((float("nan"), ""), claim, options))
                 for pairs in pair_cells(acc, "test_accuracy", claim)]
    return rows


def convergence_claims(metrics: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """Claim 3 from the convergence figure's cells: test accuracy at `early_epoch` (or the last, if fewer).
    Figure 5's curves are not among the shipped reference numbers: the reference is the smallest effect
    of interest, a gap in the same units (points of accuracy at an early epoch)."""
    if metrics.empty:
        return []
    epoch = min(options.early_epoch, int(metrics["epoch"].max()))
    at = metrics[metrics["epoch"] == epoch]
    return [_row(CLAIMS["3"], pairs, f"test accuracy (%) at epoch {epoch}",
                 _or_smallest((float("nan"), ""), CLAIMS["3"], options))
            for pairs in pair_cells(at, "test_accuracy", CLAIMS["3"])]


def connectivity_claims(heat: pd.DataFrame, t_sat: float, options: ClaimOptions = ClaimOptions()
                        ) -> list[dict[str, Any]]:
    """Claim 4 from Table 3's cells: ln F at t_sat per seed, paired like the accuracy claims (F spans orders
    of magnitude: a ratio is its natural unit); the reference is ln of the paper's F ratio."""
    at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)] if not heat.empty else heat
    # the paper's Table 3 names no data set; its networks are Table 1's CIFAR-10 ones (our reading)
    ref = load_reference("table3").assign(dataset="cifar10")
    rows, four = [], CLAIMS["4"]
    for pairs in pair_cells(at, "F", four, transform=np.log):
        k = pairs.key
        first, second = four.methods(k["base"])
        paper = _paper_effect(ref, "F", k["model"], k["dataset"], (first, k["density"]), (second, k["density"]),
                              "Table 3, ln of its ratio", np.log)
        rows.append(_row(four, pairs, f"ln F at t_sat = {t_sat:g}",
                         _or_smallest(paper, four, options, "smallest_log_ratio")))
    return rows


def skip_claims(acc: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """Claim 5 from the skip comparison's cells at densities up to `high_sparsity`."""
    # accuracy difference = error difference reversed
    ref = load_reference("skip_comparison").assign(accuracy=lambda f: 100 - f["test_error"])
    rows, five = [], CLAIMS["5"]
    high = acc[acc["density"] <= options.high_sparsity + 1e-12] if not acc.empty else acc
    for pairs in pair_cells(high, "test_accuracy", five):
        k = pairs.key
        first, second = five.methods(k["base"])
        paper = _paper_effect(ref, "accuracy", k["model"], k["dataset"], (first, k["density"]),
                              (second, k["density"]), "Figure 6, read off")
        rows.append(_row(five, pairs, "test accuracy (%)", _or_smallest(paper, five, options)))
    return rows


def _decide(family: list[dict[str, Any]], direction: int) -> None:
    """Holm within the family, each row's level and its interval there, its verdict; then the same over all
    pairs."""
    p = [r["p_value"] for r in family]
    for r, adjusted, level in zip(family, holm(p), holm_levels(p)):
        diffs = seed_differences(r["seed_differences"]).to_numpy()
        _, low, high = interval(diffs, level)
        r.update(p_holm=adjusted, level=level, decision_low=low, decision_high=high)
        r["excludes_reference"] = bool(np.isfinite(low) and not low <= r["reference_effect"] <= high)
        r["verdict"] = decide(r["n_pairs"], r["difference"], adjusted < ALPHA, low, high, r["reference_effect"],
                              direction)
    every = [seed_differences(r["seed_differences_all"]).to_numpy() for r in family]
    p_all = [p_value(d) if len(d) >= MIN_PAIRS else float("nan") for d in every]
    for r, d, adjusted, level in zip(family, every, holm(p_all), holm_levels(p_all)):
        _, low, high = interval(d, level)
        r["p_holm_all"] = adjusted
        r["verdict_all"] = decide(len(d), float(d.mean()) if len(d) else float("nan"), adjusted < ALPHA, low, high,
                                  r["reference_effect"], direction)
        r["health_changes_verdict"] = r["verdict_all"] != r["verdict"]


def premise_status(verdict: str | None) -> str:
    """A claim row's premise, from the verdict of the premise's row in the same cell (None: no such row)."""
    if verdict is None or verdict in (UNRELIABLE, NOT_RUN):
        return NOT_MEASURED
    if verdict in (SUPPORTED, SMALLER):
        return HOLDS
    return NOT_MET if verdict == CONTRADICTED else NOT_SHOWN


def _attach_premises(rows: list[dict[str, Any]]) -> None:
    """Each claim row that rests on a premise gets the status of the premise's row in its cell."""
    keys = ("model", "dataset", "density", "base")
    verdicts = {(r["claim"], *(r.get(k) for k in keys)): r["verdict"] for r in rows if r["claim"] in PREMISES}
    for r in rows:
        premise = ALL[r["claim"]].premise
        if premise and r.get("verdict") != NOT_RUN:
            r["premise"] = premise_status(verdicts.get((premise, *(r[k] for k in keys))))


def claims_table(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
                 t_sat: float, options: ClaimOptions = ClaimOptions(), health: pd.DataFrame | None = None,
                 health_options: HealthOptions = HealthOptions()) -> pd.DataFrame:
    """Every premise's and claim's rows; one without cells is one row, verdict *not run*. `health`: the
    acc.json rows of every cell read (acc and skips are their own when it is None)."""
    def healthy(frame: pd.DataFrame) -> pd.DataFrame:
        return with_health(frame, health if health is not None else frame, health_options)

    rows = (premise_rows(healthy(acc), options) + accuracy_claims(healthy(acc), options)
            + convergence_claims(healthy(metrics), options) + connectivity_claims(healthy(heat), t_sat, options)
            + skip_claims(healthy(skips), options))
    for number, claim in ALL.items():
        family = [r for r in rows if r["claim"] == number]
        _decide(family, claim.direction)
        if not family:
            rows.append({"claim": number, "statement": claim.statement, "n_pairs": 0, "n_excluded": 0,
                         "verdict": NOT_RUN, "premise": ""})
    _attach_premises(rows)
    order = {number: i for i, number in enumerate(ALL)}
    return (pd.DataFrame(rows, columns=COLUMNS)
            .sort_values(["claim", "model", "dataset", "base", "density"], kind="stable",
                         key=lambda c: c.map(order) if c.name == "claim" else c)
            .reset_index(drop=True))
