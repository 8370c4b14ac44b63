"""The paper's claims, and the controls a reviewer asks for, tested on the run's own cells: a difference
per claim and cell over paired seeds, its 95 % confidence interval, a p-value corrected for the claim's
many rows, the power the test had to see the reference effect, and a verdict that says only what the
runs support.

Seeds are paired: a seed fixes the sequential weights' initialisation (a network with skips starts
from exactly its reference's weights) and every epoch's data order, so the difference between two
methods within one seed removes that variance. A pair counts only when both of its seeds are healthy
(n2n.health); every row and line is computed a second time over all pairs, and a verdict that changes
between the two is marked. Per row: Student's t interval and two-sided paired t-test (an exact sign
test where every pair differs by the same amount); the rows of one claim are one family, and Holm's
step-down correction holds the verdicts at a family-wise 5 %. The power is that of the row's test at
the level Holm's correction applies to it, against the reference effect, with the observed spread
(noncentral t). One line per claim pools its rows at the seed level: each seed's differences are
averaged over the rows, and the test runs over seeds. Each verdict's meaning, in one sentence: `VERDICTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from n2n.health import HealthOptions
from n2n.pairing import Pairs, by_seed, excluded_text, pair_cells, seed_differences, with_health
from n2n.reference import load_reference
from n2n.stats import ALPHA, holm, holm_levels, interval, p_value, power, zero_spread

MIN_PAIRS = 3  # fewer healthy pairs than this: no verdict but "unreliable"
POWER = 0.8  # a test that did not reject is "inconclusive" only with at least this power, else "underpowered"
HEALTH_MARK = "◊"  # the verdict over all pairs, unhealthy seeds included, differs from the healthy pairs' one
COLUMNS = ["claim", "statement", "model", "dataset", "density", "base", "comparison", "statistic", "n_pairs",
           "n_excluded", "excluded", "difference", "ci_low", "ci_high", "half_width", "test", "p_value", "p_holm",
           "level", "reference_effect", "reference_source", "power", "excludes_reference", "verdict",
           "seed_differences", "n_pairs_all", "difference_all", "p_holm_all", "verdict_all", "seed_differences_all",
           "health_changes_verdict"]

VERDICTS = {
    "supported": "the Holm-corrected test rejects a zero difference, and the difference has the claim's sign",
    "contradicted": "the Holm-corrected test rejects a zero difference, and the difference has the opposite sign",
    "inconclusive": f"no difference could be rejected, though the test had at least {POWER:.0%} power to detect the "
                    "reference effect at the level its correction applied",
    "underpowered": f"no difference could be rejected, and the test had less than {POWER:.0%} power to detect the "
                    "reference effect: this run could not have seen it",
    "unreliable": f"fewer than {MIN_PAIRS} pairs of healthy seeds: no test is made",
    "not run": "the run has no cells for this claim",
}

# where the paper gives no number for a row: the config's smallest effect of interest
SESOI_SOURCE = "smallest effect of interest (claims.{key})"


@dataclass(frozen=True)
class Claim:
    """One claim: what it says, the sign it predicts, and the two methods a row compares ("{base}": the row's
    pruner X). `sources` names the papers it comes from."""

    number: int
    statement: str
    direction: int  # +1: the claim says first − second is positive; -1: negative
    first: str
    second: str
    sources: str
    bases: tuple[str, ...] = ()  # only these pruners (empty: every pruner with both methods in the grid)

    def methods(self, base: str) -> tuple[str, str]:
        """The two methods a row for pruner `base` compares: first − second."""
        return self.first.format(base=base), self.second.format(base=base)


CLAIMS = {c.number: c for c in [
    Claim(1, "N2NSkip-X is more accurate than X at the same density (Tables 1, 2)", +1, "n2nskip-{base}", "{base}",
          "N2NSkip, Tables 1 and 2"),
    Claim(2, "The gain of N2NSkip-X over X is larger at 5% and 2% than at 10% density", +1, "n2nskip-{base}",
          "{base}", "N2NSkip, Table 1"),
    Claim(3, "N2NSkip-X converges faster: more accurate than X in the early epochs (Figure 5)", +1,
          "n2nskip-{base}", "{base}", "N2NSkip, Figure 5"),
    Claim(4, "N2NSkip-X is better connected: lower F at saturation than X (Table 3)", -1, "n2nskip-{base}", "{base}",
          "N2NSkip, Table 3"),
    Claim(5, "At high sparsity N2NSkip-X loses less accuracy than ResSkip-X (Figure 6)", +1, "n2nskip-{base}",
          "resskip-{base}", "N2NSkip, Figure 6"),
    Claim(6, "Control: N2NSkip-rp is more accurate than random pruning at ERK layer densities (erk)", +1,
          "n2nskip-rp", "erk", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("rp",)),
    Claim(7, "Control: N2NSkip adds to a good allocation: N2NSkip-erk is more accurate than erk", +1,
          "n2nskip-{base}", "{base}", "Liu et al. 2022; Evci et al. 2020 (ERK)", bases=("erk",)),
    Claim(8, "Control: the pruner's per-weight choice matters: X is more accurate than X shuffled within each layer",
          +1, "{base}", "{base}_shuffled", "Frankle et al. 2021 (predicts no difference)"),
]}


@dataclass(frozen=True)
class ClaimOptions:
    early_epoch: int = 50  # claim 3: the epoch compared (the paper looks at the first 50 of 300)
    high_sparsity: float = 0.1  # claim 5: densities at or below this
    smallest_effect: float = 1.0  # points of accuracy: the reference where the paper has no value for a row
    smallest_log_ratio: float = 0.5  # claim 4 where Table 3 has no value: |ln F ratio| (F 1.65 times apart)


def verdict(n_pairs: int, difference: float, p_holm: float, power_: float, direction: int) -> str:
    if n_pairs < MIN_PAIRS:
        return "unreliable"
    if p_holm < ALPHA:
        return "supported" if np.sign(difference) == direction else "contradicted"
    return "inconclusive" if power_ >= POWER else "underpowered"


def _test(diffs: np.ndarray) -> dict[str, Any]:
    """The mean of paired differences, its interval, which test applies and its p (none under MIN_PAIRS)."""
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
            "reference_effect": reference[0], "reference_source": reference[1],
            "seed_differences": by_seed(pairs.diffs), "n_pairs_all": len(pairs.all_diffs),
            "difference_all": float(pairs.all_diffs.mean()) if len(pairs.all_diffs) else float("nan"),
            "seed_differences_all": by_seed(pairs.all_diffs)}


def _paper_effect(ref: pd.DataFrame, column: str, model: str, dataset: str, first: str, second: str,
                  density: float, source: str, transform: Callable[[float], float] = float) -> tuple[float, str]:
    """transform(first) − transform(second) in the paper for this model and density: on `dataset`, else on
    CIFAR-10 (and says so)."""
    for data in dict.fromkeys([dataset, "cifar10"]):
        values = []
        for method in (first, second):
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


def accuracy_claims(acc: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """Claims 1 and 2, and the controls 6-8, from Table 1's cells (acc.json rows with their keys)."""
    rows, gains, ref = [], {}, load_reference("table1")
    for pairs in pair_cells(acc, "test_accuracy", CLAIMS[1]):
        m, d, x, b = (pairs.key[k] for k in ("model", "dataset", "density", "base"))
        paper = _paper_effect(ref, "mean", m, d, *CLAIMS[1].methods(b), x, "Table 1")
        if b not in CLAIMS[7].bases:  # n2nskip-erk − erk is the control's row
            rows.append(_row(CLAIMS[1], pairs, "test accuracy (%)", _or_smallest(paper, CLAIMS[1], options)))
        gains[(m, d, b, x)] = (pairs, paper)
    for (m, d, b, x), (pairs, paper) in gains.items():
        if x in (0.05, 0.02) and (m, d, b, 0.1) in gains and b not in CLAIMS[7].bases:
            base_pairs, base_paper = gains[(m, d, b, 0.1)]
            diff = pairs.minus(base_pairs)
            diff.key = {**diff.key, "comparison": f"({pairs.key['comparison']}) at {x:g} − at 0.1"}
            rows.append(_row(CLAIMS[2], diff, "accuracy gain (%)",
                             _or_smallest((paper[0] - base_paper[0], paper[1]), CLAIMS[2], options)))
    for number in (6, 7, 8):
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
    return [_row(CLAIMS[3], pairs, f"test accuracy (%) at epoch {epoch}",
                 _or_smallest((float("nan"), ""), CLAIMS[3], options))
            for pairs in pair_cells(at, "test_accuracy", CLAIMS[3])]


