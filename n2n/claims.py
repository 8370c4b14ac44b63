"""The paper's claims, the premises they rest on, and the controls a reviewer asks for, tested on the run's own
cells: a difference per claim and cell over paired seeds (n2n.pairing), pooled per claim into one line that is
the claim's one decision (n2n.claim_lines), and rows that show each cell's estimate at the line's levels.

The premises come first. Claims 1, 2 and 5 are about recovering what pruning loses, so each is asked where the
run measured a loss: P1, pruning costs accuracy (dense − X: claims 1), P2, the cost grows with sparsity (X at
0.1 − X below it: claim 2), and P3, ResSkip costs accuracy (dense − ResSkip-X: claim 5, whose comparison is
N2NSkip against ResSkip). A claim row carries its premise row's status (`PREMISE_STATUS`).

A recovery claim's reference is scaled to the run (`ReferenceShare`): the paper's share of the loss that
N2NSkip recovered at that density, for that model and base pruner, times this run's loss, per seed. A row is
tested against it as gain_s − r × loss_s over the seeds that fix dense, X and N2NSkip-X together, so the loss's
own noise enters; the share recovered is reported with Fieller's interval (the shares that per-seed test does
not reject). Other claims are read against the paper's difference, or the config's smallest effect of interest.

Three families, each Holm-corrected over its lines: the premises, the paper's claims (1-5) and the controls
(6-8). A line rejects zero by Holm's procedure; its readings against the reference (*smaller than*, *ruled
out*) come from its interval at Bonferroni's level within the family, whose coverage holds for the family's
lines together. A row is read at its line's two levels, so a claim of one row reads as its line. Every row
and line is computed a second time over all pairs, unhealthy seeds included, and a verdict that changes
between the two is marked.
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
from n2n.stats import fieller, interval, p_value, zero_spread

MIN_PAIRS = 3  # fewer healthy pairs than this: no verdict but "unreliable"
HEALTH_MARK = "◊"  # the verdict over all pairs, unhealthy seeds included, differs from the healthy pairs' one
COLUMNS = ["claim", "statement", "family", "model", "dataset", "density", "base", "comparison", "statistic",
           "n_pairs", "n_excluded", "excluded", "difference", "ci_low", "ci_high", "half_width", "test", "p_value",
           "level", "level_equivalence", "decision_low", "decision_high", "reference_effect", "reference_source",
           "reference_kind", "paper_share", "versus_low", "versus_high", "excludes_reference", "share", "share_low",
           "share_high", "verdict", "premise", "seed_differences", "seed_versus", "seed_losses", "n_pairs_all",
           "difference_all", "verdict_all", "seed_differences_all", "seed_versus_all", "health_changes_verdict"]

SUPPORTED, CONTRADICTED, CANNOT_TELL = "supported", "contradicted", "cannot tell"
SMALLER, SMALLER_INTEREST = "supported, smaller than the paper's", "supported, smaller than the effect of interest"
RULED_OUT, RULED_OUT_INTEREST = "paper's effect ruled out", "effect of interest ruled out"
UNRELIABLE, NOT_RUN = "unreliable", "not run"
VERDICTS = {
    SUPPORTED: "Holm's test within the family rejects zero, on the claim's side",
    SMALLER: "supported, and the interval at Bonferroni's level lies short of the paper's effect (for a recovery "
             "claim: of the paper's share of this run's loss)",
    SMALLER_INTEREST: "supported, and the interval at Bonferroni's level lies short of the smallest effect of "
                      "interest (the paper gives no number)",
    CONTRADICTED: "Holm's test within the family rejects zero, on the other side, whatever the reference",
    RULED_OUT: "zero not rejected, and the interval at Bonferroni's level lies short of the paper's effect (for a "
               "recovery claim: of the paper's share of this run's loss)",
    RULED_OUT_INTEREST: "zero not rejected, and the interval at Bonferroni's level lies short of the smallest effect "
                        "of interest (the paper gives no number)",
    CANNOT_TELL: "zero not rejected, and the interval at Bonferroni's level holds the reference",
    UNRELIABLE: f"fewer than {MIN_PAIRS} pairs of healthy seeds: no test is made",
    NOT_RUN: "the run has no cells for this claim",
}
HOLDS, HOLDS_SMALLER = "holds", "holds, smaller than the paper's"
HOLDS_SMALLER_INTEREST = "holds, smaller than the effect of interest"
NOT_SHOWN, NOT_MET, NOT_MEASURED = "not shown", "not met", "not measured"
PREMISE_STATUS = {
    HOLDS: "the premise's row in the same cell is supported: the run lost what the claim says is recovered",
    HOLDS_SMALLER: "supported, and the loss's interval lies below the paper's loss",
    HOLDS_SMALLER_INTEREST: "supported, and the loss's interval lies below the smallest effect of interest (the "
                            "paper gives no number)",
    NOT_SHOWN: "the premise's row cannot tell, or rules out the paper's loss: the run did not show a loss to recover",
    NOT_MET: "the premise's row is contradicted: the pruned network beat the dense one (or lost less at the lower "
             "density)",
    NOT_MEASURED: "the run has no premise row for the cell (no dense network, no 10 % cell, or too few pairs)",
}
HELD = (HOLDS, HOLDS_SMALLER, HOLDS_SMALLER_INTEREST)

# where the paper gives no number for a row: the config's smallest effect of interest
SESOI_SOURCE = "smallest effect of interest (claims.{key})"
PAPER, INTEREST, SCALED = "paper", "interest", "scaled"  # a row's reference_kind


@dataclass(frozen=True)
class Claim:
    """One claim or premise: what it says, the sign it predicts, the two methods a row compares ("{base}": the
    row's pruner X), the premise it rests on, its family, and the papers it comes from."""

    number: str
    statement: str
    direction: int  # +1: the claim says first − second is positive; -1: negative
    first: str
    second: str
    sources: str
    bases: tuple[str, ...] = ()  # only these pruners (empty: every pruner with both methods in the grid)
    premise: str = ""  # the premise's number ("P1", "P2", "P3"), or none
    family: str = "paper"  # "premises", "paper" (the paper's claims) or "controls": each Holm-corrected apart

    def methods(self, base: str) -> tuple[str, str]:
        """The two methods a row for pruner `base` compares: first − second."""
        return self.first.format(base=base), self.second.format(base=base)


PREMISES = {c.number: c for c in [
    Claim("P1", "Pruning costs accuracy: the dense network is more accurate than X at each density", +1, "dense",
          "{base}", "N2NSkip, Table 1 (its gaps to dense)", family="premises"),
    Claim("P2", "The cost grows with sparsity: X at 10% is more accurate than X at each lower density", +1,
          "{base}", "{base}", "N2NSkip, Table 1 (its gaps between densities)", family="premises"),
    Claim("P3", "ResSkip costs accuracy: the dense network is more accurate than ResSkip-X at high sparsity", +1,
          "dense", "resskip-{base}", "N2NSkip, Table 1 and Figure 6 (ResSkip's gap to dense)", family="premises"),
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
          "resskip-{base}", "N2NSkip, Figure 6", premise="P3"),
    Claim("6", "Control: N2NSkip-rp is more accurate than random pruning at ERK layer densities (erk)", +1,
          "n2nskip-{base}", "erk", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("rp", "rp_weights"),
          family="controls"),
    Claim("7", "Control: N2NSkip adds to a good allocation: N2NSkip-erk is more accurate than erk", +1,
          "n2nskip-{base}", "{base}", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("erk",), family="controls"),
    Claim("8", "Control: the pruner's per-weight choice matters: X is more accurate than X shuffled within each layer",
          +1, "{base}", "{base}_shuffled", "Frankle et al. 2021 (predicts no difference)", family="controls"),
]}
ALL = {**PREMISES, **CLAIMS}  # the order of the page: the premises, then the claims
FAMILIES = {"premises": "the premises", "paper": "the paper's claims", "controls": "the controls"}


