"""One line per premise and per claim: its reliable rows pooled at the seed level, tested over seeds, and decided
like a row (n2n.claims.decide) at the level Holm applies among the lines.

The rows of a claim share seeds (the same initialisation and data order), so they are not independent: each
seed's differences are averaged over the rows in which it is a healthy pair, and the test runs over those
per-seed means. Claim 2 and premise P2 say "at each lower density": each lower density is pooled on its own.
The line is supported only where every part is (an intersection-union test, valid at the line's level without
correction: its p is the largest part's), and contradicted where any part goes against it after Holm over the
parts (a union: its p is the smallest Holm-adjusted p of the parts against, its interval at the level divided
by the number of parts). The premise lines are one family and the claim lines another, each Holm-corrected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from n2n.claims import ALL, CLAIMS, HEALTH_MARK, HOLDS, MIN_PAIRS, NOT_MEASURED, NOT_MET, NOT_RUN, NOT_SHOWN, PREMISES, SMALLER, SUPPORTED, \
    UNRELIABLE, _test, decide
from n2n.pairing import seed_differences
from n2n.stats import ALPHA, holm, holm_levels, interval

BY_DENSITY = ("2", "P2")  # lines that must hold at each lower density on its own


def pooled(rows: pd.DataFrame, column: str) -> pd.Series:
    """Each seed's differences averaged over the rows in which it is a pair: one value per seed."""
    frames = [seed_differences(text) for text in rows[column]]
    return pd.concat(frames, axis=1).mean(axis=1).sort_index() if frames else pd.Series(dtype=float)


def _pooled_test(rows: pd.DataFrame, column: str) -> dict[str, Any]:
    diffs = pooled(rows, column).to_numpy(dtype=float)
    return {"diffs": diffs, "n_seeds": len(diffs), **_test(diffs)}


