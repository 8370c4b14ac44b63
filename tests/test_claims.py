"""The claims table on metric frames built so that the answer is known, and the cost of a network
against a hand count and the literature's figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SMALL_SKIPS
from n2n.claims import CLAIMS, HEALTH_MARK, VERDICTS, ClaimOptions, claims_table, summary
from n2n.claims_report import claims_markdown
from n2n.stats import holm, holm_levels, interval, p_value, power
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
    # power at the level Holm applies: the wide csp row had little, the fine 0.05 row a lot
    assert first.loc[("vgg19", "csp", 0.1), "power"] < 0.8 <= first.loc[("vgg19", "rp", 0.05), "power"]
    assert first.loc[("vgg19", "rp", 0.05), "excludes_reference"]  # [-0.36, 0.36] leaves out the paper's 3.22
    assert not first.loc[("vgg19", "csp", 0.1), "excludes_reference"]
    lines = summary(table).set_index("claim")
    assert lines.loc[1, "reliable_rows"] == 4 and lines.loc[4, "verdict"] == "not run"
    assert claims_markdown(table).startswith("## The claims, in one line each")


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
    row = table[table["claim"] == 4].iloc[0]
    by_hand = [np.log(0.1 + 0.02 * s) - np.log(0.5 + 0.01 * s) for s in range(4)]
    assert row["difference"] == pytest.approx(np.mean(by_hand)) and row["statistic"] == "ln F at t_sat = 1"
    assert row["reference_effect"] == pytest.approx(np.log(4.9e-5 / 4.2e-1))  # Table 3, vgg19 rp at 0.1
    assert summary(table).set_index("claim").loc[4, "verdict"] == "supported"
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
    assert three["reference_source"].iloc[0] == "smallest effect of interest (claims.smallest_effect)"
    assert three["reference_effect"].iloc[0] == 1.0
    five = table[table["claim"] == 5]
    assert five["density"].tolist() == [0.05] and five["verdict"].tolist() == ["supported"]  # 0.2 is not high sparsity
    assert five["reference_source"].iloc[0] == "Figure 6, read off"


def test_every_claim_tested_gives_one_summary_line_each():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0], 0.05: [2.0, 2.4, 2.1, 2.2, 2.3]})
    metrics = acc.assign(epoch=1)
    heat = acc.assign(t=1.0, F=lambda f: np.where(f["method"] == "rp", 0.5, 0.1) + 0.01 * f["seed"])
    skips = acc.assign(method=lambda f: f["method"].str.replace("^rp$", "resskip-rp", regex=True))
    table = claims_table(acc, metrics, heat, skips, t_sat=1.0)
    lines = summary(table)
    assert lines["claim"].tolist() == list(CLAIMS) == [1, 2, 3, 4, 5, 6, 7, 8]
    lines = lines.set_index("claim")
    assert (lines.loc[[1, 2, 3, 4, 5], "reliable_rows"] > 0).all()
    assert lines.loc[[6, 7, 8], "verdict"].tolist() == ["not run"] * 3  # no erk or shuffled cells
    assert lines.loc[1, "verdict"] == "supported" and lines.loc[1, "text"].startswith("mean difference +1.")
    assert "Holm over the claims" in lines.loc[4, "text"]
    markdown = claims_markdown(table)
    summary_part = markdown.split("## The claims, row by row")[0]
    assert sum(1 for line in summary_part.splitlines() if line.split(" ", 1)[0] in {f"{n}." for n in CLAIMS}) == 8


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


# --- the statistics, each against a computation done here by hand or by simulation


def two_rows(first: list[float], second: list[float], methods=("rp", "n2nskip-rp"), density=0.1) -> pd.DataFrame:
    """vgg19 and resnet50 cells on cifar10 whose n2nskip − X differences per seed are `first` and `second`."""
    rows = []
    for model, gains in (("vgg19", first), ("resnet50", second)):
        for seed, gain in enumerate(gains):
            rows.append(dict(model=model, dataset="cifar10", method=methods[0], density=density, seed=seed,
                             test_accuracy=90.0 + seed))
            rows.append(dict(model=model, dataset="cifar10", method=methods[1], density=density, seed=seed,
                             test_accuracy=90.0 + seed + gain))
    return pd.DataFrame(rows)


def t_test_by_hand(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, half-width of the 95 % interval, two-sided p) from the t formula and the t distribution."""
    from scipy.stats import t

    n = len(values)
    se = np.sqrt(((values - values.mean()) ** 2).sum() / (n - 1)) / np.sqrt(n)
    return values.mean(), t.ppf(0.975, n - 1) * se, 2 * t.sf(abs(values.mean()) / se, n - 1)


