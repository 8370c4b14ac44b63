"""Connectivity analysis: scree curves, per-layer heat and the `python -m n2n connectivity` command."""

import subprocess
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp

from n2n.heat import laplacian_spectrum, layer_means, scree


def test_scree_by_hand():
    eig = np.array([0.0, 1.0, 2.0, 3.0])
    frame = scree(eig, np.array([1.0, np.inf]), np.array([0.25, 0.5, 0.75]))
    assert list(frame["t"]) == [1.0] * 3  # t = inf has no scree
    w = np.exp(-np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(frame["alpha"], np.cumsum(w) / w.sum())
    assert list(frame["K"]) == [1, 2, 3]


def test_spectrum_is_exact_and_capped():
    w = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    np.testing.assert_allclose(laplacian_spectrum(w), [0.0, 1.0, 3.0], atol=1e-12)
    assert laplacian_spectrum(w, max_nodes=2) is None


def test_layer_means():
    nodes = pd.DataFrame({"tensor": ["input", "input", "conv1", "conv1", "conv1"]})
    frame = layer_means(np.array([0.5]), np.array([[1.0, 3.0, 0.0, 3.0, 6.0]]), nodes)
    assert list(frame["tensor"]) == ["input", "conv1"] and list(frame["mean_S"]) == [2.0, 3.0]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "n2n", "connectivity", *args], capture_output=True, text=True,
                          timeout=300)


def test_connectivity_command_at_init():
    proc = run_cli("--model", "resnet50", "--pruner", "n2nskip-rp_weights", "--density", "0.02", "--seed", "0",
                   "--width", "0.125", "--dataset", "digits")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()
            if len(line.split()) >= 2 and line.split()[0].replace(".", "").replace("inf", "0").isdigit()]
    assert len(rows) == 16 + 2  # the t grid, t_sat and infinity
    f = {float(t): float(v) for t, v, *_ in rows}
    assert all(v >= 0 for v in f.values()) and f[1.0] > 0.1  # far from the dense reference at t_sat
    assert "<- t_sat" in proc.stdout


def test_connectivity_command_refuses_bad_input():
    proc = run_cli("--model", "vgg19", "--pruner", "rp", "--density", "1.5", "--width", "0.125")
    assert proc.returncode == 2 and "outside (0, 1]" in proc.stderr
    proc = run_cli("--model", "vgg13", "--pruner", "rp", "--density", "0.1")
    assert proc.returncode == 2 and "unknown model 'vgg13'" in proc.stderr
