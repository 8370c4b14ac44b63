"""The aggregate stage for tables: long-form parquet (one row per table cell) and Markdown.

Every row carries n_seeds, mean, std, the paper's value and the difference. Tables 1 and 2 are
test accuracy (percent); Table 3 is the connectivity distance F(t) for every t of the grid,
with `is_t_sat` marking the rows at t_sat that the Markdown (and the paper) show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from n2n.health import (AT_CHANCE, CUT_APART, FIELDS, LOSS_NEVER_FELL, HealthOptions, format_marks, health_column,
                        legend)
from n2n.io import read_json, read_parquet, write_parquet, write_text
from n2n.outputs import TABLES
from n2n.reference import load_reference

KEYS = ["model", "dataset", "method", "density"]
# what a cell's network keeps and costs (acc.json, n2n.cost): kept parameters (skips included) and the
# dense reference's, inference multiply-adds per image and the dense reference's
COST = ["params_nonzero", "params_dense", "macs", "macs_dense"]


def _summarise(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False)[value]
    out = grouped.agg(n_seeds="count", mean="mean").reset_index()
    out["std"] = grouped.std(ddof=1).fillna(0.0).to_numpy()
    return out


def seeds_column(reason: str) -> str:
    """The table column counting a cell's seeds with this health reason: seeds_at_chance, ..."""
    return "seeds_" + reason.replace(" ", "_")


def accuracy_table(name: str, results: list[dict[str, Any]], health: HealthOptions = HealthOptions()
                   ) -> pd.DataFrame:
    """Table 1 or 2 from acc.json contents: accuracy (and measured density) per cell over seeds, and its
    health (n2n.health): whether the cell is cut apart, and how many seeds were at chance or never learned."""
    frame = pd.DataFrame(results)
    reasons = health_column(frame, health)
    seeds_with = {seeds_column(r): reasons.str.contains(r) for r in (CUT_APART, AT_CHANCE, LOSS_NEVER_FELL)}
    frame = frame.assign(**seeds_with)
    table = _summarise(frame, KEYS, "test_accuracy")
    counts = frame.groupby(KEYS, sort=False)[list(seeds_with)].sum()
    for column in counts:
        table[column] = counts[column].to_numpy().astype(int)
    table["cut_apart"] = table.pop(seeds_column(CUT_APART)) > 0
    if "min_layer_kept" in frame:
        table["min_layer_kept"] = frame.groupby(KEYS, sort=False)["min_layer_kept"].min().to_numpy()
    means = frame.groupby(KEYS, sort=False)[["measured_density", "layer_density_min", "layer_density_max",
                                             *[c for c in COST if c in frame]]].mean()
    for column in means:
        table[column] = means[column].to_numpy()
    table.insert(4, "statistic", "test_accuracy")
    ref = load_reference(name).rename(columns={"mean": "paper", "std": "paper_std"})
    table = table.merge(ref, on=KEYS, how="left")
    table["difference"] = table["mean"] - table["paper"]
    return table


def connectivity_table(frames: list[pd.DataFrame], t_sat: float) -> pd.DataFrame:
    """Table 3 from heat_distance frames (keys added): F(t) per cell over seeds, every t kept."""
    frame = pd.concat(frames, ignore_index=True)
    table = _summarise(frame, [*KEYS, "t"], "F")
    table.insert(4, "statistic", "F")
    table["is_t_sat"] = np.isclose(table["t"], t_sat, rtol=1e-9)
    # the paper's Table 3 names no data set; its networks are the CIFAR-10 ones of Table 1 (our reading)
    ref = load_reference("table3").rename(columns={"F": "paper"}).assign(dataset="cifar10")
    table = table.merge(ref, on=KEYS, how="left")
    table.loc[~table["is_t_sat"], "paper"] = np.nan
    table["difference"] = table["mean"] - table["paper"]
    return table


def _health_marks(row: pd.Series) -> str:
    """The health marks of a table's cell row (n2n.health.format_marks), after a space."""
    def seeds(reason: str) -> int:
        k = row.get(seeds_column(reason), 0)
        return int(k) if pd.notna(k) else 0

    marks = format_marks(bool(row.get("cut_apart", False)), seeds(AT_CHANCE), seeds(LOSS_NEVER_FELL))
    return f" {marks}" if marks else ""


def _cell_text(row: pd.Series, fmt: str) -> str:
    # one seed has no spread: say so rather than print a standard deviation of 0
    spread = f" ± {row['std']:{fmt}}" if row.get("n_seeds", 2) > 1 else " (1 seed)"
    text = f"{row['mean']:{fmt}}{spread}"
    if pd.notna(row.get("paper")):
        text += f" ({row['paper']:{fmt}})"
    return text + _health_marks(row)


