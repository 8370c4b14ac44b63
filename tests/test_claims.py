"""The claims table on metric frames built so that the answer is known, and the cost of a network
against a hand count and the literature's figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SMALL_SKIPS
from n2n.claims import ClaimOptions, claims_table, interval, verdict


def accuracies(gains: dict[float, list[float]], base: float = 90.0) -> pd.DataFrame:
    """Table 1 cells of vgg19/cifar10: rp at `base`, n2nskip-rp at base + gain, per seed."""
    rows = []
    for density, per_seed in gains.items():
        for seed, gain in enumerate(per_seed):
            rows.append(dict(model="vgg19", dataset="cifar10", method="rp", density=density, seed=seed,
                             test_accuracy=base + 0.1 * seed))
            rows.append(dict(model="vgg19", dataset="cifar10", method="n2nskip-rp", density=density, seed=seed,
                             test_accuracy=base + 0.1 * seed + gain))
    return pd.DataFrame(rows)


PAPER_GAIN_VGG19_CIFAR10_RP_01 = 92.92 - 92.08  # n2n/reference/paper_table1.csv
EMPTY = pd.DataFrame(columns=["model", "dataset", "method", "density", "seed", "test_accuracy", "epoch", "t", "F"])


def test_a_clear_gain_is_supported_no_gain_inconclusive_a_reversed_gain_contradicted_and_no_cells_not_run():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0],      # clear gain
                      0.05: [0.3, -0.4, 0.1, -0.2, 0.2],   # none
                      0.02: [-2.0, -2.2, -1.9, -2.1, -2.0]})  # reversed
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0)
    first = table[table["claim"] == 1].set_index("density")
    assert first.loc[0.1, "verdict"] == "supported"
    assert first.loc[0.05, "verdict"] == "inconclusive"
    assert first.loc[0.02, "verdict"] == "contradicted"
    assert (first["n_seeds"] == 5).all() and first["paired"].all()
    assert first.loc[0.1, "difference"] == pytest.approx(1.04)
    assert first.loc[0.1, "paper_difference"] == pytest.approx(PAPER_GAIN_VGG19_CIFAR10_RP_01)
    second = table[table["claim"] == 2].set_index("density")  # the gains at 0.05 and 0.02 against 0.1's
    assert second.loc[0.02, "verdict"] == "contradicted" and second.loc[0.05, "verdict"] == "contradicted"
    for claim in (3, 4, 5):  # no cells for them here: listed, never dropped
        rows = table[table["claim"] == claim]
        assert len(rows) == 1 and rows["verdict"].iloc[0] == "not run"


def test_lower_connectivity_distance_supports_claim_four_and_one_seed_is_inconclusive():
    heat = pd.DataFrame([dict(model="vgg19", dataset="cifar10", method=m, density=0.1, seed=s, t=1.0, F=f)
                         for s in range(4) for m, f in (("rp", 0.5 + 0.01 * s), ("n2nskip-rp", 0.1 + 0.01 * s))])
    table = claims_table(EMPTY, EMPTY, heat, EMPTY, t_sat=1.0)
    assert table[table["claim"] == 4]["verdict"].tolist() == ["supported"]  # lower is the paper's direction
    one = claims_table(EMPTY, EMPTY, heat[heat["seed"] == 0], EMPTY, t_sat=1.0)
    assert one[one["claim"] == 4]["verdict"].tolist() == ["inconclusive"]


def test_early_epochs_and_skip_comparison_claims_read_their_own_cells():
    curves = {"csp": {1: 50.0, 2: 80.0}, "n2nskip-csp": {1: 60.0, 2: 79.0}}  # ahead early, not at the end
    metrics = pd.DataFrame([dict(model="resnet50", dataset="cifar10", method=m, density=0.05, seed=s, epoch=e,
                                 test_accuracy=acc + s) for s in range(3) for m, curve in curves.items()
                            for e, acc in curve.items()])
    levels = {"n2nskip-rp": 88.0, "resskip-rp": 85.0}
    skips = pd.DataFrame([dict(model="vgg19", dataset="cifar10", method=m, density=d, seed=s, test_accuracy=a + s)
                          for s in range(3) for d in (0.2, 0.05) for m, a in levels.items()])
    options = ClaimOptions(early_epoch=1, high_sparsity=0.1)
    table = claims_table(EMPTY, metrics, EMPTY, skips, t_sat=1.0, options=options)
    three = table[table["claim"] == 3]
    assert three["verdict"].tolist() == ["supported"] and three["statistic"].iloc[0].endswith("epoch 1")
    five = table[table["claim"] == 5]
    assert five["density"].tolist() == [0.05] and five["verdict"].tolist() == ["supported"]  # 0.2 is not high sparsity


def test_interval_is_students_t_over_seeds():
    mean, low, high = interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-6)
    assert np.isnan(interval(np.array([1.0]))[1])
    assert verdict(0.1, 0.5, -1) == "contradicted" and verdict(-0.5, 0.1, 1) == "inconclusive"


def test_multiply_adds_match_a_hand_count_and_the_literatures_vgg19():
    from n2n.cost import cost_report
    from n2n.models import build_model, make_arch

    class Tiny(torch.nn.Module):  # conv 1->2 (3x3, pad 1) on 4x4, then linear 2*4*4 -> 3
        def __init__(self):
            super().__init__()
            self.arch = type("A", (), {"in_channels": 1, "image_size": 4})()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1, bias=False)
            self.fc = torch.nn.Linear(32, 3, bias=False)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    net = Tiny()
    with torch.no_grad():
        net.conv.weight[0] = 0  # one of the two filters pruned: 9 kept weights x 16 positions
        net.fc.weight[:, :10] = 0  # 22 of 32 inputs kept for each of 3 outputs
    report = cost_report(net)
    assert report["macs"] == 9 * 16 + 3 * 22 and report["macs_dense"] == 18 * 16 + 96
    vgg = cost_report(build_model(make_arch("vgg19", "cifar10", "dense", 1.0, SMALL_SKIPS), 0))
    assert vgg["macs_dense"] == vgg["macs"] and abs(vgg["macs"] / 1e6 - 399) < 1.5  # 398.1 M
