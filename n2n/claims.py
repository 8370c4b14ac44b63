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

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from n2n.health import HealthOptions, health_column
from n2n.io import read_cells, write_parquet, write_text
from n2n.reference import load_reference

LEVEL = 0.95
ALPHA = 1 - LEVEL
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


def interval(diffs: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of the per-seed differences: Student's t interval; NaN bounds for one seed."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean()) if len(diffs) else float("nan")
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def zero_spread(diffs: np.ndarray) -> bool:
    """Every pair differs by the same amount, up to float rounding (a difference of logarithms, say)."""
    return len(diffs) >= 2 and bool(np.allclose(diffs, diffs[0], rtol=1e-9, atol=1e-12))


def p_value(diffs: np.ndarray) -> float:
    """Two-sided paired t-test of a zero mean difference. Where every pair differs by the same amount the t
    statistic is undefined: an exact two-sided sign test over the pairs (all zero: 1)."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) < 2:
        return float("nan")
    if zero_spread(diffs):
        return 1.0 if abs(diffs[0]) <= 1e-12 else float(stats.binomtest(len(diffs), len(diffs)).pvalue)
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def power(diffs: np.ndarray, effect: float, level: float) -> float:
    """The power of the two-sided paired t-test at `level` to detect a true mean difference `effect`, with the
    observed spread: P(|T| > t_crit) for T noncentral t with n − 1 degrees of freedom and noncentrality
    |effect| / (sd / sqrt(n)). Zero spread: the exact sign test's power when every pair shows the effect's
    sign, 1 if its smallest p (2 / 2^n) is below `level`, else 0. NaN without an effect or two pairs."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    n = len(diffs)
    if n < 2 or not np.isfinite(effect) or not np.isfinite(level):
        return float("nan")
    if zero_spread(diffs):
        return float(2.0 ** (1 - n) < level)
    noncentrality = abs(effect) / (diffs.std(ddof=1) / np.sqrt(n))
    critical = stats.t.ppf(1 - level / 2, n - 1)
    upper, lower = stats.nct.sf(critical, n - 1, noncentrality), stats.nct.cdf(-critical, n - 1, noncentrality)
    # far from zero, scipy's lower tail underflows to NaN where it is below 1e-30
    return float(upper + (lower if np.isfinite(lower) else 0.0))


def _ascending(p: np.ndarray) -> np.ndarray:
    """Indices of the tested (not NaN) p-values, smallest first: the order Holm's step-down takes them in."""
    tested = np.flatnonzero(~np.isnan(p))
    return tested[np.argsort(p[tested], kind="stable")]


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    order = _ascending(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out.tolist()


def holm_levels(p_values: list[float]) -> list[float]:
    """The level Holm's step-down compares each p-value with: alpha / (m − rank), rank 0 for the smallest p."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    order = _ascending(p)
    for rank, i in enumerate(order):
        out[i] = ALPHA / (len(order) - rank)
    return out.tolist()


def verdict(n_pairs: int, difference: float, p_holm: float, power_: float, direction: int) -> str:
    if n_pairs < MIN_PAIRS:
        return "unreliable"
    if p_holm < ALPHA:
        return "supported" if np.sign(difference) == direction else "contradicted"
    return "inconclusive" if power_ >= POWER else "underpowered"


def _base(method: str) -> str:
    return method.split("-", 1)[1] if "-" in method else method


@dataclass
class Pairs:
    """One row's paired differences by seed: over healthy pairs, over all pairs, and the seeds left out."""

    key: dict[str, Any]
    diffs: pd.Series  # by seed, healthy pairs
    all_diffs: pd.Series  # by seed, every pair
    excluded: dict[int, list[str]]  # seed -> "method: reason"

    def minus(self, other: Pairs) -> Pairs:
        excluded = {s: sorted(set(self.excluded.get(s, []) + other.excluded.get(s, [])))
                    for s in {*self.excluded, *other.excluded}}

        def sub(a: pd.Series, b: pd.Series) -> pd.Series:
            seeds = a.index.intersection(b.index)
            return (a[seeds] - b[seeds]).rename(None)

        return Pairs(self.key, sub(self.diffs, other.diffs), sub(self.all_diffs, other.all_diffs), excluded)


def _pairs(frame: pd.DataFrame, value: str, claim: Claim,
           transform: Callable[[pd.Series], pd.Series] = lambda v: v) -> list[Pairs]:
    """(model, dataset, density, base) -> per-seed transform(value)(first) − transform(value)(second), the
    claim's two methods for the base, over the seeds both have, healthy (column `unhealthy`: '' or the
    reasons) and all."""
    out = []
    if frame.empty:
        return out
    if "unhealthy" not in frame:
        frame = frame.assign(unhealthy="")
    for (model, dataset, density), group in frame.groupby(["model", "dataset", "density"], sort=False):
        bases = claim.bases or tuple(dict.fromkeys(group["method"].map(_base)))
        for base in bases:
            names = claim.methods(base)
            sides = [group[group["method"] == name].set_index("seed") for name in names]
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
            diffs = (transform(sides[0].loc[seeds, value]) - transform(sides[1].loc[seeds, value])).rename(None)
            key = {"model": model, "dataset": dataset, "density": float(density), "base": base,
                   "comparison": f"{names[0]} − {names[1]}"}
            out.append(Pairs(key, diffs[healthy], diffs, excluded))
    return out


def _excluded_text(excluded: dict[int, list[str]]) -> str:
    """'rp cut apart: seeds 0, 1; n2nskip-rp at chance: seed 3'."""
    by_reason: dict[str, list[int]] = {}
    for seed, reasons in sorted(excluded.items()):
        for reason in reasons:
            by_reason.setdefault(reason, []).append(seed)
    return "; ".join(f"{reason}: seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                     for reason, seeds in by_reason.items())


def _by_seed(diffs: pd.Series) -> str:
    return json.dumps({str(int(s)): float(v) for s, v in diffs.sort_index().items()})


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
            "n_pairs": len(diffs), "n_excluded": len(pairs.excluded), "excluded": _excluded_text(pairs.excluded),
            "difference": test["estimate"], "ci_low": test["ci_low"], "ci_high": test["ci_high"],
            "half_width": (test["ci_high"] - test["ci_low"]) / 2, "test": test["test"], "p_value": test["p_value"],
            "reference_effect": reference[0], "reference_source": reference[1],
            "seed_differences": _by_seed(pairs.diffs), "n_pairs_all": len(pairs.all_diffs),
            "difference_all": float(pairs.all_diffs.mean()) if len(pairs.all_diffs) else float("nan"),
            "seed_differences_all": _by_seed(pairs.all_diffs)}


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
    for pairs in _pairs(acc, "test_accuracy", CLAIMS[1]):
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
                 for pairs in _pairs(acc, "test_accuracy", claim)]
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
            for pairs in _pairs(at, "test_accuracy", CLAIMS[3])]


