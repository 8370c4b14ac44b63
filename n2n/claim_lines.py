"""One line per premise and per claim, the claim's one decision: its reliable rows pooled at the seed level, tested
over seeds, and decided within its family (the premises, the paper's claims, the controls).

The rows of a claim share seeds (the same initialisation and data order), so they are not independent: each
seed's differences are averaged over the rows in which it is a healthy pair, and the test runs over those
per-seed means; so are its differences less the reference (gain − r × loss for a scaled one) and, for a
recovery claim, its losses. Claim 2 and premise P2 say "at each lower density": each lower density is pooled on
its own. The line is supported only where every part is (an intersection-union test, valid at the line's level
without correction: its p is the largest part's), and contradicted where any part goes against it after Holm over
the parts (a union: its p is the smallest Holm-adjusted p of the parts against, its levels divided by the
number of parts).

Within a family the lines' p-values are Holm-corrected: a line rejects zero where its Holm-adjusted p is below
ALPHA, and its interval is shown at Holm's level. The readings against the reference (*smaller than*, *ruled
out*) use the interval at Bonferroni's level, ALPHA over the family's tested lines: those intervals hold together
with probability at least 1 − ALPHA, which Holm's stepped levels do not give.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from n2n.claims import ALL, COLUMNS, FAMILIES, HEALTH_MARK, HELD, INTEREST, MIN_PAIRS, NOT_MEASURED, NOT_MET, \
    NOT_RUN, NOT_SHOWN, SCALED, UNRELIABLE, ClaimOptions, _test, claim_rows, decide, read_rows
from n2n.health import HealthOptions
from n2n.pairing import seed_differences
from n2n.stats import ALPHA, bonferroni_level, fieller, holm, holm_levels, interval

BY_DENSITY = ("2", "P2")  # lines that must hold at each lower density on its own


def pooled(rows: pd.DataFrame, column: str) -> pd.Series:
    """Each seed's values averaged over the rows in which it is a pair: one value per seed."""
    frames = [seed_differences(text) for text in rows[column]]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, axis=1).mean(axis=1).sort_index() if frames else pd.Series(dtype=float)


def _pooled_test(rows: pd.DataFrame, suffix: str) -> dict[str, Any]:
    diffs = pooled(rows, f"seed_differences{suffix}")
    versus = pooled(rows, f"seed_versus{suffix}")
    return {"diffs": diffs.to_numpy(dtype=float), "versus": versus.to_numpy(dtype=float),
            "losses": pooled(rows, "seed_losses") if not suffix else pd.Series(dtype=float),
            "gains": diffs, "n_seeds": len(diffs), **_test(diffs.to_numpy(dtype=float))}


def line_test(number: str, rows: pd.DataFrame, suffix: str = "") -> dict[str, Any]:
    """A line's pooled test; for claim 2 and P2 the part that decides it, with `parts` and `divisor` (the number
    of parts its levels are divided by: the union over the parts against the claim)."""
    if number not in BY_DENSITY:
        return {**_pooled_test(rows, suffix), "divisor": 1}
    direction = ALL[number].direction
    parts = {x: _pooled_test(rows[np.isclose(rows["density"], x)], suffix)
             for x in sorted(rows["density"].unique(), reverse=True)}
    against = [x for x, t in parts.items() if np.sign(t["estimate"]) != direction]
    if against:  # a union: Holm over every part, the smallest adjusted p among those against
        adjusted = dict(zip(parts, holm([t["p_value"] for t in parts.values()])))
        x = min(against, key=lambda k: (np.nan_to_num(adjusted[k], nan=np.inf), k))
        return {**parts[x], "p_value": adjusted[x], "parts": parts, "decided_at": x, "divisor": len(parts)}
    # an intersection-union: every part must hold, so the largest p decides (no correction needed)
    x = max(parts, key=lambda k: np.nan_to_num(parts[k]["p_value"], nan=np.inf))
    return {**parts[x], "parts": parts, "decided_at": x, "divisor": 1}


def bounds(low: float, high: float) -> str:
    """'[0.10, 0.77]', or what stands in where there is no interval (zero spread)."""
    if np.isfinite(low) and np.isfinite(high):
        return f"[{low:.2f}, {high:.2f}]"
    if np.isinf(low) or np.isinf(high):
        return "unbounded (the loss is not told apart from zero)"
    return "no interval (zero spread)"


def line_premise(rows: pd.DataFrame) -> str:
    """A line's premise over its reliable rows: the rows' status where they all share it; holds where every row's
    holds; where none does, the first of not met, not shown and not measured that a row has; else in how many
    rows it holds."""
    statuses = [s for s in rows["premise"] if isinstance(s, str) and s]
    if not statuses:
        return ""
    if len(set(statuses)) == 1:
        return statuses[0]
    held = sum(s in HELD for s in statuses)
    if held == len(statuses):
        return HELD[0]
    if held == 0:
        return next(s for s in (NOT_MET, NOT_SHOWN, NOT_MEASURED) if s in statuses)
    return f"holds in {held} of {len(statuses)} rows"