def markdown(table: pd.DataFrame, title: str, fmt: str = ".2f", health: HealthOptions | None = None) -> str:
    """Rows (model, method) by columns (dataset, density), like the paper's tables."""
    table = table.copy()
    table["column"] = table["dataset"] + " d=" + table["density"].map(lambda d: f"{d:g}")
    table["text"] = table.apply(_cell_text, axis=1, fmt=fmt)
    columns = (table.sort_values(["dataset", "density"], ascending=[True, False])["column"].drop_duplicates().tolist())
    wide = table.pivot_table(index=["model", "method"], columns="column", values="text", aggfunc="first", sort=False)
    wide = wide.reindex(columns=columns).fillna("")
    notes = "mean ± std over seeds" + (", paper's value in parentheses" if table["paper"].notna().any() else "")
    if health is not None:
        notes += f"; {legend(health)} (k: how many seeds)"
    lines = [f"## {title}, on {', '.join(sorted(table['dataset'].unique()))}", "", notes, "",
             "| model | method | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for (model, method), row in wide.iterrows():
        lines.append(f"| {model} | {method} | " + " | ".join(row.tolist()) + " |")
    return "\n".join(lines) + "\n"


def _cells_markdown(table: pd.DataFrame, title: str, text) -> str:
    """One text per cell, `text(row)`, laid out like the tables: rows (model, method), columns (dataset, density)."""
    rows = {(r.model, r.method, r.dataset, r.density): text(r) for r in table.itertuples()}
    order = list(dict.fromkeys(zip(table["model"], table["method"])))
    wide = pd.Series(rows).unstack([2, 3]).reindex(order).fillna("")
    out = [f"## {title}", "", "| model | method | " + " | ".join(f"{d} d={x:g}" for d, x in wide.columns) + " |",
           "|---|---|" + "---|" * len(wide.columns)]
    for (model, method), row in wide.iterrows():
        out.append(f"| {model} | {method} | " + " | ".join(str(v) for v in row.tolist()) + " |")
    return "\n".join(out) + "\n"


def layer_range_markdown(table: pd.DataFrame) -> str:
    """How each method spreads its weights over layers: min-max of the layer-wise densities."""
    return _cells_markdown(table, "Layer-wise density (min – max over layers; uniform pruners differ only by rounding "
                                  "in small layers)", lambda r: f"{r.layer_density_min:.3f} – {r.layer_density_max:.3f}")


def cost_markdown(table: pd.DataFrame) -> str:
    """What each network keeps and costs: kept parameters and multiply-adds per image, and their
    fraction of the dense reference's (skips included; the same for every seed of a cell)."""
    def text(r) -> str:
        if pd.isna(r.macs):
            return "n/a"
        return (f"{r.params_nonzero / 1e6:.3g} M ({r.params_nonzero / r.params_dense:.3f}) / "
                f"{r.macs / 1e6:.3g} M ({r.macs / r.macs_dense:.3f})")

    return _cells_markdown(table, "Cost: kept parameters / multiply-adds per image (fraction of the dense network's)",
                           text)


def run_table(name: str, inputs: list[str], keys: list[dict[str, Any]], parquet_path: str, markdown_path: str,
              t_sat: float, health: dict[str, Any] | None = None) -> pd.DataFrame:
    if name == "table3":
        frames = []
        for path, key in zip(inputs, keys):
            f = read_parquet(path)
            frames.append(f.assign(**{k: key[k] for k in [*KEYS, "seed"]}))
        table = connectivity_table(frames, t_sat)
        text = markdown(table[table["is_t_sat"]], f"{TABLES[name].title} at t_sat = {t_sat:g}", fmt=".2e")
    else:
        results = []
        for path, key in zip(inputs, keys):
            acc = read_json(path)
            results.append({**key, "test_accuracy": acc["test_accuracy"], "measured_density": acc["density"],
                            "layer_density_min": acc["layer_density_min"],
                            "layer_density_max": acc["layer_density_max"],
                            **{c: acc.get(c, np.nan) for c in [*COST, *FIELDS]}})
        options = HealthOptions(**(health or {}))
        table = accuracy_table(name, results, options)
        text = markdown(table, TABLES[name].title, health=options)
        if name == "pruners":
            text += "\n" + layer_range_markdown(table)
        text += "\n" + cost_markdown(table)
    write_parquet(parquet_path, table)
    write_text(markdown_path, text)
    return table