def line_test(number: str, rows: pd.DataFrame, column: str) -> dict[str, Any]:
    """A line's pooled test; for claim 2 and P2 the part that decides it, with `parts` and `divisor` (the number
    of parts its interval's level is divided by: the union over the parts against the claim)."""
    if number not in BY_DENSITY:
        return {**_pooled_test(rows, column), "divisor": 1}
    direction = ALL[number].direction
    parts = {x: _pooled_test(rows[np.isclose(rows["density"], x)], column)
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
    return f"[{low:.2f}, {high:.2f}]" if np.isfinite(low) and np.isfinite(high) else "no interval (zero spread)"


def line_premise(rows: pd.DataFrame) -> str:
    """A line's premise over its reliable rows: holds where every row's holds; where none does, the first of not
    met, not shown and not measured that a row has; else in how many rows it holds."""
    statuses = [s for s in rows["premise"] if isinstance(s, str) and s]
    if not statuses:
        return ""
    held = statuses.count(HOLDS)
    if held == len(statuses):
        return HOLDS
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


def _line(number: str, table: pd.DataFrame) -> dict[str, Any]:
    claim = ALL[number]
    rows = table[(table["claim"] == number) & (table["verdict"] != NOT_RUN)]
    reliable = rows[rows["n_pairs"] >= MIN_PAIRS]
    tally = ", ".join(f"{n} {v}" for v, n in rows["verdict"].value_counts().items())
    line = {"claim": number, "statement": claim.statement, "rows": len(rows), "reliable_rows": len(reliable),
            "rows_supported": int(reliable["verdict"].isin([SUPPORTED, SMALLER]).sum()), "tally": tally,
            "n_seeds": 0, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "half_width": np.nan, "test": "",
            "reference_effect": np.nan, "p_value": np.nan, "p_value_all": np.nan, "verdict": "", "text": "",
            "premise": line_premise(reliable if len(reliable) else rows) if claim.premise else "",
            "_test": None, "_test_all": None}
    if rows.empty:
        return {**line, "verdict": NOT_RUN, "text": "no cells in this run"}
    line["_test_all"] = line_test(number, rows, "seed_differences_all")
    line["p_value_all"] = line["_test_all"]["p_value"]
    # the all-pairs line's reference: the reliable rows' mean, or every row's where none is reliable
    line["_reference_all"] = float((reliable if len(reliable) else rows)["reference_effect"].mean())
    if reliable.empty:
        seeds = int((rows["n_pairs"] + rows["n_excluded"]).max())
        why = (f"the grid runs {seeds} seed{'s' if seeds != 1 else ''} for it, and a verdict needs {MIN_PAIRS}"
               if seeds < MIN_PAIRS else f"no row has {MIN_PAIRS} pairs of healthy seeds")
        return {**line, "verdict": UNRELIABLE, "text": why}
    test = line_test(number, reliable, "seed_differences")
    return {**line, "n_seeds": test["n_seeds"], "estimate": test["estimate"], "ci_low": test["ci_low"],
            "ci_high": test["ci_high"], "half_width": (test["ci_high"] - test["ci_low"]) / 2, "test": test["test"],
            "p_value": test["p_value"], "reference_effect": float(reliable["reference_effect"].mean()),
            "text": _text(number, test, len(reliable)), "_test": test}


def _decided(test: dict[str, Any], p_holm: float, level: float, reference: float, direction: int
             ) -> tuple[str, float, float]:
    """(verdict, low, high): the line decided at Holm's level, its interval there (divided for a union)."""
    _, low, high = interval(test["diffs"], level / test["divisor"])
    return decide(len(test["diffs"]), test["estimate"], p_holm < ALPHA, low, high, reference, direction), low, high


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per premise and claim, in the page's order; the premises and the claims are two families, each
    Holm-corrected over its lines, and the same is done over all pairs, unhealthy seeds included."""
    lines = pd.DataFrame([_line(number, table) for number in ALL])
    for column in ("p_holm", "level", "p_holm_all", "level_all"):
        lines[column] = np.nan
    for family in (PREMISES, CLAIMS):
        inside = lines["claim"].isin(list(family))
        for suffix in ("", "_all"):
            p = lines.loc[inside, f"p_value{suffix}"].tolist()
            lines.loc[inside, f"p_holm{suffix}"], lines.loc[inside, f"level{suffix}"] = holm(p), holm_levels(p)
    lines["decision_low"], lines["decision_high"] = np.nan, np.nan
    lines["verdict_all"], lines["health_changes_verdict"] = "", False
    for i, line in lines.iterrows():
        direction = ALL[line["claim"]].direction
        if line["verdict"] == NOT_RUN:
            lines.loc[i, "verdict_all"] = NOT_RUN
            continue
        verdict_all, _, _ = _decided(line["_test_all"], line["p_holm_all"], line["level_all"],
                                     line["_reference_all"], direction)
        lines.loc[i, ["verdict_all", "health_changes_verdict"]] = [verdict_all, verdict_all != line["verdict"]]
        if line["verdict"] == UNRELIABLE:
            if verdict_all != UNRELIABLE:
                lines.loc[i, "text"] = f"{line['text']}; over all pairs, unhealthy seeds included: {verdict_all} {HEALTH_MARK}"
            continue
        verdict, low, high = _decided(line["_test"], line["p_holm"], line["level"], line["reference_effect"],
                                      direction)
        family = "premises" if line["claim"] in PREMISES else "claims"
        lines.loc[i, ["verdict", "decision_low", "decision_high", "health_changes_verdict"]] = [
            verdict, low, high, verdict != verdict_all]
        at = line["level"] / line["_test"]["divisor"]
        lines.loc[i, "text"] = (
            f"{line['text']}; Holm over the {family}: {line['p_holm']:.2g}, decided at level {at:.3g}: "
            f"{bounds(low, high)} against the reference {line['reference_effect']:+.2f}); "
            f"{line['rows_supported']} of {line['reliable_rows']} reliable rows supported on their own"
            + (f"; over all pairs, unhealthy seeds included: {verdict_all} {HEALTH_MARK}" if verdict != verdict_all else ""))
    return lines.drop(columns=["_test", "_test_all", "_reference_all"])