def connectivity_claims(heat: pd.DataFrame, t_sat: float, options: ClaimOptions = ClaimOptions()
                        ) -> list[dict[str, Any]]:
    """Claim 4 from Table 3's cells: ln F at t_sat per seed, paired like the accuracy claims (F spans orders
    of magnitude: a ratio is its natural unit); the reference is ln of the paper's F ratio."""
    at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)] if not heat.empty else heat
    # the paper's Table 3 names no data set; its networks are Table 1's CIFAR-10 ones (our reading)
    ref = load_reference("table3").assign(dataset="cifar10")
    rows = []
    for pairs in _pairs(at, "F", CLAIMS[4], transform=np.log):
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
    for pairs in _pairs(high, "test_accuracy", CLAIMS[5]):
        k = pairs.key
        paper = _paper_effect(ref, "accuracy", k["model"], k["dataset"], *CLAIMS[5].methods(k["base"]), k["density"],
                              "Figure 6, read off")
        rows.append(_row(CLAIMS[5], pairs, "test accuracy (%)", _or_smallest(paper, CLAIMS[5], options)))
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


def _diffs(text: Any) -> pd.Series:
    return pd.Series({int(k): v for k, v in json.loads(text).items()}, dtype=float) if isinstance(text, str) \
        else pd.Series(dtype=float)


def _decide(family: list[dict[str, Any]], direction: int) -> None:
    """Holm within the family, each row's level and power, its verdict; then the same over all pairs."""
    for r, adjusted, level in zip(family, holm([r["p_value"] for r in family]),
                                  holm_levels([r["p_value"] for r in family])):
        diffs = _diffs(r["seed_differences"]).to_numpy()
        r.update(p_holm=adjusted, level=level, power=power(diffs, r["reference_effect"], level))
        r["excludes_reference"] = bool(pd.notna(r["ci_low"]) and not r["ci_low"] <= r["reference_effect"]
                                       <= r["ci_high"])
        r["verdict"] = verdict(r["n_pairs"], r["difference"], adjusted, r["power"], direction)
    every = [_diffs(r["seed_differences_all"]).to_numpy() for r in family]
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
    frames = [_diffs(text) for text in rows[column]]
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
