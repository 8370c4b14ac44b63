"""Every method reaches its density exactly (skip weights included); pruned weights stay zero."""

import pytest
import torch

from conftest import SMALL_SKIPS
from n2n.data import load_digits_data
from n2n.masks import allocate_counts, erk_counts, erk_densities, keep_top, load_masks, prunable_parameters, reference_count, save_masks
from n2n.models import build_model, make_arch
from n2n.pruners import load_pruner, prune
from n2n.skips import add_skips
from n2n.training import Recipe, train
from n2n.evaluation import density_report

METHODS = ["dense", "rp_weights", "csp", "n2nskip-rp_weights", "n2nskip-csp", "resskip-rp_weights", "resskip-csp"]


def test_allocate_counts_is_exact():
    sizes = [216, 4608, 9216, 18432, 73728, 10]
    for total in (0, 1, 7, 1234, 99999, sum(sizes)):
        counts = allocate_counts(sizes, total)
        assert sum(counts) == total
        assert all(0 <= c <= s for c, s in zip(counts, sizes))
    with pytest.raises(ValueError):
        allocate_counts(sizes, sum(sizes) + 1)


def test_keep_top_keeps_exactly_the_largest():
    scores = torch.tensor([[0.1, 0.9, 0.5], [0.7, 0.2, 0.8]])
    assert keep_top(scores, 3).tolist() == [[False, True, False], [True, False, True]]
    assert keep_top(scores, 0).sum() == 0 and keep_top(scores, 6).all()


# SCL learns its masks over 4 epochs here, not the config's 30: its density, determinism and learned
# allocation show as well, at a seventh of the time
SHORT_SCL = {"scl": {"epochs": 4}}


def cell_masks(model, method, density, seed=0):
    data = load_digits_data()
    density = 1.0 if method == "dense" else density
    arch = make_arch(model, "digits", method, 0.125, SMALL_SKIPS)
    masks, meta = prune(arch, method, density, seed, 0.5, lambda: data, SHORT_SCL)
    if arch.skip_kind:
        masks, meta = add_skips(arch, masks, meta, seed)
    return arch, masks, meta, data


@pytest.mark.parametrize("model", ["vgg19", "resnet50"])
@pytest.mark.parametrize("method", METHODS)
def test_density_is_exact_and_pruned_weights_stay_zero(model, method):
    density = 0.02
    arch, masks, meta, data = cell_masks(model, method, density)
    net = build_model(arch, 0)
    target = 1.0 if method == "dense" else density
    kept = sum(int(m.sum()) for m in masks.values())
    assert abs(kept / reference_count(net) - target) <= 1e-3 * target
    if method.startswith("n2nskip"):
        skip_kept = sum(int(m.sum()) for n, m in masks.items() if n.startswith("skips."))
        assert skip_kept == meta["skip_budget"] > 0
        assert abs(skip_kept - 0.5 * kept) <= 1
    recipe = Recipe(epochs=1, batch_size=128, lr=0.05, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9,
                    weight_decay=5e-4, eval_batch_size=512, num_workers=0)
    data.train_x, data.train_y = data.train_x[:256], data.train_y[:256]
    train(net, masks, data, recipe, seed=0, device=torch.device("cpu"))
    report = density_report(net, masks)  # raises if a pruned weight is nonzero
    assert abs(report["density"] - target) <= 1e-3 * target
    params = prunable_parameters(net)
    assert all(int(torch.count_nonzero(params[n].detach()[~m])) == 0 for n, m in masks.items())


def test_rp_weights_is_layer_uniform_and_csp_is_global():
    _, rp, _, _ = cell_masks("vgg19", "rp_weights", 0.1)
    for m in rp.values():
        assert abs(m.float().mean().item() - 0.1) < 0.01 or m.numel() < 200
    _, csp, _, _ = cell_masks("vgg19", "csp", 0.1)
    layer_density = [m.float().mean().item() for m in csp.values()]
    assert max(layer_density) - min(layer_density) > 0.05  # csp allocates globally