def connectivity_claims(heat: pd.DataFrame, t_sat: float, options: ClaimOptions = ClaimOptions()
                        ) -> list[dict[str, Any]]:
    """Claim 4 from Table 3's cells: ln F at t_sat per seed, paired like the accuracy claims (F spans orders
    of magnitude: a ratio is its natural unit); the reference is ln of the paper's F ratio."""
    at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)] if not heat.empty else heat
    # the paper's Table 3 names no data set; its networks are Table 1's CIFAR-10 ones (our reading)
    ref = load_reference("table3").assign(dataset="cifar10")
    rows = []
    for pairs in pair_cells(at, "F", CLAIMS[4], transform=np.log):
        k = pairs.key
        paper = _paper_effect(ref, "F", k["model"], k["dataset"], *CLAIMS[4].methods(k["base"]), k["density"],
                              "Table 3, ln of its ratio", np.log)
        rows.append(_row(CLAIMS[4], pairs, f"ln F at t_sat = {t_sat:g}",
                         _or_smallest(paper, CLAIMS[4], options, "smallest_log_ratio")))
    return rows


def skip_claims(acc: pd.DataFrame, options: ClaimOptions = ClaimOptions()) -> list[dict[str, Any]]:
    """Claim 5 from the skip comparison's cells at densities up to `high_sparsity`."""
    # accuracy difference = error difference reversed
    ref = load_reference("skip_comparison").assign(accuracy=lambda f: 100 - f["test_error"])
    rows = []
    high = acc[acc["density"] <= options.high_sparsity + 1e-12] if not acc.empty else acc
    for pairs in pair_cells(high, "test_accuracy", CLAIMS[5]):
        k = pairs.key
        paper = _paper_effect(ref, "accuracy", k["model"], k["dataset"], *CLAIMS[5].methods(k["base"]), k["density"],
                              "Figure 6, read off")
        rows.append(_row(CLAIMS[5], pairs, "test accuracy (%)", _or_smallest(paper, CLAIMS[5], options)))
    return rows


