"""Channel-sparse convolutions (n2n.channel_sparse) compute what the masked dense convolutions compute: the same
outputs, the same gradients of every kept weight, the same training. Every comparison is against torch's own dense
convolution times the mask, the path `training.channel_sparse: off` takes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import SMALL_SKIPS
from n2n import channel_sparse
from n2n.data import load_digits_data
from n2n.masks import apply_masks_, float_masks, prunable_parameters
from n2n.models import build_model, make_arch
from n2n.pruners import prune
from n2n.skips import add_skips

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 0.25
needs_compiler = pytest.mark.skipif(channel_sparse.load_library() is None,
                                    reason=f"no C compiler builds the kernels: {channel_sparse.library_error()}")


def cell(method: str, density: float, width: float = WIDTH, model: str = "vgg19"):
    """A cell's network at initialisation and its masks, as the prune and add_skips stages make them."""
    arch = make_arch(model, "digits", method, width, SMALL_SKIPS)
    masks, meta = prune(arch, method, density, 0, 0.5)
    if arch.skip_kind is not None:
        masks, meta = add_skips(arch, masks, meta, 0)
    net = build_model(arch, 0)
    apply_masks_(net, float_masks(masks, net))
    return net, masks


def twins(method: str, density: float, **kwargs):
    """The same network, weights and masks twice: masked dense, and channel-sparse wherever the masks allow."""
    dense, masks = cell(method, density, **kwargs)
    sparse = copy.deepcopy(dense)
    chosen = channel_sparse.make_channel_sparse(sparse, masks, "auto", torch.device("cpu"))
    return dense, sparse, masks, chosen