def test_a_claims_line_pools_its_rows_at_the_seed_level():
    vgg, resnet = [1.0, 1.2, 0.9, 1.1, 1.0], [0.2, 0.9, 0.1, 0.5, -0.3]
    table = claims_table(two_rows(vgg, resnet), EMPTY, EMPTY, EMPTY, t_sat=1.0)
    line = summary(table).set_index("claim").loc[1]
    per_seed = (np.array(vgg) + np.array(resnet)) / 2  # each seed's differences averaged over the two rows
    mean, half, p = t_test_by_hand(per_seed)
    assert line["n_seeds"] == 5 and line["estimate"] == pytest.approx(mean)
    assert (line["ci_low"], line["ci_high"]) == pytest.approx((mean - half, mean + half))
    assert line["p_value"] == pytest.approx(p, rel=1e-9)
    # the lines are one family: Holm over the claims that have a p (here claim 1 alone)
    assert line["p_holm"] == pytest.approx(p, rel=1e-9) and line["level"] == pytest.approx(0.05)
    rows = table[table["claim"] == 1]
    assert line["rows_supported"] == int((rows["verdict"] == "supported").sum())
    assert f"{line['rows_supported']} of 2 reliable rows supported on their own" in line["text"]


def test_power_agrees_with_a_simulation_of_the_t_test():
    from scipy.stats import t

    rng = np.random.default_rng(0)
    diffs = np.array([0.3, -0.4, 0.9, 0.1, 0.6])
    sd, n = diffs.std(ddof=1), len(diffs)
    for effect, level in ((0.5, 0.05), (0.8, 0.0125), (-0.8, 0.05)):
        draws = rng.normal(effect, sd, size=(200_000, n))
        stat = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / np.sqrt(n))
        simulated = float((np.abs(stat) > t.ppf(1 - level / 2, n - 1)).mean())
        assert power(diffs, effect, level) == pytest.approx(simulated, abs=0.005)
    # a half-width equal to the effect leaves little power: about 0.56 at 5 %, far less at Holm's first level
    effect = t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    assert 0.5 < power(diffs, effect, 0.05) < 0.6 and power(diffs, effect, 0.05 / 4) < 0.3


def test_holm_levels_match_a_hand_computation():
    # sorted p 0.01, 0.02, 0.03, 0.04 (m = 4) are compared with 0.05/4, 0.05/3, 0.05/2, 0.05/1
    assert holm_levels([0.03, 0.01, float("nan"), 0.04, 0.02]) == pytest.approx(
        [0.025, 0.0125, float("nan"), 0.05, 0.05 / 3], nan_ok=True)


def test_identical_differences_use_an_exact_sign_test_and_never_give_p_zero():
    five = accuracies({0.1: [0.28] * 5})  # the digits' 355 test images move accuracy in 0.28-point steps
    row = claims_table(five, EMPTY, EMPTY, EMPTY, t_sat=1.0).iloc[0]
    assert row["test"] == "sign (zero spread)" and row["p_value"] == pytest.approx(2 / 2 ** 5)
    assert row["power"] == 0.0 and row["verdict"] == "underpowered"  # 5 signs cannot reach p < 0.05
    six = accuracies({0.1: [0.28] * 6})
    row = claims_table(six, EMPTY, EMPTY, EMPTY, t_sat=1.0).iloc[0]
    assert row["p_value"] == pytest.approx(2 / 2 ** 6) and row["verdict"] == "supported"
    assert p_value(np.zeros(4)) == 1.0


def test_a_verdict_that_health_filtering_changes_is_marked():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0]})
    health = acc.assign(chance_accuracy=10.0, cut_apart=False, train_loss_first=2.3, train_loss_best_later=0.5)
    unhealthy = (health["method"] == "rp") & health["seed"].isin([1, 3])
    health.loc[unhealthy, "test_accuracy"] = 12.0
    acc.loc[(acc["method"] == "rp") & acc["seed"].isin([1, 3]), "test_accuracy"] = 12.0  # gains of about 78 there
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, health=health)
    row = table[table["claim"] == 1].iloc[0]
    assert row["n_pairs"] == 3 and row["n_pairs_all"] == 5 and row["verdict"] == "supported"
    healthy_mean = np.mean([1.0, 0.9, 1.0])
    all_mean = np.mean([1.0, 1.2 + 78.1, 0.9, 1.1 + 78.3, 1.0])
    assert row["difference"] == pytest.approx(healthy_mean) and row["difference_all"] == pytest.approx(all_mean)
    assert row["verdict_all"] == "underpowered" and row["health_changes_verdict"]
    markdown = claims_markdown(table)
    assert f"**supported** {HEALTH_MARK} (all pairs: underpowered)" in markdown
    line = summary(table).set_index("claim").loc[1]
    assert line["verdict"] == "supported" and line["verdict_all"] == "underpowered" and line["health_changes_verdict"]


