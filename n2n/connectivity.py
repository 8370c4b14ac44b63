"""The adjacency stage: the undirected channel graph of a network.

One node per channel of every activation along the data flow (input channels, every conv or
linear output, class outputs). A weighted layer joins input channel i to output channel j when
its kernel slice w[j, i] keeps a weight; an identity shortcut or ResSkip joins c to c. Edge
weight (config `connectivity.weighting`, ours): `l1` = sum |w| over the kernel slice (default),
`binary` = 1. W is symmetric; parallel edges add up.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

log = logging.getLogger(__name__)

WEIGHTINGS = ("l1", "binary")


def channel_graph(model, weighting: str = "l1") -> tuple[sp.csr_matrix, pd.DataFrame]:
    """(W, nodes): symmetric weighted adjacency and a node table (node, tensor, channel, is_source)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown edge weighting {weighting!r}: expected one of {', '.join(WEIGHTINGS)}")
    names, channels = model.activation_names, model.activation_channels
    offsets = np.concatenate([[0], np.cumsum(channels)])
    n = int(offsets[-1])
    rows, cols, vals = [], [], []
    for edge in model.edges():
        src, dst = offsets[edge.source], offsets[edge.target]
        if edge.weight is None:
            c = np.arange(min(channels[edge.source], channels[edge.target]))
            rows.append(dst + c)
            cols.append(src + c)
            vals.append(np.ones(len(c)))
            continue
        w = edge.weight.detach().cpu().abs().double()
        slab = w.sum(dim=tuple(range(2, w.dim()))) if w.dim() > 2 else w  # (out, in)
        slab = slab.numpy()
        j, i = np.nonzero(slab)
        rows.append(dst + j)
        cols.append(src + i)
        vals.append(np.ones(len(j)) if weighting == "binary" else slab[j, i])
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    half = sp.coo_matrix((v, (r, c)), shape=(n, n))
    adjacency = (half + half.T).tocsr()
    adjacency.sum_duplicates()
    nodes = pd.DataFrame({
        "node": np.arange(n),
        "tensor": np.repeat(names, channels),
        "channel": np.concatenate([np.arange(k) for k in channels]),
        "is_source": np.repeat([i == 0 for i in range(len(channels))], channels),
    })
    return adjacency, nodes


def save_adjacency(path: str, adjacency: sp.csr_matrix) -> None:
    from n2n.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            sp.save_npz(fh, adjacency)


def run_adjacency(model_path: str, adjacency_path: str, nodes_path: str, weighting: str) -> None:
    from n2n.io import write_parquet
    from n2n.modelfiles import load_model

    model, _ = load_model(model_path)
    adjacency, nodes = channel_graph(model, weighting)
    log.info("channel graph: %d nodes, %d edges (%s weights)", adjacency.shape[0], adjacency.nnz // 2, weighting)
    write_parquet(nodes_path, nodes)
    save_adjacency(adjacency_path, adjacency)


def network_at_init(model: str, dataset: str, method: str, density: float, seed: int, width: float,
                    skips: dict, data_fn=None, pruning: dict | None = None):
    """A cell's network at initialisation with its masks applied (prune and add-skips, no training)."""
    from n2n.masks import apply_masks_, float_masks
    from n2n.models import build_model, make_arch
    from n2n.pruners import prune
    from n2n.skips import add_skips

    arch = make_arch(model, dataset, method, width, skips)
    masks, meta = prune(arch, method, density, seed, float(skips["share"]), data_fn, pruning)
    if arch.skip_kind is not None:
        masks, meta = add_skips(arch, masks, meta, seed)
    net = build_model(arch, seed)
    apply_masks_(net, float_masks(masks, net))
    return net