def digits_batch(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits_data()
    x = data.train_x[:n].float()
    x = ((x / 255.0 - 0.306) / 0.319).contiguous(memory_format=torch.channels_last)
    return x, data.train_y[:n]


def kept_channel_pairs(mask: torch.Tensor) -> np.ndarray:
    """(out, in) whole kernels kept, computed here from the mask."""
    flat = mask.reshape(mask.shape[0], mask.shape[1], -1).numpy()
    return flat.all(axis=2)


@needs_compiler
@pytest.mark.parametrize("method", ["rp", "n2nskip-rp"])
def test_every_eligible_layer_goes_channel_sparse_and_its_padding_slots_exist(method):
    """The 3x3 layers of the paper's RP (and its skips) go channel-sparse; the dense first convolution, the
    classifier and weight-level masks do not. Some rows are short, so the padding slots are exercised."""
    _, sparse, masks, chosen = twins(method, 0.1)
    convs = {f"{n}.weight" for n, m in sparse.named_modules() if isinstance(m, torch.nn.Conv2d)}
    first = "layers.0.conv.weight"
    expected = set()
    for name in convs - {first}:
        pairs = kept_channel_pairs(masks[name])
        degrees = pairs.sum(axis=1)
        if degrees.max() - degrees.min() <= 1 and degrees.max() <= channel_sparse.MAX_IN_DEGREE_SHARE * pairs.shape[1]:
            expected.add(name)
    assert set(chosen) == expected
    assert len(expected) >= len(convs) - 3, "most of the network's convolutions should be eligible"
    assert first not in chosen and "layers.16.fc.weight" not in chosen
    modules = dict(sparse.named_modules())
    padded = 0
    for name in chosen:
        module = modules[name.removesuffix(".weight")]
        index = module.forward.index
        pairs = kept_channel_pairs(masks[name])
        for o in range(pairs.shape[0]):  # the index lists exactly the kept inputs of every output channel
            assert sorted(index.inputs[o][index.valid[o]].tolist()) == np.flatnonzero(pairs[o]).tolist()
        padded += int((~index.valid).sum())
    assert padded > 0, "no short row: the padding slots would go untested"


def test_weight_level_masks_stay_masked_dense():
    _, _, _, chosen = twins("rp_weights", 0.1)
    assert chosen == []


@needs_compiler
@pytest.mark.parametrize("method", ["rp", "n2nskip-rp"])
def test_each_layer_computes_the_masked_dense_convolution_and_its_gradients(method):
    """Every channel-sparse layer, fed the activations it sees in the network: its output, its input's gradient and
    its weight's gradient equal torch's dense convolution times the mask to float32 rounding (1e-5 of the largest
    value; a wrong input channel or weight errs by the values' own size). A pruned position gets no gradient."""
    dense, sparse, masks, chosen = twins(method, 0.05)
    seen: dict[str, torch.Tensor] = {}
    modules = dict(sparse.named_modules())
    hooks = [modules[n.removesuffix(".weight")].register_forward_hook(
        lambda m, i, o, n=n: seen.__setitem__(n, i[0].detach())) for n in chosen]
    sparse.train()
    sparse(digits_batch()[0])
    for h in hooks:
        h.remove()
    generator = torch.Generator().manual_seed(1)
    for name in chosen:
        conv = modules[name.removesuffix(".weight")]
        kept = masks[name].to(torch.float32)
        results = []
        for compute in ("masked dense", "channel-sparse"):
            x = seen[name].clone().requires_grad_()
            weight = conv.weight.detach().clone().requires_grad_()
            if compute == "masked dense":
                y = F.conv2d(x, weight * kept, None, 1, conv.kernel_size[0] // 2)
            else:
                y = conv.forward.compute(x, weight)
            upstream = torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
            gx, gw = torch.autograd.grad(y, (x, weight), upstream)
            results.append((y.detach(), gx, gw))
        (y0, gx0, gw0), (y1, gx1, gw1) = results
        for what, a, b in (("output", y0, y1), ("input gradient", gx0, gx1), ("weight gradient", gw0, gw1)):
            assert torch.allclose(b, a, rtol=0, atol=1e-5 * a.abs().max().item() + 1e-12), f"{name}: {what}"
        assert torch.count_nonzero(gw1 * (1 - kept)) == 0, f"{name}: a pruned position got a gradient"
    del generator


@needs_compiler
@pytest.mark.parametrize("method", ["rp", "n2nskip-rp"])
def test_the_whole_networks_outputs_and_gradients_agree_with_the_masked_dense_network(method):
    """One forward and backward of the whole network in training mode. Outputs: each of the 17 layers' BatchNorm
    divides by its channels' batch deviation, small in a network this sparse, so the rounding of float32 sums
    (1e-7 relative) reaches about 4e-5 of the largest output; the bound is 1e-4 of it. Gradients: a pre-activation
    within rounding of zero (1e-6) can land on the other side of a ReLU in the other network, which switches that
    one entry's gradient on or off (measured: one entry in two of 22 layers, 7e-3 of a weight gradient's norm). So
    gradients are compared by norm, to 5e-2: a wrong kernel errs by the gradient's own norm."""
    dense, sparse, masks, chosen = twins(method, 0.05)
    assert chosen
    x, y = digits_batch()
    outputs = []
    for net in (dense, sparse):
        net.train()
        out = net(x)
        F.cross_entropy(out, y).backward()
        outputs.append(out.detach())
    assert torch.allclose(outputs[1], outputs[0], rtol=0, atol=1e-4 * outputs[0].abs().max().item())
    sparse_params = dict(sparse.named_parameters())
    largest = max(p.grad.norm().item() for p in dense.parameters())
    for name, p in dense.named_parameters():
        kept = masks[name].to(p.dtype) if name in masks else torch.ones_like(p)
        g_dense, g_sparse = p.grad * kept, sparse_params[name].grad * kept
        # a gradient that cancels to almost nothing (the first BatchNorm's scales: 1e-6 of the largest) is held to
        # the rounding of the largest
        assert (g_sparse - g_dense).norm() <= 5e-2 * g_dense.norm() + 1e-5 * largest, name


@needs_compiler
def test_a_batch_not_a_multiple_of_the_kernels_block_and_one_image_agree():
    """The kernels sum the batch in blocks of 64: the scalar tail (and a batch of one) compute the same."""
    dense, sparse, _, _ = twins("rp", 0.1)
    for n in (1, 70):
        x, _ = digits_batch(n)
        for net in (dense, sparse):
            net.eval()
        a, b = dense(x), sparse(x)
        assert torch.allclose(b, a, rtol=0, atol=1e-5 * a.abs().max().item())


@needs_compiler
def test_in_bf16_a_channel_sparse_layer_computes_the_masked_convolution_and_no_pruned_weight_learns():
    """Under bf16 autocast a layer leaves the kernels for torch's convolution of its weight times its mask: the
    output is the masked convolution's, and a pruned weight still gets an exactly zero gradient (its mask is not
    re-applied after a step)."""
    _, sparse, masks, chosen = twins("rp", 0.05)
    conv = dict(sparse.named_modules())[chosen[0].removesuffix(".weight")]
    kept = masks[chosen[0]].to(torch.float32)
    x = torch.randn(8, conv.in_channels, 4, 4, generator=torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x.to(torch.bfloat16))
        expected = F.conv2d(x.to(torch.bfloat16), (conv.weight * kept).to(torch.bfloat16), None, 1, 1)
    assert y.dtype == torch.bfloat16 and torch.equal(y, expected)
    y.float().square().sum().backward()
    assert torch.count_nonzero(conv.weight.grad * (1 - kept)) == 0
    assert torch.count_nonzero(conv.weight.grad * kept) > 0


@needs_compiler
@pytest.mark.parametrize("build", ["register blocks", "scalar loop"])
def test_the_transpose_equals_torchs_for_whole_blocks_edges_and_both_directions(build, tmp_path):
    """The kernels' transpose (N, H*W*C) <-> (H*W*C, N), built as the layers use it (8 x 8 register blocks) and as
    a compiler without __builtin_shufflevector builds it (the scalar loop), against torch's own transpose."""
    import ctypes

    library = channel_sparse.load_library()
    if build == "scalar loop":
        built = tmp_path / "kernels.so"
        subprocess.run([os.environ.get("CC") or "cc", *channel_sparse.FLAGS, "-DN2N_SCALAR_TRANSPOSE",
                        str(channel_sparse.SOURCE), "-o", str(built)], check=True)
        library = ctypes.CDLL(str(built))
        library.cs_transpose.restype = None
        library.cs_transpose.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                         ctypes.c_int]
    generator = torch.Generator().manual_seed(0)
    for rows, cols in ((128, 5120), (5120, 128), (70, 40), (1, 9), (9, 1), (24, 17), (17, 24), (8, 8)):
        a = torch.randn(rows, cols, generator=generator)
        out = torch.full((cols, rows), float("nan"))
        library.cs_transpose(a.data_ptr(), out.data_ptr(), rows, cols, 1)
        assert torch.equal(out, a.t()), (rows, cols)


def train_one_epoch(method: str, mode: str, perturbation_seed: int | None = None):
    """One epoch of the train stage on the digits (12 steps, the demo's recipe), from the cell's weights, or from
    them times (1 + 1e-6 x noise): a change the size of float32 rounding."""
    from n2n.data import load_dataset
    from n2n.training import Recipe, train

    recipe = dict(epochs=1, batch_size=128, lr=0.05, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9,
                  weight_decay=5e-4, eval_batch_size=512, num_workers=0, channel_sparse=mode)
    net, masks = cell(method, 0.05)
    if perturbation_seed is not None:
        generator = torch.Generator().manual_seed(perturbation_seed)
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1 + 1e-6 * torch.randn(p.shape, generator=generator))
    metrics = train(net, masks, load_dataset("digits", str(ROOT / "data"), 0), Recipe.from_dict(recipe), 0,
                    torch.device("cpu"))
    state = net.state_dict()
    weights = torch.cat([t.flatten() for n, t in state.items() if t.is_floating_point() and "running" not in n])
    sparse_layers = [n for n, m in net.named_modules() if channel_sparse.is_channel_sparse(m)]
    # no mask is re-applied to a channel-sparse weight after a step: its pruned entries stay zero by themselves
    leaked = {n: int(torch.count_nonzero(state[n][~m])) for n, m in masks.items()}
    assert not any(leaked.values()), f"pruned weights not zero after training: {leaked}"
    return weights, metrics[-1]["test_accuracy"], sparse_layers


