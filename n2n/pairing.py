"""Cells paired into a claim's rows: the per-seed differences of two methods in one (model, data set, density,
pruner), over the seeds healthy in both and over all of them, with the seeds left out and why.

Seeds are paired: a seed fixes the sequential weights' initialisation (a network with skips starts from exactly
its reference's weights) and every epoch's data order, so the difference between two methods within one seed
removes that variance. A pair counts only when both of its seeds are healthy (n2n.health).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from n2n.health import HealthOptions, health_column


def base_of(method: str) -> str:
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

    def restricted(self, healthy: pd.Index, every: pd.Index) -> Pairs:
        """These pairs over the given seeds only (healthy pairs, and all pairs)."""
        return Pairs(self.key, self.diffs[self.diffs.index.intersection(healthy)],
                     self.all_diffs[self.all_diffs.index.intersection(every)], self.excluded)

    def aligned(self, other: Pairs) -> tuple[Pairs, Pairs]:
        """Both over the seeds both have (a seed left out of either is left out of both), with both's reasons."""
        excluded = {s: sorted(set(self.excluded.get(s, []) + other.excluded.get(s, [])))
                    for s in {*self.excluded, *other.excluded}}
        healthy = self.diffs.index.intersection(other.diffs.index)
        every = self.all_diffs.index.intersection(other.all_diffs.index)
        mine, theirs = self.restricted(healthy, every), other.restricted(healthy, every)
        mine.excluded, theirs.excluded = excluded, excluded
        return mine, theirs


def pair_cells(frame: pd.DataFrame, value: str, claim: Any,
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
        bases = claim.bases or tuple(dict.fromkeys(group["method"].map(base_of)))
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


def excluded_text(excluded: dict[int, list[str]]) -> str:
    """'rp cut apart: seeds 0, 1; n2nskip-rp at chance: seed 3'."""
    by_reason: dict[str, list[int]] = {}
    for seed, reasons in sorted(excluded.items()):
        for reason in reasons:
            by_reason.setdefault(reason, []).append(seed)
    return "; ".join(f"{reason}: seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                     for reason, seeds in by_reason.items())


def by_seed(diffs: pd.Series) -> str:
    return json.dumps({str(int(s)): float(v) for s, v in diffs.sort_index().items()})


def with_health(frame: pd.DataFrame, health: pd.DataFrame | None, options: HealthOptions) -> pd.DataFrame:
    """`frame` with column `unhealthy` ('' or the reasons) from the cells' acc.json rows in `health`."""
    if health is None or health.empty or frame.empty:
        return frame.assign(unhealthy="")
    keys = ["model", "dataset", "method", "density", "seed"]
    reasons = health[keys].assign(unhealthy=health_column(health, options).to_numpy())
    frame = frame.drop(columns=["unhealthy"], errors="ignore").merge(reasons.drop_duplicates(keys), on=keys,
                                                                     how="left")
    return frame.assign(unhealthy=frame["unhealthy"].fillna(""))


def seed_differences(text: Any) -> pd.Series:
    return pd.Series({int(k): v for k, v in json.loads(text).items()}, dtype=float) if isinstance(text, str) \
        else pd.Series(dtype=float)