def test_claim_two_holds_only_where_both_lower_densities_hold():
    steady = [1.0, 1.2, 0.9, 1.1, 1.0]
    larger = [g + 2 for g in [1.1, 1.3, 0.8, 1.2, 1.0]]
    same = [1.1, 1.0, 1.0, 1.2, 0.9]
    table = claims_table(accuracies({0.1: steady, 0.05: larger, 0.02: same}), EMPTY, EMPTY, EMPTY, t_sat=1.0)
    line = summary(table).set_index("claim").loc[2]
    _, _, p_02 = t_test_by_hand(np.array(same) - np.array(steady))
    _, _, p_05 = t_test_by_hand(np.array(larger) - np.array(steady))
    assert p_05 < 0.001 < 0.05 < p_02
    assert line["p_value"] == pytest.approx(p_02, rel=1e-9) and line["verdict"] != "supported"
    assert "at 0.05 − at 0.1" in line["text"] and "at 0.02 − at 0.1" in line["text"]
    both = claims_table(accuracies({0.1: steady, 0.05: larger, 0.02: [g + 1 for g in larger]}), EMPTY, EMPTY,
                        EMPTY, t_sat=1.0)
    assert summary(both).set_index("claim").loc[2, "verdict"] == "supported"
    only = claims_table(accuracies({0.1: steady, 0.05: larger}), EMPTY, EMPTY, EMPTY, t_sat=1.0)
    assert "0.02 not run" in summary(only).set_index("claim").loc[2, "text"]


def test_claim_four_pools_ln_f_over_four_rows_and_can_decide():
    rows = []
    for model in ("vgg19", "resnet50"):
        for base in ("rp", "csp"):
            for seed in range(5):
                rows.append(dict(model=model, dataset="cifar10", method=base, density=0.1, seed=seed, t=1.0,
                                 F=0.4 * (1 + 0.1 * seed)))
                rows.append(dict(model=model, dataset="cifar10", method=f"n2nskip-{base}", density=0.1, seed=seed,
                                 t=1.0, F=0.1 * (1 + 0.1 * seed) * (1 + 0.05 * seed * (base == "csp"))))
    table = claims_table(EMPTY, EMPTY, pd.DataFrame(rows), EMPTY, t_sat=1.0)
    line = summary(table).set_index("claim").loc[4]
    per_seed = np.array([(2 * np.log(0.25) + 2 * np.log(0.25 * (1 + 0.05 * s))) / 4 for s in range(5)])
    mean, _, p = t_test_by_hand(per_seed)
    assert line["reliable_rows"] == 4 and line["estimate"] == pytest.approx(mean)
    assert line["p_value"] == pytest.approx(p, rel=1e-9) and line["verdict"] == "supported"


def test_the_controls_compare_n2nskip_with_erk_and_a_pruner_with_its_shuffle():
    acc = pd.concat([two_rows([0.5, 0.7, 0.6, 0.4, 0.5], [0.1, 0.3, 0.2, 0.0, 0.2], ("erk", "n2nskip-rp")),
                     two_rows([0.9, 1.1, 1.0, 0.8, 1.0], [0.4, 0.6, 0.5, 0.7, 0.5], ("erk", "n2nskip-erk")),
                     two_rows([0.0, 0.2, -0.1, 0.1, -0.2], [0.1, -0.1, 0.0, 0.2, -0.2], ("csp_shuffled", "csp"))])
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, options=ClaimOptions(smallest_effect=0.5))
    assert set(table[table["claim"] == 1]["verdict"]) == {"not run"}  # n2nskip-erk − erk is claim 7's row
    comparisons = table.groupby("claim")["comparison"].agg(set)
    assert comparisons[6] == {"n2nskip-rp − erk"} and comparisons[7] == {"n2nskip-erk − erk"}
    assert comparisons[8] == {"csp − csp_shuffled"}
    controls = table[table["claim"].isin([6, 7, 8])]
    assert (controls["reference_effect"] == 0.5).all()
    assert (controls["reference_source"] == "smallest effect of interest (claims.smallest_effect)").all()
    vgg = controls.set_index(["claim", "model"])
    assert vgg.loc[(6, "vgg19"), "difference"] == pytest.approx(0.54)
    assert vgg.loc[(8, "vgg19"), "difference"] == pytest.approx(0.0)