@needs_compiler
@pytest.mark.parametrize("method", ["n2nskip-rp"])  # its main path and its skips both channel-sparse
def test_one_epoch_on_the_demo_data_departs_from_masked_dense_no_more_than_rounding_does(method):
    """One epoch both ways from the same weights and masks. The two differ only in the order of float32 sums, but
    this training is chaotic: at 5 % density BatchNorm divides by tiny batch deviations, and a change of 1e-6 of
    every initial weight moves the weights after 12 steps by 10-30 % of their norm (measured, and measured here
    again). So the tolerance is the training's own sensitivity, measured in the test: the channel-sparse run may
    depart from the masked dense one by at most three times as much as a 1e-6 perturbation of the masked dense
    run does (measured: 0.64 times; three perturbations moved it by 0.11-0.13 of its norm), and its test accuracy
    by at most the perturbation's change and two images. (The layer tests above hold each kernel to float32
    rounding; this one checks that training through them is training.)"""
    off, off_accuracy, off_layers = train_one_epoch(method, "off")
    auto, auto_accuracy, auto_layers = train_one_epoch(method, "auto")
    assert off_layers == [] and auto_layers
    perturbed, accuracy, _ = train_one_epoch(method, "off", perturbation_seed=1)
    sensitivity = ((perturbed - off).norm() / off.norm()).item()
    spread = abs(accuracy - off_accuracy)
    departure = ((auto - off).norm() / off.norm()).item()
    assert sensitivity > 0
    assert departure <= 3 * sensitivity, f"departure {departure:.3g}, rounding's {sensitivity:.3g}"
    assert abs(auto_accuracy - off_accuracy) <= spread + 200 / 355 + 1e-9