def _text(number: str, test: dict[str, Any], reliable: int) -> str:
    unit = "ln F" if number == "4" else "points"
    if number in BY_DENSITY:
        text = "; ".join(f"at {x:g}: {t['estimate']:+.2f} {bounds(t['ci_low'], t['ci_high'])} over "
                         f"{t['n_seeds']} seeds (p = {t['p_value']:.2g})" for x, t in test["parts"].items())
        missing = [x for x in (0.05, 0.02) if x not in test["parts"]]
        if missing:
            text += (f"; {' and '.join(f'{x:g}' for x in missing)} not run: the line tests "
                     f"{' and '.join(f'{x:g}' for x in test['parts'])} alone")
        how = "every part must hold" if test["divisor"] == 1 else f"Holm over the {test['divisor']} parts"
        return f"{text} ({how}; decided at {test['decided_at']:g}, p = {test['p_value']:.2g}"
    return (f"mean difference {test['estimate']:+.2f} {unit} {bounds(test['ci_low'], test['ci_high'])} over "
            f"{test['n_seeds']} seeds, each averaged over {reliable} reliable row{'s' if reliable != 1 else ''} "
            f"({test['test']} test p = {test['p_value']:.2g}")


def _kind(rows: pd.DataFrame) -> str:
    """The line's reference: the smallest effect of interest where every row's is; scaled where every row's is."""
    kinds = set(rows["reference_kind"].dropna())
    return kinds.pop() if len(kinds) == 1 else "paper"


def _line(number: str, table: pd.DataFrame) -> dict[str, Any]:
    claim = ALL[number]
    rows = table[(table["claim"] == number) & (table["verdict"] != NOT_RUN)]
    reliable = rows[rows["n_pairs"] >= MIN_PAIRS]
    line = {"claim": number, "statement": claim.statement, "family": claim.family, "rows": len(rows),
            "reliable_rows": len(reliable), "n_seeds": 0, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "half_width": np.nan, "test": "", "reference_effect": np.nan, "reference_kind": "", "p_value": np.nan,
            "p_value_all": np.nan, "verdict": "", "text": "", "share": np.nan, "share_low": np.nan,
            "share_high": np.nan, "paper_share": np.nan,
            "premise": line_premise(reliable if len(reliable) else rows) if claim.premise else "",
            "_test": None, "_test_all": None, "_kind_all": "paper"}
    if rows.empty:
        return {**line, "verdict": NOT_RUN, "text": "no cells in this run"}
    line["_test_all"] = line_test(number, rows, "_all")
    line["p_value_all"] = line["_test_all"]["p_value"]
    line["_kind_all"] = _kind(reliable if len(reliable) else rows)
    if reliable.empty:
        seeds = int((rows["n_pairs"] + rows["n_excluded"]).max())
        why = (f"the grid runs {seeds} seed{'s' if seeds != 1 else ''} for it, and a verdict needs {MIN_PAIRS}"
               if seeds < MIN_PAIRS else f"no row has {MIN_PAIRS} pairs of healthy seeds")
        return {**line, "verdict": UNRELIABLE, "text": why}
    test = line_test(number, reliable)
    return {**line, "n_seeds": test["n_seeds"], "estimate": test["estimate"], "ci_low": test["ci_low"],
            "ci_high": test["ci_high"], "half_width": (test["ci_high"] - test["ci_low"]) / 2, "test": test["test"],
            "p_value": test["p_value"], "reference_effect": float(reliable["reference_effect"].mean()),
            "reference_kind": _kind(reliable), "paper_share": float(reliable["paper_share"].mean()),
            "text": _text(number, test, len(reliable)), "_test": test}


def _decided(test: dict[str, Any], p_holm: float, level: float, level_equivalence: float, direction: int,
             kind: str) -> tuple[str, float, float, float, float]:
    """(verdict, low, high, versus_low, versus_high): zero decided by Holm, the interval at Holm's level and the
    difference less the reference at Bonferroni's (each divided for a union)."""
    _, low, high = interval(test["diffs"], level / test["divisor"])
    _, v_low, v_high = interval(test["versus"], level_equivalence / test["divisor"])
    verdict = decide(len(test["diffs"]), test["estimate"], bool(p_holm < ALPHA), v_low, v_high, direction, kind)
    return verdict, low, high, v_low, v_high


def _family_levels(lines: pd.DataFrame) -> pd.DataFrame:
    """Holm's adjusted p and level, and Bonferroni's level, within each family, over healthy and all pairs."""
    for column in ("p_holm", "level", "level_equivalence", "p_holm_all", "level_all", "level_equivalence_all"):
        lines[column] = np.nan
    for family in FAMILIES:
        inside = lines["family"] == family
        for suffix in ("", "_all"):
            p = lines.loc[inside, f"p_value{suffix}"].tolist()
            lines.loc[inside, f"p_holm{suffix}"], lines.loc[inside, f"level{suffix}"] = holm(p), holm_levels(p)
            lines.loc[inside, f"level_equivalence{suffix}"] = bonferroni_level(p)
    return lines


