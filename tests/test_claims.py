"""The claims table on metric frames built so that the answer is known, and the cost of a network
against a hand count and the literature's figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SMALL_SKIPS
from n2n.claims import VERDICTS, ClaimOptions, claims_markdown, claims_table, holm, interval, p_value, summary
from n2n.health import HealthOptions


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


def test_each_verdict_from_frames_built_for_it():
    # vgg19/cifar10, rp against n2nskip-rp; the paper's gains: 0.84 at 0.1, 3.22 at 0.05, 4.60 at 0.02
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0],        # clear gain
                      0.05: [0.3, -0.4, 0.1, -0.2, 0.2],     # none, measured finely (± 0.36 < 3.22)
                      0.02: [-2.0, -2.2, -1.9, -2.1, -2.0]})  # reversed
    wide = accuracies({0.1: [9.0, -8.0, 6.0, -7.0, 1.0]}).assign(method=lambda f: f["method"].str.replace(
        "rp", "csp"))  # csp at 0.1: no effect, measured so coarsely (± 8.8) that the paper's 0.23 could hide in it
    few = accuracies({0.1: [1.0, 1.1]}).assign(model="resnet50")  # two pairs only
    table = claims_table(pd.concat([acc, wide, few]), EMPTY, EMPTY, EMPTY, t_sat=1.0)
    first = table[table["claim"] == 1].set_index(["model", "base", "density"])
    assert first.loc[("vgg19", "rp", 0.1), "verdict"] == "supported"
    assert first.loc[("vgg19", "rp", 0.05), "verdict"] == "inconclusive"
    assert first.loc[("vgg19", "rp", 0.02), "verdict"] == "contradicted"
    assert first.loc[("vgg19", "csp", 0.1), "verdict"] == "underpowered"
    assert first.loc[("resnet50", "rp", 0.1), "verdict"] == "unreliable"
    row = first.loc[("vgg19", "rp", 0.1)]
    assert row["n_pairs"] == 5 and row["n_excluded"] == 0 and row["difference"] == pytest.approx(1.04)
    assert row["reference_effect"] == pytest.approx(PAPER_GAIN_VGG19_CIFAR10_RP_01)
    assert row["reference_source"] == "Table 1"
    assert row["half_width"] == pytest.approx((row["ci_high"] - row["ci_low"]) / 2)
    assert row["p_holm"] >= row["p_value"]
    second = table[table["claim"] == 2].set_index(["model", "base", "density"])  # gains at 0.05, 0.02 against 0.1's
    assert second.loc[("vgg19", "rp", 0.02), "verdict"] == "contradicted"
    for claim in (3, 4, 5):  # no cells for them here: listed, never dropped
        rows = table[table["claim"] == claim]
        assert len(rows) == 1 and rows["verdict"].iloc[0] == "not run"
    lines = summary(table).set_index("claim")
    assert lines.loc[1, "reliable_rows"] == 4 and lines.loc[4, "verdict"] == "not run"
    # the pooled claim-1 line: the mean of the 4 reliable rows' differences, Holm-corrected with claim 2's line
    assert lines.loc[1, "estimate"] == pytest.approx(first[first["n_pairs"] >= 3]["difference"].mean())
    assert lines["p_holm"].tolist() == pytest.approx(holm(lines["p_value"].tolist()), nan_ok=True)
    assert lines.loc[1, "p_holm"] >= lines.loc[1, "p_value"] and lines.loc[1, "verdict"] in VERDICTS
    assert claims_markdown(table).startswith("## The paper's claims, in one line each")


def test_unhealthy_seeds_are_left_out_with_their_reason_and_too_few_healthy_pairs_are_unreliable():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0]})
    health = acc.assign(chance_accuracy=10.0, cut_apart=False, train_loss_first=2.3, train_loss_best_later=0.5)
    at_chance = (health["method"] == "rp") & health["seed"].isin([1, 3])
    health.loc[at_chance, "test_accuracy"] = 12.0  # within 10 points of chance
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, health=health)
    row = table[table["claim"] == 1].iloc[0]
    assert row["n_pairs"] == 3 and row["n_excluded"] == 2 and row["excluded"] == "rp at chance: seeds 1, 3"
    assert row["verdict"] == "supported"
    health.loc[(health["method"] == "n2nskip-rp") & (health["seed"] == 0), "cut_apart"] = True
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, health=health)
    row = table[table["claim"] == 1].iloc[0]
    assert row["n_pairs"] == 2 and row["verdict"] == "unreliable" and "n2nskip-rp cut apart: seed 0" in row["excluded"]
    # the margin is an option: at 1 point, 12 % is no longer "at chance"
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, health=health, health_options=HealthOptions(1.0))
    assert table[table["claim"] == 1].iloc[0]["n_pairs"] == 4


def test_holm_matches_a_hand_computation():
    # sorted p: 0.01, 0.02, 0.03, 0.04 with m = 4: 4 x 0.01 = 0.04, 3 x 0.02 = 0.06, 2 x 0.03 = 0.06, 1 x 0.04
    assert holm([0.03, 0.01, float("nan"), 0.04, 0.02]) == pytest.approx([0.06, 0.04, float("nan"), 0.06, 0.06],
                                                                          nan_ok=True)
    assert holm([0.9, 0.04, 0.3]) == pytest.approx([0.9, 0.12, 0.6])  # 3 x 0.04, 2 x 0.3, 1 x 0.9
    assert holm([0.01, 0.011, 0.5]) == pytest.approx([0.03, 0.03, 0.5])  # 2 x 0.011 = 0.022 < 0.03: never below
    assert holm([0.9, 0.8, 0.7]) == pytest.approx([1.0, 1.0, 1.0])  # capped at 1


def test_lower_connectivity_distance_supports_claim_four_and_one_seed_is_unreliable():
    heat = pd.DataFrame([dict(model="vgg19", dataset="cifar10", method=m, density=0.1, seed=s, t=1.0, F=f)
                         for s in range(4) for m, f in (("rp", 0.5 + 0.01 * s), ("n2nskip-rp", 0.1 + 0.02 * s))])
    table = claims_table(EMPTY, EMPTY, heat, EMPTY, t_sat=1.0)
    assert table[table["claim"] == 4]["verdict"].tolist() == ["supported"]  # lower is the paper's direction
    assert summary(table).set_index("claim").loc[4, "text"].startswith("F lower with N2NSkip in 1 of 1")
    one = claims_table(EMPTY, EMPTY, heat[heat["seed"] == 0], EMPTY, t_sat=1.0)
    assert one[one["claim"] == 4]["verdict"].tolist() == ["unreliable"]


def test_early_epochs_and_skip_comparison_claims_read_their_own_cells():
    curves = {"csp": {1: 50.0, 2: 80.0}, "n2nskip-csp": {1: 60.0, 2: 79.0}}  # ahead early, not at the end
    metrics = pd.DataFrame([dict(model="resnet50", dataset="cifar10", method=m, density=0.05, seed=s, epoch=e,
                                 test_accuracy=acc + s + 0.1 * s * s * (m == "csp"))
                            for s in range(3) for m, curve in curves.items() for e, acc in curve.items()])
    levels = {"n2nskip-rp": 88.0, "resskip-rp": 85.0}
    skips = pd.DataFrame([dict(model="vgg19", dataset="cifar10", method=m, density=d, seed=s,
                               test_accuracy=a + s + 0.1 * s * s * (m == "resskip-rp"))
                          for s in range(3) for d in (0.2, 0.05) for m, a in levels.items()])
    options = ClaimOptions(early_epoch=1, high_sparsity=0.1)
    table = claims_table(EMPTY, metrics, EMPTY, skips, t_sat=1.0, options=options)
    three = table[table["claim"] == 3]
    assert three["verdict"].tolist() == ["supported"] and three["statistic"].iloc[0].endswith("epoch 1")
    assert three["reference_source"].iloc[0] == "Table 1's final gain"
    five = table[table["claim"] == 5]
    assert five["density"].tolist() == [0.05] and five["verdict"].tolist() == ["supported"]  # 0.2 is not high sparsity
    assert five["reference_source"].iloc[0] == "Figure 6, read off"


def test_every_claim_tested_gives_five_summary_lines():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0], 0.05: [2.0, 2.4, 2.1, 2.2, 2.3]})
    metrics = acc.assign(epoch=1)
    heat = acc.assign(t=1.0, F=lambda f: np.where(f["method"] == "rp", 0.5, 0.1) + 0.01 * f["seed"])
    skips = acc.assign(method=lambda f: f["method"].str.replace("^rp$", "resskip-rp", regex=True))
    table = claims_table(acc, metrics, heat, skips, t_sat=1.0)
    lines = summary(table).set_index("claim")
    assert (lines["reliable_rows"] > 0).all() and set(lines["verdict"]) <= {"supported", "inconclusive",
                                                                           "underpowered"}
    assert lines.loc[1, "verdict"] == "supported" and lines.loc[1, "text"].startswith("mean difference +1.")
    assert "Holm over the claims" in lines.loc[4, "text"]


def test_a_data_set_without_paper_values_takes_cifar10s_and_says_so():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0]}).assign(dataset="digits")
    row = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0).iloc[0]
    assert row["reference_effect"] == pytest.approx(PAPER_GAIN_VGG19_CIFAR10_RP_01)
    assert row["reference_source"] == "Table 1, CIFAR-10"


def test_interval_is_students_t_over_seeds():
    mean, low, high = interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-6)
    assert np.isnan(interval(np.array([1.0]))[1])
    assert p_value(np.array([1.0, 2.0, 3.0])) == pytest.approx(0.07418, rel=1e-3)  # t = 3.464, 2 df


def test_a_cut_apart_mask_and_a_training_that_stays_at_chance_are_unhealthy(tmp_path):
    from n2n.health import mask_health, unhealthy_reasons
    from n2n.models import build_model, make_arch
    from n2n.masks import prunable_parameters

    for model in ("vgg19", "resnet50"):
        net = build_model(make_arch(model, "digits", "n2nskip-rp", 0.125, SMALL_SKIPS), 0)
        masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(net).items()}
        whole = mask_health(net, masks)
        assert not whole["cut_apart"] and whole["outputs_reached"] == whole["outputs"] == 10
        first = next(iter(masks))
        masks[first][:] = False  # the first convolution keeps nothing: the skips from the input still carry it
        cut = mask_health(net, masks)
        assert cut["min_layer_kept"] == 0 and cut["min_layer_kept_name"] == first and cut["cut_apart"]
        masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(net).items()}
        for name, mask in masks.items():
            if mask.dim() == 2:  # the classifier and any skip into it: class 3 sees no feature
                mask[3] = False
        cut = mask_health(net, masks)
        assert cut["outputs_reached"] == 9 and cut["cut_apart"] and cut["min_layer_kept"] > 0
    # a real training at learning rate 0: its loss never falls and its accuracy stays at chance
    from n2n.data import load_dataset
    from n2n.health import learning_record
    from n2n.training import Recipe, train

    net = build_model(make_arch("vgg19", "digits", "rp", 0.125, SMALL_SKIPS), 0)
    masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(net).items()}
    rows = train(net, masks, load_dataset("digits", ""), Recipe(epochs=2, batch_size=256, lr=0.0, lr_step_epochs=1,
                                                                 lr_gamma=1.0, momentum=0.0, weight_decay=0.0,
                                                                 eval_batch_size=512), 0, torch.device("cpu"))
    record = {"test_accuracy": rows[-1]["test_accuracy"], "cut_apart": False,
              **learning_record([r["train_loss"] for r in rows], 10)}
    assert set(unhealthy_reasons(record)) == {"at chance", "loss never fell"}


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
