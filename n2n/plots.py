"""The aggregate stage for figures (seaborn; PNG and PDF, written atomically)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from n2n.io import atomic_path, read_cells  # noqa: E402
from n2n.reference import load_reference  # noqa: E402


def _save(fig: plt.Figure, png_path: str, pdf_path: str) -> None:
    for path in (png_path, pdf_path):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _wrap(frame: pd.DataFrame, most: int = 4) -> int:
    """Columns of a panel grid: as many as there are panels, up to `most` (no empty columns)."""
    return max(1, min(most, frame["panel"].nunique()))


def convergence_figure(frame: pd.DataFrame) -> plt.Figure:
    """Test accuracy per epoch, one line per method (mean and sd band over seeds), a panel per model and cell."""
    from matplotlib.ticker import MaxNLocator

    frame = frame.dropna(subset=["test_accuracy"])  # epochs without a test (training.test_epochs)
    frame = frame.assign(panel=frame["model"] + " " + frame["dataset"] + " d=" + frame["density"].astype(str))
    grid = sns.relplot(data=frame, x="epoch", y="test_accuracy", hue="method", col="panel", col_wrap=_wrap(frame),
                       kind="line", errorbar="sd", height=3.5, aspect=1.3, facet_kws={"sharey": False})
    grid.set_axis_labels("epoch", "test accuracy (%)")
    grid.set_titles("{col_name}")
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    return grid.figure


# this run's methods get filled markers; the paper's points are crosses, a marker no method uses
RUN_MARKERS = ["o", "s", "^", "D", "v", "P"]
PAPER_MARKER = "X"


def skip_comparison_figure(frame: pd.DataFrame) -> plt.Figure:
    """Test error against density: N2NSkip vs ResSkip (paper's Figure 6), the paper's points as crosses."""
    frame = frame.assign(test_error=100 - frame["test_accuracy"], source="this run")
    ref = load_reference("skip_comparison")
    ref = ref[ref["model"].isin(frame["model"]) & ref["dataset"].isin(frame["dataset"])]
    methods = sorted(frame["method"].unique())
    markers = dict(zip(methods, RUN_MARKERS))
    panels = sorted(frame["dataset"].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], panels):
        sub = frame[frame["dataset"] == dataset]
        sns.lineplot(data=sub, x="density", y="test_error", hue="method", style="method", markers=markers,
                     dashes=False, hue_order=methods, errorbar="sd", ax=ax)
        paper = ref[ref["dataset"] == dataset]
        title = f"{sub['model'].iloc[0]} {dataset}"
        if len(paper):
            sns.scatterplot(data=paper, x="density", y="test_error", hue="method", hue_order=methods,
                            marker=PAPER_MARKER, s=50, legend=False, ax=ax, alpha=0.6)
            title += " (crosses: the paper)"
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("density")
        ax.set_ylabel("test error (%)")
    fig.tight_layout()
    return fig


def heat_signature_figure(frame: pd.DataFrame) -> plt.Figure:
    """F(t) against t for each method, one panel per (model, density)."""
    frame = frame[np.isfinite(frame["t"]) & (frame["F"] > 0)]
    frame = frame.assign(panel=frame["model"] + " d=" + frame["density"].astype(str))
    # min-max band over seeds: an sd band dips below zero on a log axis
    grid = sns.relplot(data=frame, x="t", y="F", hue="method", col="panel", col_wrap=_wrap(frame), kind="line",
                       errorbar=("pi", 100), height=3, aspect=1.2)
    grid.set(xscale="log", yscale="log")
    grid.set_axis_labels("t", "F(t) = ||S_dense(t) - S(t)||")
    grid.set_titles("{col_name}")
    return grid.figure


def heat_layers_figure(frame: pd.DataFrame, t_sat: float) -> plt.Figure:
    """Mean heat per layer at t_sat, one line per method, one panel per (model, density)."""
    frame = frame[np.isclose(frame["t"], t_sat)]
    frame = frame.assign(panel=frame["model"] + " d=" + frame["density"].astype(str))
    grid = sns.relplot(data=frame, x="layer", y="mean_S", hue="method", col="panel", col_wrap=_wrap(frame),
                       kind="line", errorbar=("pi", 100), height=3, aspect=1.2, facet_kws={"sharex": False})
    grid.set(yscale="log")
    grid.set_axis_labels("layer (activation index)", f"mean S(t={t_sat:g}) over channels")
    grid.set_titles("{col_name}")
    return grid.figure


def scree_figure(frame: pd.DataFrame, t_sat: float) -> plt.Figure:
    """alpha(K, t_sat) against K (percent of eigenvalues), per method (paper's Figure 4)."""
    frame = frame[np.isclose(frame["t"], t_sat)]
    frame = frame.assign(panel=frame["model"] + " d=" + frame["density"].astype(str),
                         percent=100 * frame["fraction"])
    grid = sns.relplot(data=frame, x="percent", y="alpha", hue="method", col="panel", col_wrap=_wrap(frame),
                       kind="line", errorbar=("pi", 100), height=3, aspect=1.2)
    grid.set_axis_labels("K (% of eigenvalues)", f"alpha(K, t={t_sat:g})")
    grid.set_titles("{col_name}")
    return grid.figure


def pruner_comparison_figure(frame: pd.DataFrame) -> plt.Figure:
    """Test accuracy of every pruner without and with N2NSkip (mean and sd over seeds), one panel per
    (model, density); a pair the grid did not run is marked "not run", not drawn as an empty bar, and a bar
    drawn from unhealthy seeds carries the tables' marks (†, ‡k, §k) above it."""
    from n2n.health import marks_text

    frame = frame.assign(pruner=frame["method"].str.replace(r"^(n2nskip|resskip)-", "", regex=True),
                         skips=np.where(frame["method"].str.startswith("n2nskip-"), "with N2NSkip", "without"),
                         panel=frame["model"] + " " + frame["dataset"] + " d=" + frame["density"].astype(str))
    pruners = list(dict.fromkeys(frame["pruner"]))
    kinds = ["without", "with N2NSkip"]
    colours = dict(zip(kinds, sns.color_palette(n_colors=2)))
    panels = list(dict.fromkeys(frame["panel"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(1.1 * len(pruners) + 1.5, 3.6), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        stats = frame[frame["panel"] == panel].groupby(["pruner", "skips"])["test_accuracy"].agg(["mean", "std"])
        for j, kind in enumerate(kinds):
            for i, pruner in enumerate(pruners):
                x = i + (j - 0.5) * 0.4
                if (pruner, kind) in stats.index:
                    mean, sd = stats.loc[(pruner, kind)]
                    ax.bar(x, mean, 0.4, yerr=0 if np.isnan(sd) else sd, color=colours[kind],
                           label=kind if kind not in ax.get_legend_handles_labels()[1] else None)
                    seeds = frame[(frame["panel"] == panel) & (frame["pruner"] == pruner) & (frame["skips"] == kind)]
                    marks = marks_text(seeds.to_dict("records"))
                    if marks:
                        ax.text(x, mean + (0 if np.isnan(sd) else sd) + 1, marks, ha="center", va="bottom",
                                fontsize=9, color="0.15")
                else:
                    ax.text(x, 1, "not run", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4")
        ax.set_xticks(range(len(pruners)), pruners)
        ax.set_xlim(-0.6, len(pruners) - 0.4)  # room for the last group's "not run" inside the frame
        ax.set_title(panel)
        ax.set_xlabel("pruner")
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(title="skips", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, not over the bars
    fig.tight_layout()
    return fig


def pruner_cost_figure(frame: pd.DataFrame) -> plt.Figure:
    """Test accuracy against kept multiply-adds per image, every pruner without and with N2NSkip."""
    frame = frame.assign(pruner=frame["method"].str.replace(r"^(n2nskip|resskip)-", "", regex=True),
                         skips=np.where(frame["method"].str.startswith("n2nskip-"), "with N2NSkip", "without"),
                         panel=frame["model"] + " " + frame["dataset"], mmacs=frame["macs"] / 1e6)
    grid = sns.relplot(data=frame, x="mmacs", y="test_accuracy", hue="pruner", style="skips", col="panel",
                       col_wrap=_wrap(frame), height=3.5, aspect=1.3, facet_kws={"sharex": False})
    grid.set(xscale="log")
    grid.set_axis_labels("kept multiply-adds per image (M)", "test accuracy (%)")
    grid.set_titles("{col_name}")
    return grid.figure


def layer_densities_figure(frame: pd.DataFrame) -> plt.Figure:
    """Density of every sequential layer, per method: the allocation each pruner chose (SCL learns it)."""
    rows = [{"model": r.model, "density": r.density, "method": r.method, "layer": i, "layer_density": v}
            for r in frame.itertuples() for i, v in enumerate(r.layer_densities.values())]
    data = pd.DataFrame(rows)
    data = data.assign(panel=data["model"] + " d=" + data["density"].astype(str))
    grid = sns.relplot(data=data, x="layer", y="layer_density", hue="method", col="panel", kind="line",
                       errorbar=("pi", 100), height=3.5, aspect=1.4)
    grid.set(yscale="log")
    grid.set_axis_labels("prunable layer (network order)", "kept fraction")
    grid.set_titles("{col_name}")
    return grid.figure


FIGURES = {"convergence": convergence_figure, "skip_comparison": skip_comparison_figure,
           "heat_signature": heat_signature_figure, "heat_layers": heat_layers_figure, "scree": scree_figure,
           "pruner_comparison": pruner_comparison_figure, "layer_densities": layer_densities_figure,
           "pruner_cost": pruner_cost_figure}
NEEDS_T_SAT = {"heat_layers", "scree"}


def run_figure(name: str, inputs: list[str], keys: list[dict[str, Any]], png_path: str, pdf_path: str,
               t_sat: float = 1.0) -> None:
    sns.set_theme(style="whitegrid", context="paper")
    frame = read_cells(inputs, keys)
    fig = FIGURES[name](frame, t_sat) if name in NEEDS_T_SAT else FIGURES[name](frame)
    _save(fig, png_path, pdf_path)