def test_a_row_with_power_between_a_half_and_the_threshold_is_underpowered():
    from scipy.stats import t

    diffs = [0.3, -0.4, 0.9, 0.1, 0.6]  # no difference rejected (p about 0.25)
    acc = accuracies({0.1: diffs}).assign(method=lambda f: f["method"].str.replace("rp", "synflow"))
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, options=ClaimOptions(smallest_effect=0.72))
    row = table[table["claim"] == 1].iloc[0]
    # the power of this one-row family's test at 5 % against 0.72, by simulation with the seeds' spread
    rng = np.random.default_rng(1)
    draws = rng.normal(0.72, np.std(diffs, ddof=1), size=(200_000, 5))
    stat = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / np.sqrt(5))
    simulated = float((np.abs(stat) > t.ppf(0.975, 4)).mean())
    assert 0.55 < simulated < 0.8 and row["p_value"] > 0.05
    assert row["reference_source"] == "smallest effect of interest (claims.smallest_effect)"
    assert row["verdict"] == "underpowered"


def test_the_pooled_line_averages_each_seed_over_four_rows():
    acc = pd.concat([two_rows([1.0, 1.2, 0.9, 1.1, 1.0], [0.2, 0.9, 0.1, 0.5, -0.3]),
                     two_rows([3.0, 0.0, 0.5, 2.0, 0.1], [0.0, 0.4, 0.3, 0.2, 0.6], ("csp", "n2nskip-csp"))])
    line = summary(claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0)).set_index("claim").loc[1]
    per_seed = np.array([np.mean(v) for v in zip([1.0, 1.2, 0.9, 1.1, 1.0], [0.2, 0.9, 0.1, 0.5, -0.3],
                                                 [3.0, 0.0, 0.5, 2.0, 0.1], [0.0, 0.4, 0.3, 0.2, 0.6])])
    mean, half, p = t_test_by_hand(per_seed)
    assert line["reliable_rows"] == 4 and line["estimate"] == pytest.approx(mean)
    assert line["ci_high"] == pytest.approx(mean + half) and line["p_value"] == pytest.approx(p, rel=1e-9)


def test_claim_two_takes_the_larger_p_where_both_lower_densities_go_the_claims_way():
    steady = [1.0, 1.2, 0.9, 1.1, 1.0]
    larger = [g + 2 for g in [1.1, 1.3, 0.8, 1.2, 1.0]]
    a_little = [g + d for g, d in zip(steady, [0.5, -0.3, 0.6, -0.2, 0.4])]  # +0.2 on average, far from significant
    table = claims_table(accuracies({0.1: steady, 0.05: larger, 0.02: a_little}), EMPTY, EMPTY, EMPTY, t_sat=1.0)
    line = summary(table).set_index("claim").loc[2]
    _, _, p_02 = t_test_by_hand(np.array(a_little) - np.array(steady))
    assert p_02 > 0.3 and line["p_value"] == pytest.approx(p_02, rel=1e-9) and line["verdict"] != "supported"


def test_a_smallest_effect_takes_the_claims_sign():
    heat = pd.DataFrame([dict(model="vgg19", dataset="cifar10", method=m, density=0.1, seed=s, t=1.0, F=f)
                         for s in range(4) for m, f in (("synflow", 0.5 + 0.01 * s), ("n2nskip-synflow", 0.1 + s))])
    row = claims_table(EMPTY, EMPTY, heat, EMPTY, t_sat=1.0).set_index("claim").loc[4]
    assert row["reference_effect"] == -0.5  # Table 3 has no synflow: lower F is the claim's way
    assert row["reference_source"] == "smallest effect of interest (claims.smallest_log_ratio)"


def test_a_line_without_healthy_pairs_still_says_what_all_pairs_show():
    acc = accuracies({0.1: [1.0, 1.2, 0.9, 1.1, 1.0]})
    health = acc.assign(chance_accuracy=10.0, cut_apart=False, train_loss_first=2.3, train_loss_best_later=0.5)
    health.loc[(health["method"] == "n2nskip-rp") & health["seed"].isin([0, 1, 2]), "cut_apart"] = True
    table = claims_table(acc, EMPTY, EMPTY, EMPTY, t_sat=1.0, health=health)
    line = summary(table).set_index("claim").loc[1]
    _, _, p = t_test_by_hand(np.array([1.0, 1.2, 0.9, 1.1, 1.0]))
    assert line["verdict"] == "unreliable" and line["p_value_all"] == pytest.approx(p, rel=1e-9)
    assert line["verdict_all"] == "supported" and line["health_changes_verdict"]
    assert f"over all pairs, unhealthy seeds included: supported {HEALTH_MARK}" in line["text"]