def line_levels(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each claim's levels, at which its rows are read: Holm's and Bonferroni's, over healthy and all pairs,
    divided by the parts of a union."""
    lines = _family_levels(pd.DataFrame([_line(number, table) for number in ALL]))
    out = {}
    for _, line in lines.iterrows():
        divisors = [t["divisor"] if t else 1 for t in (line["_test"], line["_test_all"])]
        out[line["claim"]] = {key: line[key] / divisors[key.endswith("_all")] for key in
                              ("level", "level_equivalence", "level_all", "level_equivalence_all")}
    return out


def _share_text(test: dict[str, Any], level: float, paper_share: float) -> tuple[str, tuple[float, float, float]]:
    losses = test["losses"]
    if not len(losses) or not np.isfinite(paper_share):
        return "", (np.nan, np.nan, np.nan)
    gains = test["gains"][losses.index].to_numpy()
    share = fieller(gains, losses.to_numpy(), level)
    return (f"; share of the run's loss recovered {share[0]:.2f} {bounds(share[1], share[2])} at level {level:.3g} "
            f"(Fieller), against the paper's {paper_share:.2f}"), share


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per premise and claim, in the page's order: three families (the premises, the paper's claims,
    the controls), each Holm-corrected over its lines, and the same over all pairs, unhealthy seeds included."""
    lines = _family_levels(pd.DataFrame([_line(number, table) for number in ALL]))
    for column in ("decision_low", "decision_high", "versus_low", "versus_high"):
        lines[column] = np.nan
    lines["verdict_all"], lines["health_changes_verdict"] = "", False
    for i, line in lines.iterrows():
        direction = ALL[line["claim"]].direction
        if line["verdict"] == NOT_RUN:
            lines.loc[i, "verdict_all"] = NOT_RUN
            continue
        verdict_all = _decided(line["_test_all"], line["p_holm_all"], line["level_all"],
                               line["level_equivalence_all"], direction, line["_kind_all"])[0]
        lines.loc[i, ["verdict_all", "health_changes_verdict"]] = [verdict_all, verdict_all != line["verdict"]]
        if line["verdict"] == UNRELIABLE:
            if verdict_all != UNRELIABLE:
                lines.loc[i, "text"] = f"{line['text']}; over all pairs, unhealthy seeds included: {verdict_all} {HEALTH_MARK}"
            continue
        test = line["_test"]
        verdict, low, high, v_low, v_high = _decided(test, line["p_holm"], line["level"], line["level_equivalence"],
                                                     direction, line["reference_kind"])
        at, at_equivalence = line["level"] / test["divisor"], line["level_equivalence"] / test["divisor"]
        share_text, share = _share_text(test, at_equivalence, line["paper_share"]) \
            if line["reference_kind"] == SCALED and line["claim"] != "2" else ("", (np.nan,) * 3)
        reference = "the effect of interest" if line["reference_kind"] == INTEREST else "the reference"
        lines.loc[i, ["verdict", "decision_low", "decision_high", "versus_low", "versus_high",
                      "health_changes_verdict", "share", "share_low", "share_high"]] = [
            verdict, low, high, v_low, v_high, verdict != verdict_all, *share]
        lines.loc[i, "text"] = (
            f"{line['text']}; Holm over {FAMILIES[line['family']]}: {line['p_holm']:.2g}, interval at its level "
            f"{at:.3g}: {bounds(low, high)}); less {reference} ({line['reference_effect']:+.2f}) at Bonferroni's "
            f"level {at_equivalence:.3g}: {bounds(v_low, v_high)}{share_text}"
            + (f"; over all pairs, unhealthy seeds included: {verdict_all} {HEALTH_MARK}" if verdict != verdict_all
               else ""))
    return lines.drop(columns=["_test", "_test_all", "_kind_all"])


def claims_table(acc: pd.DataFrame, metrics: pd.DataFrame, heat: pd.DataFrame, skips: pd.DataFrame,
                 t_sat: float, options: ClaimOptions = ClaimOptions(), health: pd.DataFrame | None = None,
                 health_options: HealthOptions = HealthOptions()) -> pd.DataFrame:
    """Every premise's and claim's rows (n2n.claims), each read at its line's levels; a claim without cells is
    one row, verdict *not run*. `health`: the acc.json rows of every cell read (acc and skips are their own
    when it is None)."""
    rows = claim_rows(acc, metrics, heat, skips, t_sat, options, health, health_options)
    return read_rows(rows, line_levels(pd.DataFrame(rows, columns=COLUMNS)))