def test_csp_scores_are_abs_grad_times_weight():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3, bias=False))
    x, y = torch.randn(8, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    params = prunable_parameters(net)
    scores = load_pruner("csp").score(net, params, FixedBatch(x, y), torch.Generator())
    w = net[1].weight.detach()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    expected = (net[1].weight.grad * w).abs()
    torch.testing.assert_close(scores["1.weight"], expected / expected.sum())


def test_prune_is_deterministic_for_a_seed():
    _, a, _, _ = cell_masks("vgg19", "n2nskip-rp", 0.05, seed=3)
    _, b, _, _ = cell_masks("vgg19", "n2nskip-rp", 0.05, seed=3)
    _, c, _, _ = cell_masks("vgg19", "n2nskip-rp", 0.05, seed=4)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(a[n], c[n]) for n in a)


def test_mask_file_roundtrip_and_corrupt_file(tmp_path):
    _, masks, meta, _ = cell_masks("vgg19", "n2nskip-csp", 0.1)
    path = tmp_path / "mask.npz"
    save_masks(path, masks, meta)
    loaded, loaded_meta = load_masks(path)
    assert loaded_meta == meta
    assert all(torch.equal(masks[n], loaded[n]) for n in masks)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a readable n2n mask file"):
        load_masks(path)


def test_skips_match_the_paper_layout():
    arch = make_arch("vgg19", "cifar10", "n2nskip-rp", 1.0, SMALL_SKIPS)
    net = build_model(arch, 0)
    assert sorted(int(k) for k in net.skips) == [3, 6, 9, 12, 15]  # a_l -> z_{l+3}, l = 0, 3, ...
    assert net.skips["3"].conv.weight.shape == (128, 3, 3, 3)
    res = build_model(make_arch("resnet50", "cifar10", "resskip-rp", 0.25, SMALL_SKIPS), 0)
    assert len(res.skips) == 16 and sum(p.numel() for p in res.skips.parameters()) == 0
    x = torch.randn(2, 3, 32, 32)
    assert res(x).shape == (2, 10)
    # the sequential weights of a network with skips are those of its dense reference
    ref = build_model(arch.sequential(), 0)
    for name, p in prunable_parameters(ref).items():
        torch.testing.assert_close(p, prunable_parameters(net)[name])


class FixedBatch:
    def __init__(self, x, y):
        self.batch = (x, y)

    def first_batch(self, n):
        return self.batch


# --- the extra pruners: each reaches its density exactly and ranks weights as its definition says

EXTRA = ["scl", "n2nskip-scl", "grasp", "n2nskip-grasp", "synflow", "n2nskip-synflow", "mag",
         "erk", "n2nskip-erk", "resskip-erk", "csp_shuffled", "n2nskip-csp_shuffled", "rp_weights_shuffled"]


@pytest.mark.parametrize("method", EXTRA)
def test_extra_pruners_reach_density_exactly_and_deterministically(method):
    arch, masks, meta, _ = cell_masks("vgg19", method, 0.05, seed=1)
    reference = meta["reference_count"]
    assert sum(int(m.sum()) for m in masks.values()) == int(round(0.05 * reference))
    _, again, _, _ = cell_masks("vgg19", method, 0.05, seed=1)
    assert all(torch.equal(masks[n], again[n]) for n in masks)


def tiny_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3, bias=False), torch.nn.ReLU(),
                               torch.nn.Linear(3, 2, bias=False))


def test_magnitude_keeps_the_largest_weights():
    net = tiny_mlp()
    params = prunable_parameters(net)
    masks = load_pruner("mag").prune(net, params, None, torch.Generator(), 5)
    flat = torch.cat([p.detach().abs().flatten() for p in params.values()])
    kept = torch.cat([m.flatten() for m in masks.values()])
    assert flat[kept].min() >= flat[~kept].max()


