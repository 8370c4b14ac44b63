"""The heat-signature stage: heat diffusion on the channel graph.

L = D - W (unnormalised, the paper's) or I - D^-1/2 W D^-1/2 (`normalised`); the heat kernel
H(t) = expm(-t L); the signature S(t) = H(t) A, A = 1 on the input channels (heat sources);
F(t) = ||S_reference(t) - S(t)||_2 against the dense network of the same model.

S(t) for a whole grid of t comes from one Lanczos run: the Krylov basis V_m of (L, A) does not
depend on t, so S(t) ~ ||A|| V_m expm(-t T_m) e1 for every t, with T_m tridiagonal and small.
Iteration stops once the a-posteriori error estimate ||A|| b_m |[expm(-t T_m)]_{m,1}| is below
`tol` relative to ||S(t)|| for every t. t = infinity is exact from connected components: the
projection of A onto the null space of L. Dense `eigh` is kept as the reference for small graphs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

LAPLACIANS = ("unnormalised", "normalised")


def t_grid(t_min: float, t_max: float, points: int, t_sat: float | None = None,
           with_infinity: bool = True) -> np.ndarray:
    """Log-spaced t from t_min to t_max, plus t_sat (so Table 3 reads F exactly there) and infinity."""
    ts = np.logspace(np.log10(t_min), np.log10(t_max), points)
    if t_sat is not None:
        ts = np.unique(np.append(ts, t_sat))
    return np.append(ts, np.inf) if with_infinity else ts


def laplacian(adjacency: sp.spmatrix, kind: str = "unnormalised") -> sp.csr_matrix:
    if kind not in LAPLACIANS:
        raise ValueError(f"unknown Laplacian {kind!r}: expected one of {', '.join(LAPLACIANS)}")
    w = sp.csr_matrix(adjacency, dtype=np.float64)
    degree = np.asarray(w.sum(axis=1)).ravel()
    if kind == "unnormalised":
        return (sp.diags(degree) - w).tocsr()
    inv_sqrt = np.zeros_like(degree)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    scale = sp.diags(inv_sqrt)
    return (sp.diags((degree > 0).astype(float)) - scale @ w @ scale).tocsr()  # isolated nodes: a zero row


def stationary_limit(adjacency: sp.spmatrix, sources: np.ndarray, kind: str = "unnormalised") -> np.ndarray:
    """lim_{t->inf} expm(-tL) A: A projected on the null space of L, one vector per connected component."""
    w = sp.csr_matrix(adjacency)
    _, labels = connected_components(w, directed=False)
    degree = np.asarray(w.sum(axis=1)).ravel()
    r = np.ones_like(degree) if kind == "unnormalised" else np.where(degree > 0, np.sqrt(degree), 1.0)
    num = np.bincount(labels, weights=r * sources)
    den = np.bincount(labels, weights=r * r)
    return r * num[labels] / den[labels]


def lanczos_heat(lap: sp.csr_matrix, sources: np.ndarray, ts: np.ndarray, tol: float = 1e-10,
                 max_iter: int = 1000, check_every: int = 10) -> tuple[np.ndarray, int]:
    """expm(-t L) A for every finite t in `ts` from one Lanczos run; returns (S [len(ts), n], iterations)."""
    beta0 = float(np.linalg.norm(sources))
    n = len(sources)
    if beta0 == 0:
        return np.zeros((len(ts), n)), 0
    max_iter = min(max_iter, n)
    basis = np.empty((min(max_iter, 4 * check_every), n))  # rows: Lanczos vectors; grown on demand
    basis[0] = sources / beta0
    alphas: list[float] = []
    betas: list[float] = []
    coeffs = np.zeros((len(ts), 1))
    for j in range(max_iter):
        v = basis[j]
        w = lap @ v
        alpha = float(v @ w)
        w -= alpha * v
        if j > 0:
            w -= betas[-1] * basis[j - 1]
        block = basis[: j + 1]
        w -= (block @ w) @ block  # full reorthogonalisation keeps T_m exact for these m
        b = float(np.linalg.norm(w))
        alphas.append(alpha)
        m = j + 1
        invariant = b <= 1e-13 * max(1.0, abs(alpha))
        if invariant or m % check_every == 0 or m == max_iter:
            theta, q = la.eigh_tridiagonal(np.array(alphas), np.array(betas))
            decay = np.exp(-np.outer(ts, theta))  # [T, m]
            coeffs = (decay * q[0]) @ q.T  # rows: expm(-t T_m) e1
            if invariant:
                break
            err = b * np.abs(coeffs[:, -1])
            size = np.linalg.norm(coeffs, axis=1)
            if np.all(err <= tol * np.maximum(size, 1e-300)):
                break
        if m == max_iter:
            log.warning("Lanczos stopped at %d iterations before reaching tol %.1e", max_iter, tol)
            break
        if m == len(basis):
            basis = np.concatenate([basis, np.empty((min(len(basis), max_iter - m), n))])
        betas.append(b)
        basis[m] = w / b
    return beta0 * coeffs @ basis[: len(alphas)], len(alphas)


def heat_signature(adjacency: sp.spmatrix, sources: np.ndarray, ts: np.ndarray, kind: str = "unnormalised",
                   tol: float = 1e-10) -> np.ndarray:
    """S(t) = expm(-t L) A for every t of `ts` (t = inf allowed): array [len(ts), n]."""
    ts = np.asarray(ts, dtype=float)
    finite = np.isfinite(ts)
    out = np.empty((len(ts), adjacency.shape[0]))
    if finite.any():
        out[finite], iters = lanczos_heat(laplacian(adjacency, kind), sources.astype(float), ts[finite], tol)
        log.info("Lanczos: %d iterations for %d values of t", iters, int(finite.sum()))
    if (~finite).any():
        out[~finite] = stationary_limit(adjacency, sources.astype(float), kind)
    return out


def heat_signature_dense(adjacency: sp.spmatrix, sources: np.ndarray, ts: np.ndarray,
                         kind: str = "unnormalised") -> np.ndarray:
    """Reference: dense eigendecomposition of L (O(n^3); small graphs and tests only)."""
    lam, u = np.linalg.eigh(laplacian(adjacency, kind).toarray())
    proj = u.T @ sources
    out = []
    for t in ts:
        out.append(u @ (np.exp(-t * lam) * proj) if np.isfinite(t) else stationary_limit(adjacency, sources, kind))
    return np.array(out)


def distance(reference: np.ndarray, signature: np.ndarray) -> np.ndarray:
    """F(t) = ||S_ref(t) - S(t)||_2 per t."""
    return np.linalg.norm(reference - signature, axis=1)


def signature_frame(ts: np.ndarray, signature: np.ndarray) -> pd.DataFrame:
    n = signature.shape[1]
    return pd.DataFrame({"t": np.repeat(ts, n), "node": np.tile(np.arange(n), len(ts)), "S": signature.ravel()})


def frame_signature(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    table = frame.pivot(index="t", columns="node", values="S").sort_index()
    return table.index.to_numpy(), table.to_numpy()


def layer_means(ts: np.ndarray, signature: np.ndarray, nodes: pd.DataFrame) -> pd.DataFrame:
    """Mean S(t) over the channels of each activation tensor ("heat signature per layer")."""
    codes, tensors = pd.factorize(nodes["tensor"], sort=False)
    counts = np.bincount(codes)
    rows = [pd.DataFrame({"t": t, "layer": np.arange(len(tensors)), "tensor": tensors,
                          "mean_S": np.bincount(codes, weights=s) / counts}) for t, s in zip(ts, signature)]
    return pd.concat(rows, ignore_index=True)


def run_heat_signature(adjacency_path: str, nodes_path: str, heat_path: str, distance_path: str,
                       layers_path: str, scree_path: str, reference_heat_path: str | None,
                       connectivity: dict) -> None:
    """The heat_signature stage: S(t) of one cell, F(t) against its dense reference, per-layer means, scree."""
    from n2n.io import read_parquet, unreadable, write_parquet

    c = connectivity
    try:
        adjacency = sp.load_npz(adjacency_path)
    except (ValueError, OSError) as err:  # a cut or foreign file (not a missing one: Snakemake sees to that)
        raise unreadable(adjacency_path, "adjacency file", err) from None
    nodes = read_parquet(nodes_path)
    sources = nodes["is_source"].to_numpy(dtype=float)
    ts = t_grid(c["t_min"], c["t_max"], c["t_points"], c["t_sat"])
    signature = heat_signature(adjacency, sources, ts, c["laplacian"], c["tol"])
    if reference_heat_path is None:
        f = np.zeros(len(ts))
    else:
        ref_ts, ref = frame_signature(read_parquet(reference_heat_path))
        if ref.shape != signature.shape or not np.allclose(np.sort(ts), ref_ts):
            raise ValueError(f"{reference_heat_path} was computed on another graph or t grid; rerun its heat_signature")
        order = np.argsort(ts)
        f = np.empty(len(ts))
        f[order] = distance(ref, signature[order])
    spectrum = laplacian_spectrum(adjacency, c["laplacian"], c["scree_max_nodes"])
    if spectrum is None:
        log.warning("scree skipped: %d nodes > scree_max_nodes = %d", adjacency.shape[0], c["scree_max_nodes"])
        scree_frame = pd.DataFrame({"t": [], "fraction": [], "K": [], "alpha": []})
    else:
        scree_frame = scree(spectrum, ts, np.linspace(0.0, c["scree_max_fraction"], 21)[1:])
    write_parquet(heat_path, signature_frame(ts, signature))
    write_parquet(distance_path, pd.DataFrame({"t": ts, "F": f}))
    write_parquet(layers_path, layer_means(ts, signature, nodes))
    write_parquet(scree_path, scree_frame)


def laplacian_spectrum(adjacency: sp.spmatrix, kind: str = "unnormalised",
                       max_nodes: int = 25000) -> np.ndarray | None:
    """All eigenvalues of L, ascending, exactly (LAPACK's divide and conquer, eigenvalues only); None
    above `max_nodes`.

    It works in place in one n x n float64 array: L is symmetric, so its C-ordered array read in
    Fortran order is L itself and LAPACK makes no copy: 8 n^2 bytes (4.1 GB for ResNet50's 22,733
    nodes), O(n^3) time (benchmarks/scree_full_size.py measures it).
    """
    if adjacency.shape[0] > max_nodes:
        return None
    dense = laplacian(adjacency, kind).toarray()
    return np.sort(la.eigvalsh(dense.T, overwrite_a=True, check_finite=False, driver="evd"))


def scree(eigenvalues: np.ndarray, ts: np.ndarray, fractions: np.ndarray) -> pd.DataFrame:
    """alpha(K, t) = sum_{k=2}^{K+1} exp(-t l_k) / sum_{k=2}^{n} exp(-t l_k) (paper's Figure 4).

    K = fraction x n; eigenvalues ascending, the first (always 0) left out as in the paper.
    """
    lam = np.sort(eigenvalues)[1:]
    rows = []
    for t in ts[np.isfinite(ts)]:
        weights = np.exp(-t * (lam - lam[0]))  # shift for range; the ratio is unchanged
        cumulative = np.minimum(np.cumsum(weights) / weights.sum(), 1.0)  # round-off can pass 1
        for fraction in fractions:
            k = max(1, int(round(fraction * len(eigenvalues))))
            rows.append({"t": t, "fraction": fraction, "K": k, "alpha": cumulative[min(k, len(lam)) - 1]})
    return pd.DataFrame(rows)
