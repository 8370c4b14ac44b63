"""The statistics of paired seeds: an interval, a test, Holm's step-down correction, and the smallest effect a
design can detect. Plain arrays in and numbers out (numpy and scipy, no pandas), so that every claim, premise
and line is decided by the same few functions.

A seed fixes the initialisation and the data order, so two methods are compared by the differences of their
seeds (paired). Where every pair differs by the same amount (accuracy moves in steps of 100 / test images)
Student's t is undefined: an exact two-sided sign test takes its place and no interval is given.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05  # the family-wise error rate every family of rows and lines is held to
DESIGN_POWER = 0.8  # a study's design power: the smallest effect it detects this often at ALPHA


def zero_spread(diffs: np.ndarray) -> bool:
    """Every pair differs by the same amount, up to float rounding (a difference of logarithms, say)."""
    diffs = np.asarray(diffs, dtype=float)
    return len(diffs) >= 2 and bool(np.allclose(diffs, diffs[0], rtol=1e-9, atol=1e-12))


def interval(diffs: np.ndarray, alpha: float = ALPHA) -> tuple[float, float, float]:
    """(mean, low, high): the two-sided 1 − alpha Student's t interval of the mean difference. NaN bounds for
    fewer than two pairs, for zero spread (the sign test has no interval), and for a NaN alpha."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean()) if len(diffs) else float("nan")
    if len(diffs) < 2 or zero_spread(diffs) or not np.isfinite(alpha):
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(1 - alpha / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs)))
    return mean, mean - half, mean + half


def p_value(diffs: np.ndarray) -> float:
    """Two-sided paired t-test of a zero mean difference; at zero spread an exact two-sided sign test over the
    pairs (all zero: 1). NaN under two pairs."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) < 2:
        return float("nan")
    if zero_spread(diffs):
        return 1.0 if abs(diffs[0]) <= 1e-12 else float(stats.binomtest(len(diffs), len(diffs)).pvalue)
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


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


def holm_levels(p_values: list[float], alpha: float = ALPHA) -> list[float]:
    """The level at which Holm's step-down decides each p-value: alpha / (m − rank) for the rows it rejects
    (rank 0 for the smallest p), and for the first row it does not reject and every row after it, the level at
    which the procedure stopped: testing does not go on past a non-rejection."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    order = _ascending(p)
    stopped = None
    for rank, i in enumerate(order):
        level = alpha / (len(order) - rank)
        if stopped is None and not p[i] <= level:
            stopped = level
        out[i] = level if stopped is None else stopped
    return out.tolist()


def t_power(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """The power of a two-sided paired t-test at `alpha` over `n` pairs whose differences have standard deviation
    `sd`, to detect a true mean difference `effect` (noncentral t, n − 1 degrees of freedom)."""
    from scipy import stats

    noncentrality = abs(effect) / (sd / np.sqrt(n))
    critical = stats.t.ppf(1 - alpha / 2, n - 1)
    lower = stats.nct.cdf(-critical, n - 1, noncentrality)
    return float(stats.nct.sf(critical, n - 1, noncentrality) + (lower if np.isfinite(lower) else 0.0))


def smallest_detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = DESIGN_POWER) -> float:
    """The smallest true mean difference that a paired t-test over `n` pairs with spread `sd` detects with
    `power` at `alpha`: a study's design power, stated before it runs (never from a row's own spread)."""
    from scipy.optimize import brentq

    return float(brentq(lambda effect: t_power(effect, sd, n, alpha) - power, 1e-9 * sd, 100 * sd))


def bonferroni_level(p_values: list[float], alpha: float = ALPHA) -> float:
    """alpha over the number of tested (not NaN) p-values of a family: intervals at this level hold together with
    probability at least 1 − alpha (simultaneous coverage, which Holm's stepped levels do not give)."""
    tested = int(np.count_nonzero(~np.isnan(np.asarray(p_values, dtype=float))))
    return alpha / tested if tested else float("nan")


def fieller(gain: np.ndarray, loss: np.ndarray, alpha: float = ALPHA) -> tuple[float, float, float]:
    """(share, low, high): the share of a loss that a gain recovers, mean(gain) / mean(loss), over paired seeds,
    and Fieller's 1 − alpha interval: every share r whose paired t-test of gain − r·loss does not reject zero,
    so the interval and the per-seed test of a share never disagree. Unbounded where the loss itself is not
    told apart from zero at that level (-inf or inf bounds; NaN for fewer than 3 pairs)."""
    from scipy import stats

    gain, loss = np.asarray(gain, dtype=float), np.asarray(loss, dtype=float)
    n = len(gain)
    share = float(gain.mean() / loss.mean()) if n and loss.mean() != 0 else float("nan")
    if n < 3 or not np.isfinite(alpha):
        return share, float("nan"), float("nan")
    q = float(stats.t.ppf(1 - alpha / 2, n - 1)) ** 2 / n
    s = np.cov(np.vstack([gain, loss]), ddof=1)
    a = loss.mean() ** 2 - q * s[1, 1]  # (l̄² − q s_ll) r² − 2 (ḡ l̄ − q s_gl) r + (ḡ² − q s_gg) <= 0
    b = gain.mean() * loss.mean() - q * s[0, 1]
    c = gain.mean() ** 2 - q * s[0, 0]
    disc = b * b - a * c
    if a > 0 and disc >= 0:
        return share, float((b - np.sqrt(disc)) / a), float((b + np.sqrt(disc)) / a)
    return share, float("-inf"), float("inf")


def pilot_design_effect(pilot_diffs: np.ndarray, n: int, alpha: float = ALPHA, power: float = DESIGN_POWER,
                        bound: float = 0.8) -> tuple[float, float, float]:
    """(sd, sd_upper, effect): a pilot's paired differences between pruned networks give the spread a study's
    differences will have; its upper `bound` confidence limit (chi-square on k − 1 degrees of freedom) guards
    against a pilot's small k, and the study's design power is stated at that limit: the smallest effect `n`
    paired seeds detect with `power` at `alpha`."""
    from scipy import stats

    diffs = np.asarray(pilot_diffs, dtype=float)
    k = len(diffs)
    if k < 2:
        raise ValueError(f"a pilot needs at least 2 paired differences, got {k}")
    sd = float(diffs.std(ddof=1))
    upper = float(sd * np.sqrt((k - 1) / stats.chi2.ppf(1 - bound, k - 1)))
    return sd, upper, smallest_detectable_effect(upper, n, alpha, power)
