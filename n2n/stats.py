"""The statistics of paired seeds: an interval, a test, the power of a test, and Holm's step-down correction.
Plain arrays in and numbers out (numpy and scipy, no pandas), so that every row and line of the claims is
decided by the same few functions.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95
ALPHA = 1 - LEVEL


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


