"""Tables: long form with the paper's value and the difference; Markdown laid out like the paper."""

import numpy as np
import pandas as pd
import pytest

from n2n.tables import accuracy_table, connectivity_table, markdown


def test_accuracy_table_against_the_paper():
    rows = [dict(model="vgg19", dataset="cifar10", method="rp", density=0.1, seed=s, test_accuracy=acc,
                 measured_density=0.1, layer_density_min=0.1, layer_density_max=0.1)
            for s, acc in enumerate([92.0, 93.0])]
    rows.append(dict(model="vgg19", dataset="cifar10", method="dense", density=1.0, seed=0, test_accuracy=93.5,
                     measured_density=1.0, layer_density_min=1.0, layer_density_max=1.0))
    table = accuracy_table("table1", rows)
    rp = table[table["method"] == "rp"].iloc[0]
    assert rp["n_seeds"] == 2 and rp["mean"] == 92.5 and rp["std"] == pytest.approx(np.std([92, 93], ddof=1))
    assert rp["paper"] == 92.08 and rp["difference"] == pytest.approx(0.42)
    text = markdown(table, "Table 1")
    assert "| vgg19 | rp |" in text and "92.50 ± 0.71 (92.08)" in text
    header = [line for line in text.splitlines() if line.startswith("| model")][0]
    assert header.index("cifar10 d=1") < header.index("cifar10 d=0.1")  # densities descending, like the paper
    assert "| vgg19 | dense | 93.50 (1 seed) (93.16)" in text  # no spread is printed for a single seed


def test_connectivity_table_marks_t_sat_and_keeps_every_t():
    frames = [pd.DataFrame({"t": [0.1, 1.0, np.inf], "F": [0.5, 0.2, 0.0]}).assign(
        model="vgg19", dataset="cifar10", method="rp", density=0.02, seed=s) for s in (0, 1)]
    table = connectivity_table(frames, t_sat=1.0)
    assert len(table) == 3 and table["is_t_sat"].sum() == 1
    sat = table[table["is_t_sat"]].iloc[0]
    assert sat["paper"] == 6.5 and sat["mean"] == 0.2
    assert table[~table["is_t_sat"]]["paper"].isna().all()


def test_unhealthy_cells_and_seeds_are_marked_and_the_marks_explained():
    from n2n.health import HealthOptions

    def row(method, seed, acc, cut=False):
        return dict(model="vgg19", dataset="digits", method=method, density=0.02, seed=seed, test_accuracy=acc,
                    measured_density=0.02, layer_density_min=0.0 if cut else 0.02, layer_density_max=0.02,
                    min_layer_kept=0 if cut else 3, cut_apart=cut, chance_accuracy=10.0, train_loss_first=2.3,
                    train_loss_best_later=2.4 if acc < 20 else 0.3)

    rows = [row("rp", s, a) for s, a in enumerate([10.1, 14.9, 88.5])] + [row("csp", s, 9.8, cut=True)
                                                                         for s in range(3)]
    table = accuracy_table("table1", rows, HealthOptions(10.0)).set_index("method")
    assert table.loc["rp", "seeds_at_chance"] == 2 and not table.loc["rp", "cut_apart"]
    assert table.loc["csp", "cut_apart"] and table.loc["csp", "min_layer_kept"] == 0
    text = markdown(table.reset_index(), "Table 1", health=HealthOptions(10.0))
    assert "37.83 ± 43.94 ‡2§2" in text and "9.80 ± 0.00 †‡3§3" in text
    assert "† cut apart" in text and "within 10 points of chance" in text
    assert "paper's value" not in text  # the digits have none


def test_convergence_figure_draws_only_the_tested_epochs():
    import math

    import matplotlib

    matplotlib.use("Agg")
    from n2n.plots import convergence_figure

    nan = math.nan
    frame = pd.DataFrame({"model": "vgg19", "dataset": "digits", "density": 0.1, "method": "rp", "seed": [0] * 4 + [1] * 4,
                          "epoch": [1, 2, 3, 4] * 2, "test_accuracy": [50, nan, nan, 80, 60, nan, nan, 90]})
    figure = convergence_figure(frame)
    (line,) = [ln for ln in figure.axes[0].get_lines() if len(ln.get_xdata())]
    assert list(line.get_xdata()) == [1, 4] and list(line.get_ydata()) == [55, 85]  # mean over seeds, no gaps


def test_a_figures_bar_from_unhealthy_seeds_carries_the_tables_marks():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from n2n.plots import pruner_comparison_figure

    rows = [dict(model="vgg19", dataset="digits", method=m, density=0.1, seed=s, test_accuracy=acc,
                 chance_accuracy=10.0, cut_apart=(m == "n2nskip-rp" and s == 0), train_loss_first=2.3,
                 train_loss_best_later=0.5)
            for s in range(3) for m, acc in (("rp", 90.0), ("n2nskip-rp", 95.0), ("grasp", 35.0 if s else 15.0))]
    fig = pruner_comparison_figure(pd.DataFrame(rows))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "‡1" in texts  # grasp: one seed within 10 points of chance (15 %), as the pruners table marks it
    assert "†" in texts  # n2nskip-rp: one seed's cell cut apart
    assert texts.count("not run") == 1  # grasp has no N2NSkip twin here