def test_off_and_other_devices_leave_every_layer_as_it_was():
    net, masks = cell("rp", 0.1)
    assert channel_sparse.make_channel_sparse(net, masks, "off", torch.device("cpu")) == []
    assert channel_sparse.make_channel_sparse(net, masks, "auto", torch.device("cuda")) == []  # no CUDA call made
    assert not any(channel_sparse.is_channel_sparse(m) for m in net.modules())
    with pytest.raises(ValueError, match="training.channel_sparse is 'sometimes'; it is one of auto, off"):
        channel_sparse.make_channel_sparse(net, masks, "sometimes", torch.device("cpu"))


def test_yamls_unquoted_off_means_off():
    import yaml

    from n2n.training import Recipe

    options = yaml.safe_load("channel_sparse: off")
    assert options == {"channel_sparse": False}
    recipe = Recipe.from_dict({"epochs": 1, "batch_size": 1, "lr": 0.1, "lr_step_epochs": 1, "lr_gamma": 1.0,
                               "momentum": 0.0, "weight_decay": 0.0, "eval_batch_size": 1, **options})
    assert recipe.channel_sparse == "off"


@pytest.mark.parametrize("mask, reason", [
    (torch.ones(4, 4, 2, 2, dtype=torch.bool), "not a square odd-sized"),
    (torch.tensor([[1, 0, 0, 0, 0, 0, 0, 0]] * 4, dtype=torch.bool)[:, :, None, None].expand(4, 8, 3, 3).clone()
     .index_put_((torch.tensor([0]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0])), torch.tensor(False)),
     "keeps parts of kernels"),
    (torch.tensor([[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]], dtype=torch.bool)[:, :, None, None],
     "in-degrees differ by more than one (1 to 3)"),
    (torch.ones(2, 8, 3, 3, dtype=torch.bool), "denser than the kernels pay for"),
])
def test_a_mask_the_kernels_cannot_use_is_named_with_its_reason(mask, reason):
    assert reason in channel_sparse.channel_index(mask)


def test_without_a_compiler_the_training_runs_masked_dense_and_says_so(tmp_path):
    """No compiler (CC names none, an empty kernel cache): a warning, and every layer a masked dense convolution."""
    script = (
        "import torch, logging; logging.basicConfig(level=logging.WARNING)\n"
        "from n2n import channel_sparse\n"
        "from test_channel_sparse import cell\n"
        "net, masks = cell('rp', 0.1)\n"
        "print('chosen', channel_sparse.make_channel_sparse(net, masks, 'auto', torch.device('cpu')))\n"
        "x = torch.randn(4, 1, 16, 16).contiguous(memory_format=torch.channels_last)\n"
        "print('output', tuple(net(x).shape))\n")
    env = {**os.environ, "CC": "no-such-compiler", channel_sparse.CACHE_ENV: str(tmp_path / "kernels"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "chosen []" in proc.stdout and "output (4, 10)" in proc.stdout
    assert "channel-sparse kernels unavailable" in proc.stderr and "no-such-compiler" in proc.stderr
    assert not list((tmp_path / "kernels").glob("*.so"))
