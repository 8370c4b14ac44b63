"""A study's cells file: what the claims read, per cell and seed, small enough to keep in the repository.

`tables/cells.parquet` (written by the claims stage) holds one row per (model, dataset, method, density, seed)
of the claims' grids: which grids it belongs to, its final test accuracy, its accuracy at the early epoch
(claim 3), F at t_sat (claim 4), the health facts (n2n.health.FIELDS), and the commit, CPU and date of the
run. Its `attrs` carry the settings the claims were computed with (t_sat, the claims and health options), so
`python -m n2n claims --cells studies/<study>/cells.parquet` recomputes every premise, claim and verdict
from the repository alone, with no weights, masks or retraining.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from n2n.health import FIELDS

KEYS = ["model", "dataset", "method", "density", "seed"]
GRIDS = ("table1", "convergence", "table3", "skip_comparison")  # n2n.outputs.CLAIM_GRIDS, by name
COLUMNS = [*KEYS, *(f"in_{g}" for g in GRIDS), "test_accuracy", "early_epoch", "early_accuracy", "F",
           *[f for f in FIELDS if f != "test_accuracy"], "min_layer_kept_name", "commit", "cpu", "date"]


def cells_frame(frames: dict[str, pd.DataFrame], t_sat: float, early_epoch: int, run: dict[str, str],
                settings: dict[str, Any]) -> pd.DataFrame:
    """The cells file from the claims stage's frames: `frames[g]` for each grid of GRIDS (acc.json rows;
    metrics rows for convergence; heat rows for table3) and `frames['health']` (the acc.json of every cell).
    `run`: commit, cpu, date. `settings`: t_sat, claims and health options, kept in attrs."""
    health = frames["health"]
    if health.empty:
        return pd.DataFrame(columns=COLUMNS)
    cells = health.drop_duplicates(KEYS).reset_index(drop=True)
    cells = cells[[c for c in COLUMNS if c in cells]].copy()
    for grid in GRIDS:
        members = frames[grid][KEYS].drop_duplicates() if not frames[grid].empty else pd.DataFrame(columns=KEYS)
        flag = cells[KEYS].merge(members.assign(_in=True), on=KEYS, how="left")["_in"]
        cells[f"in_{grid}"] = flag.fillna(False).astype(bool).to_numpy()
    metrics = frames["convergence"]
    epoch = min(early_epoch, int(metrics["epoch"].max())) if not metrics.empty else np.nan
    cells["early_epoch"] = epoch
    if not metrics.empty:
        early = metrics[metrics["epoch"] == epoch][KEYS + ["test_accuracy"]].rename(
            columns={"test_accuracy": "early_accuracy"})
        cells = cells.merge(early.drop_duplicates(KEYS), on=KEYS, how="left")
    heat = frames["table3"]
    if not heat.empty:
        at = heat[np.isclose(heat["t"], t_sat, rtol=1e-9)][KEYS + ["F"]]
        cells = cells.merge(at.drop_duplicates(KEYS), on=KEYS, how="left")
    for column in COLUMNS:
        if column not in cells:
            cells[column] = run.get(column, np.nan)
    cells = cells[COLUMNS].sort_values(KEYS, ignore_index=True)
    cells.attrs = {"t_sat": float(t_sat), **settings}
    return cells


def claim_frames(cells: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The frames n2n.claim_lines.claims_table reads, back from a cells file."""
    t_sat = float(cells.attrs.get("t_sat", 1.0))
    health = cells[KEYS + ["test_accuracy"] + [c for c in FIELDS if c in cells]]
    convergence = cells[cells["in_convergence"] & cells["early_accuracy"].notna()]
    table3 = cells[cells["in_table3"] & cells["F"].notna()]
    return {
        "table1": cells[cells["in_table1"]][KEYS + ["test_accuracy"]],
        "convergence": convergence[KEYS].assign(epoch=convergence["early_epoch"].astype(int),
                                                test_accuracy=convergence["early_accuracy"]),
        "table3": table3[KEYS + ["F"]].assign(t=t_sat),
        "skip_comparison": cells[cells["in_skip_comparison"]][KEYS + ["test_accuracy"]],
        "health": health,
    }


def run_facts(root: str | Path = ".") -> dict[str, str]:
    """The commit, CPU and date a run's cells file records."""
    from n2n.provenance import commit, machine

    return {"commit": commit(Path(root)), "cpu": machine(), "date": datetime.date.today().isoformat()}
