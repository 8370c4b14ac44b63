"""Heat signatures: Lanczos on a whole t grid against dense expm(-tL) A."""

import numpy as np
import pytest
import scipy.linalg as la
import scipy.sparse as sp
import torch

from conftest import SMALL_SKIPS
from n2n.connectivity import channel_graph
from n2n.heat import heat_signature, heat_signature_dense, laplacian, stationary_limit, t_grid
from n2n.models import build_model, make_arch


def random_graph(n, density, seed, components=1):
    blocks = []
    for c in range(components):
        w = sp.random(n, n, density=density, random_state=seed + c)
        blocks.append(w + w.T)
    return sp.block_diag(blocks).tocsr()


def model_graph(method, density_scale=1.0):
    arch = make_arch("vgg19", "digits", method, 0.125, SMALL_SKIPS)
    net = build_model(arch, 0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.mul_((torch.rand(p.shape, generator=gen) < density_scale).float())
    return channel_graph(net, "l1")


@pytest.mark.parametrize("kind", ["unnormalised", "normalised"])
@pytest.mark.parametrize("graph", ["random", "two_components", "vgg_dense", "vgg_sparse_n2nskip"])
def test_lanczos_matches_dense_expm(graph, kind):
    if graph == "random":
        w, sources = random_graph(300, 0.03, 0), np.r_[np.ones(3), np.zeros(297)]
    elif graph == "two_components":
        w = random_graph(150, 0.05, 1, components=2)
        sources = np.zeros(300)
        sources[[0, 1, 160]] = 1
    else:
        w, nodes = model_graph("dense" if graph == "vgg_dense" else "n2nskip-rp",
                               1.0 if graph == "vgg_dense" else 0.05)
        sources = nodes["is_source"].to_numpy(float)
    ts = t_grid(1e-3, 1e3, 16)
    fast = heat_signature(w, sources, ts, kind, tol=1e-12)
    lap = laplacian(w, kind).toarray()
    for i, t in list(enumerate(ts[:-1]))[::3]:  # both ends and four between; the dense method checks every t
        exact = la.expm(-t * lap) @ sources
        assert np.linalg.norm(fast[i] - exact) <= 1e-8 * np.linalg.norm(exact), t
    big_t = la.expm(-1e7 * lap) @ sources  # t = inf from components equals the long-time limit
    assert np.allclose(fast[-1], big_t, atol=1e-8)
    np.testing.assert_allclose(heat_signature_dense(w, sources, ts, kind), fast, atol=1e-8 * np.abs(fast).max())


def test_stationary_limit_is_component_mean():
    w = random_graph(50, 0.2, 3, components=2)
    a = np.zeros(100)
    a[:5] = 1
    s = stationary_limit(w, a)
    assert np.allclose(s[:50], 0.1) and np.allclose(s[50:], 0)


def test_channel_graph_structure():
    arch = make_arch("resnet50", "digits", "resskip-rp", 0.125, SMALL_SKIPS)
    net = build_model(arch, 0)
    w, nodes = channel_graph(net, "binary")
    assert w.shape[0] == len(nodes) == sum(net.activation_channels)
    assert (w != w.T).nnz == 0
    assert nodes["is_source"].sum() == arch.in_channels
    # ResNet's ResSkip runs beside the block's own shortcut: parallel identity edges add up
    assert set(np.unique(w.data)) == {1.0, 2.0}
    vgg = make_arch("vgg19", "digits", "resskip-rp", 0.125, SMALL_SKIPS)
    with_skips, _ = channel_graph(build_model(vgg, 0), "binary")
    dense, _ = channel_graph(build_model(vgg.sequential(), 0), "binary")
    assert with_skips.nnz > dense.nnz  # in VGG, ResSkip adds new identity edges