@dataclass(frozen=True)
class ClaimOptions:
    early_epoch: int = 50  # claim 3: the epoch compared (the paper looks at the first 50 of 300)
    high_sparsity: float = 0.1  # claim 5: densities at or below this
    smallest_effect: float = 1.0  # points of accuracy: the reference where the paper has no value for a row
    smallest_log_ratio: float = 0.5  # claim 4 where Table 3 has no value: |ln F ratio| (F 1.65 times apart)
    regime_seeds: tuple[int, ...] = ()  # the seeds that chose the study's regime: no claim may use them


class SeedOverlap(ValueError):
    """A claim's cells use a seed that chose the study's regime."""


def check_seeds(frames: list[pd.DataFrame], options: ClaimOptions) -> None:
    """Refuse cells whose seeds include those that chose the regime (claims.regime_seeds), naming them."""
    used = sorted({int(s) for f in frames if not f.empty and "seed" in f for s in f["seed"].unique()})
    overlap = sorted(set(used) & {int(s) for s in options.regime_seeds})
    if overlap:
        raise SeedOverlap(f"seeds {', '.join(map(str, overlap))} chose this study's regime (claims.regime_seeds: "
                          f"{list(options.regime_seeds)}) and are among its cells' seeds {used}: a study's claims "
                          "must not be tested on the runs that chose it; run the study on other seeds")