def _decide(family: list[dict[str, Any]], direction: int) -> None:
    """Holm within the family, each row's level and power, its verdict; then the same over all pairs."""
    for r, adjusted, level in zip(family, holm([r["p_value"] for r in family]),
                                  holm_levels([r["p_value"] for r in family])):
        diffs = seed_differences(r["seed_differences"]).to_numpy()
        r.update(p_holm=adjusted, level=level, power=power(diffs, r["reference_effect"], level))
        r["excludes_reference"] = bool(pd.notna(r["ci_low"]) and not r["ci_low"] <= r["reference_effect"]
                                       <= r["ci_high"])
        r["verdict"] = verdict(r["n_pairs"], r["difference"], adjusted, r["power"], direction)
    every = [seed_differences(r["seed_differences_all"]).to_numpy() for r in family]
    p_all = [p_value(d) if len(d) >= MIN_PAIRS else float("nan") for d in every]
    for r, d, adjusted, level in zip(family, every, holm(p_all), holm_levels(p_all)):
        r["p_holm_all"] = adjusted
        r["verdict_all"] = verdict(len(d), float(d.mean()) if len(d) else float("nan"), adjusted,
                                   power(d, r["reference_effect"], level), direction)
        r["health_changes_verdict"] = r["verdict_all"] != r["verdict"]


