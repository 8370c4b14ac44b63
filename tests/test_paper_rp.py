"""The paper's RP (`rp`): expander graphs over channels, as X-Nets and the authors' ExpanderConv2d build them. Every
fact is read from the mask files the real prune and add_skips stages write, and checked by code written here from
X-Nets' definition, not by the pruner's own helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SMALL_SKIPS
from n2n.masks import load_masks

WIDTH, DENSITY = 0.125, 0.1  # the demo's cells


def stage_masks(tmp_path: Path, model: str, method: str, density: float = DENSITY, seed: int = 0,
                width: float = WIDTH) -> tuple[dict, dict]:
    """The masks and metadata a cell's prune (and add_skips) stage writes to disk, read back."""
    from n2n.pruners import run_prune
    from n2n.skips import run_add_skips

    pruned = tmp_path / f"{model}-{method}-{density}-{seed}-prune.npz"
    run_prune(str(pruned), model, "digits", method, density, seed, width, SMALL_SKIPS, "", {})
    if method.startswith(("n2nskip-", "resskip-")):
        final = tmp_path / f"{model}-{method}-{density}-{seed}-skip.npz"
        run_add_skips(str(pruned), str(final))
        return load_masks(final)
    return load_masks(pruned)


def channel_matrix(mask: torch.Tensor) -> np.ndarray:
    """(out, in) kept-kernel matrix; asserts every kernel is kept whole or not at all."""
    flat = mask.reshape(mask.shape[0], mask.shape[1], -1).numpy()
    kept, any_kept = flat.all(axis=2), flat.any(axis=2)
    assert np.array_equal(kept, any_kept), "a kernel is kept in part"
    return kept


def expander_facts(name: str, mask: torch.Tensor) -> None:
    """X-Nets' expander layer: whole kernels; every output fed by D or D + 1 inputs, D >= 1; where the layer has no
    more inputs than outputs, every input feeds some output."""
    graph = channel_matrix(mask)
    in_degree, out_degree = graph.sum(axis=1), graph.sum(axis=0)
    assert in_degree.min() >= 1, f"{name}: an output channel has no input"
    assert in_degree.max() - in_degree.min() <= 1, f"{name}: in-degrees {in_degree.min()}-{in_degree.max()}"
    if graph.shape[1] <= graph.shape[0]:
        assert out_degree.min() >= 1, f"{name}: an input channel feeds nothing"
    assert out_degree.max() - out_degree.min() <= 1, f"{name}: out-degrees {out_degree.min()}-{out_degree.max()}"


def reference_weights(model: str) -> int:
    from n2n.masks import reference_count
    from n2n.models import build_model, make_arch

    return reference_count(build_model(make_arch(model, "digits", "rp", WIDTH, SMALL_SKIPS), 0))


@pytest.mark.parametrize("model", ["vgg19", "resnet50"])
def test_rp_and_its_twins_are_expander_graphs_with_a_dense_first_layer_and_classifier(tmp_path, model):
    totals = {}
    for method in ("rp", "n2nskip-rp", "resskip-rp"):
        masks, meta = stage_masks(tmp_path, model, method)
        main = [n for n in masks if not n.startswith("skips.")]
        first, classifier = main[0], main[-1]
        assert masks[first].all() and masks[classifier].all(), "the first convolution and the classifier are dense"
        for name in main[1:-1]:
            expander_facts(name, masks[name])
        for name in (n for n in masks if n.startswith("skips.")):
            expander_facts(name, masks[name])  # N2NSkip's connections: channel-level too, as vggskip.py
        kept = sum(int(m.sum()) for m in masks.values())
        target = round(DENSITY * reference_weights(model))
        largest_kernel = max(int(np.prod(m.shape[2:])) if m.dim() > 2 else 1 for m in masks.values())
        assert abs(kept - target) <= len(masks) * largest_kernel, (method, kept, target)  # one kernel per layer
        assert meta["total_budget"] == target
        totals[method] = kept
        if method == "rp":
            assert meta["sequential_kept"] == kept and meta["skip_wiring"] == "channel"
    # N2NSkip-rp keeps rp's total, to within the same slack: half of it in the skips
    assert abs(totals["n2nskip-rp"] - totals["rp"]) <= 2 * len(masks) * 9


def test_rp_is_not_the_weight_level_pruner():
    """At 5 %, weight-level pruning leaves most channel pairs connected by a weight or two; the paper's RP keeps
    a few whole kernels per output channel: its channel graph is sparse."""
    from n2n.models import make_arch
    from n2n.pruners import prune

    fractions = {}
    for method in ("rp", "rp_weights"):
        arch = make_arch("vgg19", "digits", method, 0.25, SMALL_SKIPS)
        masks, _ = prune(arch, method, 0.05, 0, 0.5)
        name = list(masks)[8]  # a deep 3x3 layer
        fractions[method] = float(masks[name].reshape(*masks[name].shape[:2], -1).any(-1).float().mean())
    assert fractions["rp"] <= 0.06 < 0.25 < fractions["rp_weights"]


@pytest.mark.parametrize("method", ["rp", "n2nskip-rp", "resskip-rp"])
def test_every_twin_is_healthy_at_the_demos_density(tmp_path, method):
    from n2n.health import mask_health
    from n2n.models import Arch, build_model

    for model in ("vgg19", "resnet50"):
        masks, meta = stage_masks(tmp_path, model, method)
        health = mask_health(build_model(Arch.from_dict(meta["arch"]), 0), masks)
        assert not health["cut_apart"] and health["outputs_reached"] == health["outputs"], (model, health)


def test_a_density_too_low_for_whole_kernels_is_refused_naming_what_it_needs():
    from n2n.models import make_arch
    from n2n.pruners import prune
    from n2n.pruners.channel import ChannelBudgetError

    arch = make_arch("vgg19", "digits", "rp", WIDTH, SMALL_SKIPS)
    with pytest.raises(ChannelBudgetError, match=r"every output channel fed: its main-path layers need at least "
                                                 r"\d+ weights, and the density leaves \d+; raise the density or the width") as err:
        prune(arch, "rp", 0.02, 0, 0.5)
    assert f"need at least {err.value.needed} weights" in str(err.value)  # the figure benchmarks/premise.py reports