def decide(n_pairs: int, estimate: float, rejected: bool, versus_low: float, versus_high: float, direction: int,
           kind: str = PAPER) -> str:
    """A verdict from Holm's decision on zero and the interval, at Bonferroni's level, of the difference less its
    reference (per seed: gain − r × loss for a scaled reference). NaN bounds (zero spread): no reading against the
    reference."""
    if n_pairs < MIN_PAIRS:
        return UNRELIABLE
    interest = kind == INTEREST
    # the whole interval short of the reference, in the claim's direction
    short = bool(np.isfinite(versus_low) and np.isfinite(versus_high)
                 and direction * (versus_high if direction > 0 else versus_low) < 0)
    if rejected:
        if np.sign(estimate) != direction:
            return CONTRADICTED
        return (SMALLER_INTEREST if interest else SMALLER) if short else SUPPORTED
    if short:
        return RULED_OUT_INTEREST if interest else RULED_OUT
    return CANNOT_TELL


def _test(diffs: np.ndarray) -> dict[str, Any]:
    """The mean of paired differences, its 95 % interval, which test applies and its p (none under MIN_PAIRS)."""
    mean, low, high = interval(diffs)
    return {"estimate": mean, "ci_low": low, "ci_high": high,
            "test": "sign (zero spread)" if zero_spread(diffs) else "t",
            "p_value": p_value(diffs) if len(diffs) >= MIN_PAIRS else float("nan")}


@dataclass
class Versus:
    """A row's differences less its reference, per seed (healthy pairs and all), and the losses a scaled reference
    scales (healthy pairs; empty for a fixed reference)."""

    healthy: pd.Series
    every: pd.Series
    losses: pd.Series = dataclasses.field(default_factory=lambda: pd.Series(dtype=float))