def claims_table(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
                 t_sat: float, options: ClaimOptions = ClaimOptions(), health: pd.DataFrame | None = None,
                 health_options: HealthOptions = HealthOptions()) -> pd.DataFrame:
    """Every claim's rows; a claim without cells is one row, verdict *not run*. `health`: the acc.json rows
    of every cell read (acc and skips are their own when it is None)."""
    def healthy(frame: pd.DataFrame) -> pd.DataFrame:
        return with_health(frame, health if health is not None else frame, health_options)

    rows = (accuracy_claims(healthy(acc), options) + convergence_claims(healthy(metrics), options)
            + connectivity_claims(healthy(heat), t_sat, options) + skip_claims(healthy(skips), options))
    for number, claim in CLAIMS.items():
        family = [r for r in rows if r["claim"] == number]
        _decide(family, claim.direction)
        if not family:
            rows.append({"claim": number, "statement": claim.statement, "n_pairs": 0, "n_excluded": 0,
                         "verdict": "not run"})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["claim", "model", "dataset", "base", "density"],
                                                           kind="stable", ignore_index=True)


def _pooled(rows: pd.DataFrame, column: str) -> pd.Series:
    """Each seed's differences averaged over the rows in which it is a pair: one value per seed."""
    frames = [seed_differences(text) for text in rows[column]]
    return pd.concat(frames, axis=1).mean(axis=1).sort_index() if frames else pd.Series(dtype=float)


def _pooled_test(rows: pd.DataFrame, column: str) -> dict[str, Any]:
    diffs = _pooled(rows, column).to_numpy(dtype=float)
    return {"diffs": diffs, "n_seeds": len(diffs), **_test(diffs)}