def test_synflow_scores_are_data_free_path_products():
    class Net(torch.nn.Module):  # y = w2 * relu(w1 x), one input, one hidden unit, two hidden -> out
        def __init__(self):
            super().__init__()
            self.arch = type("A", (), {"in_channels": 1, "image_size": 1})()
            self.fc1 = torch.nn.Linear(1, 2, bias=False)
            self.fc2 = torch.nn.Linear(2, 1, bias=False)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x.flatten(1))))

    net = Net()
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[2.0], [-3.0]]))
        net.fc2.weight.copy_(torch.tensor([[0.5, -4.0]]))
    params = prunable_parameters(net)
    scores = load_pruner("synflow").score(net, params, None, torch.Generator())
    # R = |w1a||w2a| + |w1b||w2b| = 1 + 12; score(w) = |w dR/dw| = the path product through w
    torch.testing.assert_close(scores["fc1.weight"], torch.tensor([[1.0], [12.0]], dtype=torch.float64))
    torch.testing.assert_close(scores["fc2.weight"], torch.tensor([[1.0, 12.0]], dtype=torch.float64))
    assert net.fc1.weight[1, 0].item() == -3.0  # weights restored


def test_grasp_hessian_gradient_product_matches_autograd():
    from n2n.pruners.grasp import hessian_gradient_product

    net = tiny_mlp()
    x, y = torch.randn(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 1, 0])
    params = prunable_parameters(net)
    hg = hessian_gradient_product(net, params, x, y, temperature=2.0)
    names = list(params)
    flat = torch.cat([params[n].detach().flatten() for n in names])
    shapes = [params[n].shape for n in names]

    def loss_of(vector):
        pieces, start = {}, 0
        for n, shape in zip(names, shapes):
            pieces[n] = vector[start:start + shape.numel()].view(shape)
            start += shape.numel()
        out = torch.func.functional_call(net, pieces, (x,))
        return torch.nn.functional.cross_entropy(out / 2.0, y)

    g = torch.autograd.functional.jacobian(loss_of, flat)
    hessian = torch.autograd.functional.hessian(loss_of, flat)
    expected = hessian @ g
    torch.testing.assert_close(torch.cat([hg[n].flatten() for n in names]), expected, rtol=1e-4, atol=1e-6)


def test_scl_gradient_normalisation_and_learned_allocation():
    from n2n.pruners.scl import normalise_per_feature, regulariser_weight

    g = torch.tensor([[3.0, 4.0], [0.0, 0.001]])
    out = normalise_per_feature(g)
    assert torch.allclose(out.pow(2).mean(dim=1), torch.ones(2))  # every feature's RMS is 1
    scores = {"a": torch.tensor([0.5, -0.2, 0.9]), "b": torch.tensor([0.1, 0.3])}
    shift = regulariser_weight(scores, 2)
    assert sum(int((s - shift > 0).sum()) for s in scores.values()) == 2
    arch, masks, meta, _ = cell_masks("vgg19", "scl", 0.1)
    report = meta["pruner_report"]
    assert abs(report["scl_reached_fraction"] / report["scl_target_fraction"] - 1) < 0.01
    fractions = [float(m.float().mean()) for m in masks.values()]
    assert max(fractions) - min(fractions) > 0.02  # learned, not uniform


def test_scl_accepts_the_config_device_auto():
    data = load_digits_data()
    arch = make_arch("vgg19", "digits", "scl", 0.125, SMALL_SKIPS)
    masks, meta = prune(arch, "scl", 0.1, 0, 0.5, lambda: data, {"scl": {"epochs": 1}}, device="auto")
    assert sum(int(m.sum()) for m in masks.values()) == meta["sequential_kept"]


@pytest.mark.parametrize("name", ["csp", "grasp", "scl"])
def test_data_dependent_pruners_refuse_to_run_without_data(name):
    net = tiny_mlp()
    with pytest.raises(ValueError, match="needs training data"):
        load_pruner(name).prune(net, prunable_parameters(net), None, torch.Generator(), 3)