def _row(claim: Claim, pairs: Pairs, statistic: str, reference: tuple[float, str], kind: str,
         versus: Versus | None = None, share: float = float("nan")) -> dict[str, Any]:
    diffs = pairs.diffs.to_numpy(dtype=float)
    test = _test(diffs)
    if versus is None:  # a fixed reference: the differences less it
        versus = Versus(pairs.diffs - reference[0], pairs.all_diffs - reference[0])
    base = pairs.key.get("base", "")
    if kind != INTEREST and paper_method(base) != base:
        reference = (reference[0], f"{reference[1]}; the paper's {paper_method(base)} for {base}")
    return {"claim": claim.number, "statement": claim.statement, "family": claim.family, **pairs.key,
            "statistic": statistic, "n_pairs": len(diffs), "n_excluded": len(pairs.excluded),
            "excluded": excluded_text(pairs.excluded), "difference": test["estimate"], "ci_low": test["ci_low"],
            "ci_high": test["ci_high"], "half_width": (test["ci_high"] - test["ci_low"]) / 2, "test": test["test"],
            "p_value": test["p_value"], "reference_effect": reference[0], "reference_source": reference[1],
            "reference_kind": kind, "paper_share": share, "premise": "",
            "seed_differences": by_seed(pairs.diffs), "seed_versus": by_seed(versus.healthy),
            "seed_losses": by_seed(versus.losses), "n_pairs_all": len(pairs.all_diffs),
            "difference_all": float(pairs.all_diffs.mean()) if len(pairs.all_diffs) else float("nan"),
            "seed_differences_all": by_seed(pairs.all_diffs), "seed_versus_all": by_seed(versus.every)}


# a pruner of ours whose reference numbers are the paper's for another: weight-level random pruning is read
# against the paper's RP, the random pruning the paper reports (the row's source says so)
PAPER_COUNTERPART = {"rp_weights": "rp"}


def paper_method(method: str) -> str:
    """The paper's name for a method: 'n2nskip-rp_weights' -> 'n2nskip-rp'."""
    skip, _, base = method.rpartition("-")
    base = PAPER_COUNTERPART.get(base, base)
    return f"{skip}-{base}" if skip else base


def _paper_value(ref: pd.DataFrame, column: str, model: str, dataset: str, method: str, density: float,
                 transform: Callable[[float], float] = float) -> tuple[float, str]:
    """transform(the paper's value) of (method, density) for this model, on `dataset`, else on CIFAR-10."""
    method = paper_method(method)
    for data in dict.fromkeys([dataset, "cifar10"]):
        hit = ref[(ref["model"] == model) & (ref["dataset"] == data) & (ref["method"] == method)
                  & np.isclose(ref["density"], density)]
        if len(hit):
            return transform(float(hit[column].iloc[0])), data
    return float("nan"), ""


def _paper_effect(ref: pd.DataFrame, column: str, model: str, dataset: str, first: tuple[str, float],
                  second: tuple[str, float], source: str, transform: Callable[[float], float] = float
                  ) -> tuple[float, str]:
    """transform(first) − transform(second) in the paper, each a (method, density), for this model: on
    `dataset`, else on CIFAR-10 (and says so)."""
    for data in dict.fromkeys([dataset, "cifar10"]):
        a, _ = _paper_value(ref[ref["dataset"] == data], column, model, data, *first, transform=transform)
        b, _ = _paper_value(ref[ref["dataset"] == data], column, model, data, *second, transform=transform)
        if not np.isnan(a - b):
            return a - b, source if data == dataset else f"{source}, CIFAR-10"
    return float("nan"), ""


def _or_smallest(reference: tuple[float, str], claim: Claim, options: ClaimOptions,
                 key: str = "smallest_effect") -> tuple[tuple[float, str], str]:
    """(reference, kind): the paper's effect where it has one, else the config's smallest effect of interest in
    the claim's sign."""
    if np.isfinite(reference[0]):
        return reference, PAPER
    return (claim.direction * getattr(options, key), SESOI_SOURCE.format(key=key)), INTEREST


def _is_plain(method: str) -> bool:
    """A pruner alone: neither the dense network nor a twin with skips."""
    return method != "dense" and "-" not in method


def _with_dense(frame: pd.DataFrame, dense: pd.DataFrame, keep: Callable[[str], bool]) -> pd.DataFrame:
    """The methods `keep` selects, and a copy of the dense cells at each of their densities (dense is paired
    with X at X's density)."""
    chosen = frame[frame["method"].map(keep)]
    return pd.concat([chosen] + [dense.assign(density=x) for x in sorted(chosen["density"].unique())],
                     ignore_index=True)