def _line_test(number: int, rows: pd.DataFrame, column: str) -> dict[str, Any]:
    """A claim's pooled test. Claim 2 says "at 5 % and 2 %": each lower density is pooled on its own and
    must hold (intersection-union: the line's p is the larger, or, where one goes the other way, that one's)."""
    if number != 2:
        return _pooled_test(rows, column)
    direction = CLAIMS[2].direction
    parts = {x: _pooled_test(rows[np.isclose(rows["density"], x)], column)
             for x in sorted(rows["density"].unique(), reverse=True)}
    against = {x: t for x, t in parts.items() if np.sign(t["estimate"]) != direction}
    if against:
        x, chosen = min(against.items(), key=lambda item: item[1]["p_value"])
    else:
        x, chosen = max(parts.items(), key=lambda item: item[1]["p_value"])
    return {**chosen, "parts": parts, "decided_at": x}


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per claim over its reliable rows (at least MIN_PAIRS healthy pairs), pooled at the seed level:
    each seed's differences are averaged over the rows, and the t-test (sign test at zero spread) runs over
    the seeds, which the rows share. Claim 2 tests each lower density against 10 % on its own, and holds only
    where every one does. The lines are one more family: their p-values are Holm-corrected together, and each
    line's power is taken at the level Holm applies to it, against the rows' mean reference effect. The
    same is done over all pairs, unhealthy seeds included."""
    out = []
    for number, claim in CLAIMS.items():
        rows = table[(table["claim"] == number) & (table["verdict"] != "not run")]
        reliable = rows[rows["n_pairs"] >= MIN_PAIRS]
        tally = ", ".join(f"{n} {v}" for v, n in rows["verdict"].value_counts().items())
        line = {"claim": number, "statement": claim.statement, "rows": len(rows), "reliable_rows": len(reliable),
                "rows_supported": int((reliable["verdict"] == "supported").sum()), "tally": tally,
                "n_seeds": 0, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "half_width": np.nan,
                "test": "", "reference_effect": np.nan, "p_value": np.nan, "p_value_all": np.nan,
                "direction": 0, "direction_all": 0, "verdict": "", "text": "", "_diffs": None, "_diffs_all": None,
                "_reference_all": np.nan}
        if not rows.empty:
            test_all = _line_test(number, rows, "seed_differences_all")
            # the all-pairs line's reference: the reliable rows' mean, or every row's where none is reliable
            line.update(p_value_all=test_all["p_value"], direction_all=int(np.sign(test_all["estimate"])),
                        _diffs_all=test_all["diffs"],
                        _reference_all=float((reliable if len(reliable) else rows)["reference_effect"].mean()))
        if rows.empty:
            line.update(verdict="not run", text="no cells in this run")
        elif reliable.empty:
            seeds = int((rows["n_pairs"] + rows["n_excluded"]).max())
            why = (f"the grid runs {seeds} seed{'s' if seeds != 1 else ''} for it, and a verdict needs {MIN_PAIRS}"
                   if seeds < MIN_PAIRS else f"no row has {MIN_PAIRS} pairs of healthy seeds")
            line.update(verdict="unreliable", text=why)
        else:
            test = _line_test(number, reliable, "seed_differences")
            unit = "ln F" if number == 4 else "points"
            text = (f"mean difference {test['estimate']:+.2f} {unit} [{test['ci_low']:.2f}, {test['ci_high']:.2f}] "
                    f"over {test['n_seeds']} seeds, each averaged over {len(reliable)} reliable row"
                    f"{'s' if len(reliable) != 1 else ''} ({test['test']} test p = {test['p_value']:.2g}")
            if number == 2:
                text = "; ".join(f"at {x:g} − at 0.1: {t['estimate']:+.2f} [{t['ci_low']:.2f}, {t['ci_high']:.2f}] "
                                 f"over {t['n_seeds']} seeds (p = {t['p_value']:.2g})"
                                 for x, t in test["parts"].items())
                missing = [x for x in (0.05, 0.02) if x not in test["parts"]]
                text += (f"; {' and '.join(f'{x:g}' for x in missing)} not run: the line tests "
                         f"{' and '.join(f'{x:g}' for x in test['parts'])} alone" if missing else "")
                text += f" (each must hold; decided at {test['decided_at']:g}, p = {test['p_value']:.2g}"
            line.update(n_seeds=test["n_seeds"], estimate=test["estimate"], ci_low=test["ci_low"],
                        ci_high=test["ci_high"], half_width=(test["ci_high"] - test["ci_low"]) / 2, test=test["test"],
                        p_value=test["p_value"], reference_effect=float(reliable["reference_effect"].mean()),
                        direction=int(np.sign(test["estimate"])), text=text, _diffs=test["diffs"])
        out.append(line)
    lines = pd.DataFrame(out)
    for suffix in ("", "_all"):
        p = lines[f"p_value{suffix}"].tolist()
        lines[f"p_holm{suffix}"], lines[f"level{suffix}"] = holm(p), holm_levels(p)
    lines["power"], lines["verdict_all"], lines["health_changes_verdict"] = np.nan, "", False
    for i, line in lines.iterrows():
        claim = CLAIMS[int(line["claim"])]
        if line["verdict"] == "not run":
            lines.loc[i, "verdict_all"] = line["verdict"]
            continue
        verdict_all = verdict(len(line["_diffs_all"]), line["direction_all"], line["p_holm_all"],
                              power(line["_diffs_all"], line["_reference_all"], line["level_all"]), claim.direction)
        lines.loc[i, ["verdict_all", "health_changes_verdict"]] = [verdict_all, verdict_all != line["verdict"]]
        if line["verdict"] == "unreliable":
            if verdict_all != "unreliable":
                lines.loc[i, "text"] = (f"{line['text']}; over all pairs, unhealthy seeds included: {verdict_all} "
                                        f"{HEALTH_MARK}")
            continue
        power_ = power(line["_diffs"], line["reference_effect"], line["level"])
        verdict_ = verdict(line["n_seeds"], line["direction"], line["p_holm"], power_, claim.direction)
        lines.loc[i, ["power", "verdict", "health_changes_verdict"]] = [power_, verdict_, verdict_ != verdict_all]
        lines.loc[i, "text"] = (f"{line['text']}; Holm over the claims: {line['p_holm']:.2g}; power "
                                f"{power_:.2f} for the reference {line['reference_effect']:+.2f}); "
                                f"{line['rows_supported']} of {line['reliable_rows']} reliable rows supported "
                                "on their own" + (f"; over all pairs, unhealthy seeds included: {verdict_all} "
                                                  f"{HEALTH_MARK}" if verdict_ != verdict_all else ""))
    return lines.drop(columns=["_diffs", "_diffs_all", "_reference_all"])