@pytest.mark.parametrize("model", ["vgg19", "resnet50"])
def test_demo_table1_networks_keep_weights_in_every_layer(model, demo_config):
    """At the demo's width and Table-1 densities no layer is cut off (which would leave a cell at chance)."""
    from n2n.config import grid_cells

    data = load_digits_data()
    cells = {(c.method, float(c.density)) for c in grid_cells(demo_config, "tables", "table1")
             if c.model == model and c.method != "dense" and c.seed == 0}
    for method, density in sorted(cells):
        arch = make_arch(model, "digits", method, demo_config["width"], demo_config["skips"])
        masks, meta = prune(arch, method, density, 0, demo_config["skips"]["share"], lambda: data,
                            demo_config["pruning"])
        empty = [name for name, mask in masks.items() if not mask.any()]
        assert not empty, f"{model} {method} at {density}: no weight kept in {empty}"


# --- SynFlow's scores span more than float32 on ResNet50: they are ranked in float64


def test_the_shared_ranking_refuses_scores_that_are_not_finite():
    net = tiny_mlp()
    pruner = load_pruner("mag")
    scores = {n: p.detach().abs().double() for n, p in prunable_parameters(net).items()}
    first = next(iter(scores))
    scores[first][0, 0] = float("inf")
    message = rf"MagnitudePruner: scores are not finite \(inf or NaN\) in 1 layer\(s\): {first}"
    with pytest.raises(ValueError, match=message):
        pruner.mask(scores, 3)
    scores[first][0, 0] = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        pruner.mask(scores, 3)


def test_ranking_keeps_scores_beyond_float32_apart():
    scores = torch.tensor([1e60, 3e60, 2e60, 1e39], dtype=torch.float64)
    assert keep_top(scores, 2).tolist() == [False, True, True, False]  # as float32 all four are inf


def test_synflow_on_full_width_resnet50_keeps_every_main_path_layer():
    """R = 1^T (prod |W|) 1 is about 1e71 for ResNet50 at full width: every score is finite in float64, and
    no main-path layer is emptied (SynFlow may empty the 1x1 shortcut convolutions: its known behaviour), at
    the paper's lowest density, where layer collapse threatens most."""
    density = 0.02
    from n2n.pruners.synflow import SynFlowPruner

    arch = make_arch("resnet50", "cifar10", "synflow", 1.0, SMALL_SKIPS)
    net = build_model(arch, 0)
    params = prunable_parameters(net)
    scores = SynFlowPruner().score(net, params, None, torch.Generator())
    assert all(s.dtype == torch.float64 and bool(torch.isfinite(s).all()) for s in scores.values())
    assert max(float(s.max()) for s in scores.values()) > 1e39  # beyond float32: the test bites
    count = int(round(density * sum(p.numel() for p in params.values())))
    masks = SynFlowPruner(SynFlowPruner.Options(iterations=10)).prune(net, params, None, torch.Generator(), count)
    assert sum(int(m.sum()) for m in masks.values()) == count
    emptied = [n for n, m in masks.items() if not m.any() and "shortcut" not in n]
    assert not emptied, f"main-path layers emptied at {density}: {emptied}"


def test_grasp_sees_a_class_balanced_sample_drawn_by_the_seed():
    data = load_digits_data()
    x, y = data.class_balanced_batch(10, torch.Generator().manual_seed(0))
    assert x.shape == (100, 1, 16, 16) and torch.bincount(y, minlength=10).tolist() == [10] * 10
    again, _ = data.class_balanced_batch(10, torch.Generator().manual_seed(0))
    other, _ = data.class_balanced_batch(10, torch.Generator().manual_seed(1))
    assert torch.equal(x, again) and not torch.equal(x, other)
    with pytest.raises(ValueError, match="fewer than 1000 training examples"):
        data.class_balanced_batch(1000, torch.Generator())


# --- the allocation controls: ERK densities and the layerwise shuffle