@dataclass
class ReferenceShare:
    """The paper's share of a loss that N2NSkip recovered, r = gain / loss, and where it comes from."""

    share: float
    source: str

    @property
    def usable(self) -> bool:
        return bool(np.isfinite(self.share))


def _share(gain: tuple[float, str], loss: tuple[float, str]) -> ReferenceShare:
    if not (np.isfinite(gain[0]) and np.isfinite(loss[0])) or loss[0] <= 0:
        return ReferenceShare(float("nan"), "")
    return ReferenceShare(gain[0] / loss[0], gain[1])


def scaled(gain: Pairs, loss: Pairs | None, share: ReferenceShare) -> tuple[Pairs, Versus] | None:
    """The gain's pairs over the seeds its loss also has (a seed fixes dense, X and the twin together), and
    gain_s − r × loss_s per seed. None where there is no loss or no share to scale."""
    if loss is None or not share.usable:
        return None
    aligned, loss_aligned = gain.aligned(loss)
    return aligned, Versus(aligned.diffs - share.share * loss_aligned.diffs,
                           aligned.all_diffs - share.share * loss_aligned.all_diffs, loss_aligned.diffs)


def _scaled_row(claim: Claim, gain: Pairs, loss: Pairs | None, share: ReferenceShare, fixed: tuple[float, str],
                options: ClaimOptions) -> dict[str, Any]:
    """A recovery claim's row: against the paper's share of this run's loss where both exist, else against the
    paper's difference (or the smallest effect of interest)."""
    found = scaled(gain, loss, share)
    if found is None:
        return _row(claim, gain, "test accuracy (%)", *_or_smallest(fixed, claim, options))
    pairs, versus = found
    reference = float((pairs.diffs - versus.healthy).mean()) if len(pairs.diffs) else float("nan")
    return _row(claim, pairs, "test accuracy (%)", (reference, f"{share.share:.2f} × this run's loss ({share.source})"),
                SCALED, versus, share.share)


def loss_pairs(acc: pd.DataFrame, premise: Claim, keep: Callable[[str], bool], dense: pd.DataFrame | None = None,
               base: Callable[[str], str] = lambda method: method) -> dict[tuple, Pairs]:
    """(model, dataset, base, density) -> dense − method per seed, for the methods `keep` selects (`base`: the
    pruner a method stands for in the premise's second method, "resskip-{base}" for P3)."""
    if acc.empty:
        return {}
    dense = acc[acc["method"] == "dense"] if dense is None else dense
    frame = _with_dense(acc, dense, keep)
    bases = tuple(dict.fromkeys(frame.loc[frame["method"] != "dense", "method"].map(base)))
    claim = dataclasses.replace(premise, bases=bases)
    return {(p.key["model"], p.key["dataset"], p.key["base"], p.key["density"]): p
            for p in pair_cells(frame, "test_accuracy", claim)}


def premise_rows(costs: dict[tuple, Pairs], resskip_costs: dict[tuple, Pairs], options: ClaimOptions = ClaimOptions()
                 ) -> list[dict[str, Any]]:
    """P1 (dense − X at each density) and P2 (X at 0.1 − X at each lower density) for every plain pruner X of
    Table 1's cells (`costs`: plain_losses), and P3 (dense − ResSkip-X at high sparsity: `resskip_costs`,
    resskip_losses). P2's seeds are P1's differenced, so a seed left out of either is left out of both."""
    rows = []
    ref = load_reference("table1")
    for (m, d, b, x), pairs in costs.items():
        paper = _paper_effect(ref, "mean", m, d, ("dense", 1.0), (b, x), "Table 1")
        rows.append(_row(PREMISES["P1"], pairs, "test accuracy (%)", *_or_smallest(paper, PREMISES["P1"], options)))
    for (m, d, b, x), pairs in costs.items():
        if x < 0.1 and (m, d, b, 0.1) in costs:
            growth = pairs.minus(costs[(m, d, b, 0.1)])  # (dense − X at x) − (dense − X at 0.1)
            growth.key = {**growth.key, "comparison": f"{b} at 0.1 − {b} at {x:g}"}
            paper = _paper_effect(ref, "mean", m, d, (b, 0.1), (b, x), "Table 1")
            rows.append(_row(PREMISES["P2"], growth, "test accuracy (%)",
                             *_or_smallest(paper, PREMISES["P2"], options)))
    for (m, d, b, x), pairs in resskip_costs.items():
        paper = resskip_paper_loss(m, d, b, x)
        rows.append(_row(PREMISES["P3"], pairs, "test accuracy (%)", *_or_smallest(paper, PREMISES["P3"], options)))
    return rows


def _high(frame: pd.DataFrame, options: ClaimOptions) -> pd.DataFrame:
    return frame[frame["density"] <= options.high_sparsity + 1e-12] if not frame.empty else frame


def plain_losses(acc: pd.DataFrame) -> dict[tuple, Pairs]:
    """(model, dataset, base, density) -> dense − X per seed, for every plain pruner X of Table 1's cells."""
    return loss_pairs(acc, PREMISES["P1"], _is_plain)


def resskip_losses(acc: pd.DataFrame, skips: pd.DataFrame, options: ClaimOptions) -> dict[tuple, Pairs]:
    """(model, dataset, base, density) -> dense − ResSkip-X per seed at high sparsity (dense from Table 1)."""
    high = _high(skips, options)
    if high.empty or acc.empty:
        return {}
    dense = acc[acc["method"] == "dense"]
    return loss_pairs(high, PREMISES["P3"], lambda m: m.startswith("resskip-"), dense,
                      lambda m: m.removeprefix("resskip-"))


def resskip_paper_loss(model: str, dataset: str, base: str, density: float) -> tuple[float, str]:
    """The paper's ResSkip loss: Table 1's dense accuracy less Figure 6's ResSkip accuracy (100 − its error)."""
    dense, data = _paper_value(load_reference("table1"), "mean", model, dataset, "dense", 1.0)
    fig6 = load_reference("skip_comparison").assign(accuracy=lambda f: 100 - f["test_error"])
    resskip, data6 = _paper_value(fig6[fig6["dataset"] == data] if data else fig6, "accuracy", model, data or dataset,
                                  f"resskip-{base}", density)
    if not np.isfinite(dense - resskip):
        return float("nan"), ""
    source = "Table 1 and Figure 6"
    return dense - resskip, source if data6 == dataset else f"{source}, CIFAR-10"