def test_erk_densities_match_a_hand_computation():
    # sums of dimensions 23, 54, 102, 74 (253 in all); sizes 144, 4608, 18432, 640
    shapes = [(16, 1, 3, 3), (32, 16, 3, 3), (64, 32, 3, 3), (10, 64)]
    eps = 100 / 253  # no layer over 1: density_l = eps * sum_l / size_l
    assert erk_densities(shapes, 100) == pytest.approx([eps * 23 / 144, eps * 54 / 4608, eps * 102 / 18432,
                                                        eps * 74 / 640], rel=1e-12)
    # 2,000 kept: the first layer would need 144 * (2000 / 253) * 23 / 144 > 144, so it is dense and the
    # other three share 2000 - 144 = 1856 by their sums of dimensions (54 + 102 + 74 = 230)
    eps = 1856 / 230
    assert erk_densities(shapes, 2000) == pytest.approx([1.0, eps * 54 / 4608, eps * 102 / 18432, eps * 74 / 640],
                                                        rel=1e-12)
    # 10,000 kept: the first and the last layer saturate (eps * 74 / 640 > 1 once the first is dense)
    eps = (10000 - 144 - 640) / (54 + 102)
    assert erk_densities(shapes, 10000) == pytest.approx([1.0, eps * 54 / 4608, eps * 102 / 18432, 1.0], rel=1e-12)


def test_erk_counts_are_exact_and_capped():
    shapes = [(16, 1, 3, 3), (32, 16, 3, 3), (64, 32, 3, 3), (10, 64)]
    sizes = [144, 4608, 18432, 640]
    for total in (0, 1, 100, 2000, 9999, 10000, sum(sizes)):
        counts = erk_counts(shapes, total)
        assert sum(counts) == total and all(0 <= c <= s for c, s in zip(counts, sizes))
    assert erk_counts(shapes, 2000)[0] == 144


def test_erk_prunes_a_network_at_its_erk_layer_counts():
    arch, masks, meta, _ = cell_masks("vgg19", "erk", 0.05, seed=2)
    counts = [int(m.sum()) for m in masks.values()]
    assert counts == erk_counts([tuple(m.shape) for m in masks.values()], meta["sequential_kept"])
    densities = [c / m.numel() for c, m in zip(counts, masks.values())]
    assert densities[0] > 0.5 > 0.05 > min(densities)  # the 1-channel first conv is kept far denser than uniform


@pytest.mark.parametrize("base", ["csp", "rp_weights"])
def test_shuffle_keeps_each_layers_count_and_moves_its_positions(base):
    _, plain, _, _ = cell_masks("vgg19", base, 0.05, seed=1)
    _, shuffled, meta, _ = cell_masks("vgg19", f"{base}_shuffled", 0.05, seed=1)
    assert meta["pruner"] == base and meta["shuffled"] is True
    assert [int(m.sum()) for m in plain.values()] == [int(m.sum()) for m in shuffled.values()]
    moved = [n for n in plain if plain[n].numel() > plain[n].sum() > 0 and not torch.equal(plain[n], shuffled[n])]
    assert len(moved) == sum(1 for m in plain.values() if m.numel() > m.sum() > 0)
    _, again, _, _ = cell_masks("vgg19", f"{base}_shuffled", 0.05, seed=1)
    _, other, _, _ = cell_masks("vgg19", f"{base}_shuffled", 0.05, seed=2)
    assert all(torch.equal(shuffled[n], again[n]) for n in shuffled)
    assert not all(torch.equal(shuffled[n], other[n]) for n in shuffled)


def test_a_misspelt_method_is_refused_with_the_grammar():
    from n2n.registry import UnknownNameError, split_method

    with pytest.raises(UnknownNameError, match=r"pruner 'cps'.*\[SKIP-\]PRUNER\[_shuffled\].*erk"):
        split_method("n2nskip-cps_shuffled")
    with pytest.raises(UnknownNameError, match="dense keeps them all"):
        split_method("dense_shuffled")