def accuracy_claims(acc: pd.DataFrame, losses: dict[tuple, Pairs], options: ClaimOptions = ClaimOptions()
                    ) -> list[dict[str, Any]]:
    """Claims 1 and 2 (against the paper's share of this run's loss: `losses`, plain_losses), and the controls
    6-8, from Table 1's cells (acc.json rows with their keys)."""
    rows, gains, ref = [], {}, load_reference("table1")
    one, two = CLAIMS["1"], CLAIMS["2"]
    for pairs in pair_cells(acc, "test_accuracy", one):
        m, d, x, b = (pairs.key[k] for k in ("model", "dataset", "density", "base"))
        if b in CLAIMS["7"].bases:  # n2nskip-erk − erk is the control's row
            continue
        first, second = one.methods(b)
        paper = _paper_effect(ref, "mean", m, d, (first, x), (second, x), "Table 1")
        share = _share(paper, _paper_effect(ref, "mean", m, d, ("dense", 1.0), (second, x), "Table 1"))
        row = _scaled_row(one, pairs, losses.get((m, d, b, x)), share, paper, options)
        rows.append(row)
        gains[(m, d, b, x)] = (row, pairs, paper)
    for (m, d, b, x), (row, pairs, paper) in gains.items():
        if x in (0.05, 0.02) and (m, d, b, 0.1) in gains:
            base_row, base_pairs, base_paper = gains[(m, d, b, 0.1)]
            diff = pairs.minus(base_pairs)
            diff.key = {**diff.key, "comparison": f"({pairs.key['comparison']}) at {x:g} − at 0.1"}
            if row["reference_kind"] == SCALED and base_row["reference_kind"] == SCALED:
                # (gain_x − r_x loss_x) − (gain_0.1 − r_0.1 loss_0.1), per seed, over the seeds both rows have
                versus = [seed_differences(row[c]) - seed_differences(base_row[c])
                          for c in ("seed_versus", "seed_versus_all")]
                healthy = versus[0].dropna()
                diff = diff.restricted(healthy.index, versus[1].dropna().index)
                reference = float((diff.diffs - healthy[diff.diffs.index]).mean()) if len(diff.diffs) else np.nan
                rows.append(_row(two, diff, "accuracy gain (%)", (reference, "the paper's shares × this run's "
                                 "losses at both densities (Table 1)"), SCALED,
                                 Versus(healthy[diff.diffs.index], versus[1].dropna()[diff.all_diffs.index])))
            else:
                rows.append(_row(two, diff, "accuracy gain (%)",
                                 *_or_smallest((paper[0] - base_paper[0], paper[1]), two, options)))
    for number in ("6", "7", "8"):
        claim = CLAIMS[number]
        rows += [_row(claim, pairs, "test accuracy (%)", *_or_smallest((float("nan"), ""), claim, options))
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
                 *_or_smallest((float("nan"), ""), CLAIMS["3"], options))
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
                         *_or_smallest(paper, four, options, "smallest_log_ratio")))
    return rows


def skip_claims(skips: pd.DataFrame, losses: dict[tuple, Pairs], options: ClaimOptions = ClaimOptions()
                ) -> list[dict[str, Any]]:
    """Claim 5 from the skip comparison's cells at densities up to `high_sparsity`, against the paper's share of
    ResSkip's own loss (dense − ResSkip-X: `losses`, resskip_losses) that N2NSkip recovers, scaled to this run's
    ResSkip loss."""
    # accuracy difference = error difference reversed
    ref = load_reference("skip_comparison").assign(accuracy=lambda f: 100 - f["test_error"])
    rows, five = [], CLAIMS["5"]
    for pairs in pair_cells(_high(skips, options), "test_accuracy", five):
        k = pairs.key
        first, second = five.methods(k["base"])
        paper = _paper_effect(ref, "accuracy", k["model"], k["dataset"], (first, k["density"]),
                              (second, k["density"]), "Figure 6, read off")
        share = _share(paper, resskip_paper_loss(k["model"], k["dataset"], k["base"], k["density"]))
        rows.append(_scaled_row(five, pairs, losses.get((k["model"], k["dataset"], k["base"], k["density"])), share,
                                paper, options))
    return rows


def premise_status(verdict: str | None) -> str:
    """A claim row's premise, from the reading of the premise's row in the same cell (None: no such row)."""
    if verdict is None or verdict in (UNRELIABLE, NOT_RUN):
        return NOT_MEASURED
    return {SUPPORTED: HOLDS, SMALLER: HOLDS_SMALLER, SMALLER_INTEREST: HOLDS_SMALLER_INTEREST,
            CONTRADICTED: NOT_MET}.get(verdict, NOT_SHOWN)


def _attach_premises(rows: list[dict[str, Any]]) -> None:
    """Each claim row that rests on a premise gets the status of the premise's row in its cell."""
    keys = ("model", "dataset", "density", "base")
    verdicts = {(r["claim"], *(r.get(k) for k in keys)): r["verdict"] for r in rows if r["claim"] in PREMISES}
    for r in rows:
        premise = ALL[r["claim"]].premise
        if premise and r.get("verdict") != NOT_RUN:
            r["premise"] = premise_status(verdicts.get((premise, *(r[k] for k in keys))))


def read_row(row: dict[str, Any], levels: dict[str, float], direction: int) -> None:
    """A row's estimate at its line's levels (n2n.claim_lines.line_levels): its interval at Holm's level (zero),
    the interval of its difference less the reference at Bonferroni's (the reference), the share recovered
    there, and its reading; over all pairs, at the all-pairs line's levels."""
    for suffix in ("", "_all"):
        level, level_equivalence = levels[f"level{suffix}"], levels[f"level_equivalence{suffix}"]
        diffs = seed_differences(row[f"seed_differences{suffix}"]).to_numpy()
        versus = seed_differences(row[f"seed_versus{suffix}"]).to_numpy()
        p = p_value(diffs) if len(diffs) >= MIN_PAIRS else float("nan")
        rejected = bool(np.isfinite(p) and np.isfinite(level) and p < level)
        _, v_low, v_high = interval(versus, level_equivalence)
        verdict = decide(len(diffs), float(diffs.mean()) if len(diffs) else float("nan"), rejected, v_low, v_high,
                         direction, row["reference_kind"])
        if suffix:
            row["verdict_all"] = verdict
            continue
        _, low, high = interval(diffs, level)
        row.update(level=level, level_equivalence=level_equivalence, decision_low=low, decision_high=high,
                   versus_low=v_low, versus_high=v_high, verdict=verdict,
                   excludes_reference=bool(np.isfinite(v_low) and not v_low <= 0 <= v_high))
        losses = seed_differences(row["seed_losses"])
        if len(losses) >= MIN_PAIRS:
            gains = seed_differences(row["seed_differences"])[losses.index].to_numpy()
            row["share"], row["share_low"], row["share_high"] = fieller(gains, losses.to_numpy(), level_equivalence)
    row["health_changes_verdict"] = row["verdict_all"] != row["verdict"]


def claim_rows(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
               t_sat: float, options: ClaimOptions = ClaimOptions(), health: pd.DataFrame | None = None,
               health_options: HealthOptions = HealthOptions()) -> list[dict[str, Any]]:
    """Every premise's and claim's rows, not yet read (n2n.claim_lines.claims_table reads them at their lines'
    levels); a claim without cells is one row, verdict *not run*. `health`: the acc.json rows of every cell read
    (acc and skips are their own when it is None)."""
    check_seeds([acc, metrics, heat, skips], options)

    def healthy(frame: pd.DataFrame) -> pd.DataFrame:
        return with_health(frame, health if health is not None else frame, health_options)

    acc, skips = healthy(acc), healthy(skips)
    losses, resskip_costs = plain_losses(acc), resskip_losses(acc, skips, options)  # once, for premises and claims
    rows = (premise_rows(losses, resskip_costs, options) + accuracy_claims(acc, losses, options)
            + convergence_claims(healthy(metrics), options) + connectivity_claims(healthy(heat), t_sat, options)
            + skip_claims(skips, resskip_costs, options))
    for number, claim in ALL.items():
        if not any(r["claim"] == number for r in rows):
            rows.append({"claim": number, "statement": claim.statement, "family": claim.family, "n_pairs": 0,
                         "n_excluded": 0, "verdict": NOT_RUN, "premise": ""})
    return rows


def read_rows(rows: list[dict[str, Any]], levels: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The rows read at their lines' levels, each claim row with its premise's status, in the page's order."""
    for r in rows:
        if r.get("verdict") != NOT_RUN:
            read_row(r, levels[r["claim"]], ALL[r["claim"]].direction)
    _attach_premises(rows)
    order = {number: i for i, number in enumerate(ALL)}
    return (pd.DataFrame(rows, columns=COLUMNS)
            .sort_values(["claim", "model", "dataset", "base", "density"], kind="stable",
                         key=lambda c: c.map(order) if c.name == "claim" else c)
            .reset_index(drop=True))
